"""Recurrent runs through the training config: schema per model kind, the sequence loop
(optimisers, clipping, summaries), MLflow metrics per time step, the command line."""

import itertools

import numpy as np
import pytest
from helpers import CONF, train_cfg, train_py

from gradlab import names
from gradlab.data.sequences import ADDING_CHANCE_MSE
from gradlab.errors import ConfigError
from gradlab.jobs.cli import check_override_keys
from gradlab.schema import check_keys
from gradlab.track.client import client_for
from gradlab.training.sequence_loop import build_recurrent, prepare_sequence, train_sequence
from gradlab.training.sequence_spec import sequence_spec, train_schema, train_spec

SEQ_DATA = ("adding", "recall", "digits_seq")


def cfg(model="rnn", data="adding", **overrides):
    return train_cfg(model=model, data=data, **overrides)


def flat_keys(node, prefix=""):
    out = set()
    for k, v in node.items():
        key = f"{prefix}{k}"
        out |= flat_keys(v, key + ".") if isinstance(v, dict) else {key}
    return out


@pytest.mark.parametrize(("model", "data"), list(itertools.product(("rnn", "lstm"), SEQ_DATA)))
def test_schema_of_each_choice_has_exactly_its_composed_keys(model, data):
    c = cfg(model, data)
    keys = flat_keys({k: v for k, v in c.items() if k != "hydra"})
    assert keys == set(train_schema(c)), keys ^ set(train_schema(c))
    assert train_spec(c).kind == model


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model": "rnn", "data": "digits"},
         "data.name='digits' is not allowed with model.kind='rnn'; choose one of: adding, "
         "recall, digits_seq (data=adding, recall or digits_seq)"),
        ({"model": "lstm", "data": "adding", "model.spectral_radius": 0.9},
         "model.spectral_radius=0.9 is not allowed; model has no key 'spectral_radius'"),
        ({"model": "rnn", "data": "adding", "model.spectral_radius": -1},
         "model.spectral_radius=-1"),
        ({"model": "rnn", "data": "recall", "train.cost": "quadratic_typo"},
         "train.cost='quadratic_typo' is not allowed"),
    ],
)  # fmt: skip
def test_bad_recurrent_configs_name_key_and_value(overrides, message):
    model, data = overrides.pop("model"), overrides.pop("data")
    c = cfg(model, data)
    for key, value in overrides.items():
        group, leaf = key.split(".")
        c[group][leaf] = value
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        sequence_spec(c)


def test_cost_follows_the_task():
    assert sequence_spec(cfg("rnn", "adding")).cost == "quadratic"  # a regression, always
    assert sequence_spec(cfg("rnn", "recall")).cost == "softmax_cross_entropy"
    q = cfg("lstm", "digits_seq", **{"train.cost": "quadratic"})
    assert sequence_spec(q).cost == "quadratic"


def test_command_line_keys_are_checked_against_the_chosen_groups():
    check_override_keys(["-m", "model=rnn", "model.spectral_radius=0.5,1.5", "data=adding",
                         "data.length=10,50"], CONF, "train")  # fmt: skip
    check_override_keys(["-m", "model=rnn,lstm", "model.forget_bias=2"], CONF, "train")
    with pytest.raises(ConfigError, match=r"^model.spectral_radius=0.5 is not allowed"):
        check_override_keys(["model.spectral_radius=0.5"], CONF, "train")  # default: mlp
    with pytest.raises(ConfigError, match=r"^data.length=5 is not allowed"):
        check_override_keys(["model=rnn", "data.length=5"], CONF, "train")  # data: digits
    with pytest.raises(ValueError, match="no key 'depth'"):
        check_keys({"model": {"kind": "rnn", "depth": 2}}, train_schema(cfg()))


def small(model="rnn", data="adding", **overrides):
    base = {"data.n_samples": 120, "data.length": 8, "train.batch_size": 20, "train.epochs": 2,
            "train.log_every": 4, "train.probe_size": 40, "model.hidden": 8}  # fmt: skip
    if data == "digits_seq":
        base = {k: v for k, v in base.items() if k not in ("data.n_samples", "data.length")}
    return prepare_sequence(cfg(model, data, **{**base, **overrides}))


def test_history_and_step_log_shapes():
    spec, rng, data = small()
    result = train_sequence(spec, data, rng)
    per_epoch = -(-120 // 20)  # n_samples training sequences; the test set is a fresh draw
    assert result.steps == 2 * per_epoch
    h = result.history
    assert list(h.columns) == list(names.TIME_HISTORY_COLUMNS)
    logged = [0, 4, 8, 2 * per_epoch]
    assert sorted(h["step"].unique()) == logged
    assert len(h) == len(logged) * data.length
    assert list(result.steps_frame["step"]) == list(range(1, result.steps + 1))


def test_summary_follows_its_definitions():
    spec, rng, data = small(**{"train.epochs": 0})
    result = train_sequence(spec, data, rng)
    # the same seed draws the same data and then the same network: an independent rebuild
    spec2, rng2, data2 = small(**{"train.epochs": 0})
    net = build_recurrent(spec2, data2, rng2)
    mse = np.mean((net.feedforward(data2.x_test) - data2.y_test) ** 2)
    s = result.summary()
    assert s[names.TEST_MSE] == pytest.approx(mse, rel=1e-12)
    assert s[names.MSE_RATIO] == pytest.approx(mse / ADDING_CHANCE_MSE, rel=1e-12)
    d = result.init.table["delta_rms"].to_numpy()
    assert s[names.TIME_VANISH_RATIO] == pytest.approx(d[0] / d[-1])
    assert s[names.DECAY_PER_STEP] == pytest.approx((d[0] / d[-1]) ** (1 / (len(d) - 1)))
    norm = np.linalg.norm(net.params["W_hh"], 2)
    assert s[names.W_HH_SPECTRAL_NORM] == pytest.approx(norm, rel=1e-9)
    assert s[names.BOUND_PER_STEP] == pytest.approx(norm)  # tanh: sup|φ′| = 1


def test_linear_rnn_decays_exactly_as_rho_per_step():
    linear = {"model.activation": "linear", "model.spectral_radius": 0.7}
    spec, rng, data = small(**{"train.epochs": 0, "model.init": "orthogonal", **linear})
    s = train_sequence(spec, data, rng).summary()
    assert s[names.DECAY_PER_STEP] == pytest.approx(0.7, rel=1e-10)
    assert s[names.BOUND_PER_STEP] == pytest.approx(0.7, rel=1e-10)


def test_clipping_bounds_every_update_and_counts_the_clipped_steps():
    over = {"train.lr": 0.1, "model.spectral_radius": 3.0, "train.clip_norm": 3.0}
    spec, rng, data = small(**over)
    result = train_sequence(spec, data, rng)
    norms = result.steps_frame[names.GRAD_NORM].to_numpy()
    clipped = result.steps_frame[names.CLIPPED].to_numpy()
    np.testing.assert_array_equal(clipped, (norms > 3.0).astype(int))
    assert result.summary()[names.CLIPPED_FRAC] == pytest.approx(clipped.mean())
    assert 0 < clipped.sum() < len(clipped)  # both kinds of step occur


def test_recorded_gradient_norm_is_the_pre_clip_norm_of_the_batch():
    # one full-batch step: the recorded norm is ‖∇θ‖₂ of the network as initialised
    spec, rng, data = small(**{"train.clip_norm": 1e-3, "train.epochs": 1,
                               "train.batch_size": 120})  # fmt: skip
    state = rng.bit_generator.state
    result = train_sequence(spec, data, rng)
    rng.bit_generator.state = state
    net0 = build_recurrent(spec, data, rng)  # the network train_sequence started from
    grads = net0.backprop(data.x_train, data.y_train, "quadratic").grads
    norm = np.sqrt(sum(np.vdot(g, g) for g in grads.values()))
    assert result.steps == 1
    assert result.step_log[0][2] == pytest.approx(norm, rel=1e-10)
    assert result.step_log[0][3] == 1  # far above 1e-3


@pytest.mark.parametrize(("model", "data"), [("lstm", "recall"), ("rnn", "digits_seq")])
def test_classification_tasks_train_and_report_accuracy(model, data):
    spec, rng, d = small(model, data, **{"train.optimizer": "adam", "train.lr": 0.01})
    s = train_sequence(spec, d, rng).summary()
    assert 0.0 <= s[names.TEST_ACCURACY] <= 1.0 and names.TEST_MSE not in s


def test_the_issues_sweep_runs_and_logs_profiles_per_time_step(tmp_path, store_at):
    fresh_store = store_at(tmp_path / "store")  # a migrated, empty store
    sweep = ["-m", "model=rnn", "model.spectral_radius=0.5,1.5", "data=adding", "data.length=5,9"]
    small_run = ["train.epochs=1", "data.n_samples=40", "train.probe_size=20", "model.hidden=4"]
    p = train_py(*sweep, *small_run, f"mlflow.tracking_uri={fresh_store}", tmp_path=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    client = client_for(fresh_store)
    exp = client.get_experiment_by_name("gradlab")
    runs = client.search_runs([exp.experiment_id], f"tags.{names.TAG_KIND} = 'train'")
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    for r in runs:
        T = int(r.data.params["data.length"])
        hist = client.get_metric_history(r.info.run_id, "profile_init/delta_rms")
        assert sorted(m.step for m in hist) == list(range(1, T + 1))
        assert names.CLIPPED_FRAC in r.data.metrics and names.MSE_RATIO in r.data.metrics
        files = {f.path for f in client.list_artifacts(r.info.run_id)}
        assert {names.ARTIFACT_TIME_HISTORY, names.ARTIFACT_STEPS,
                names.ARTIFACT_TIME_FIGURE} <= files  # fmt: skip
