"""One training job recorded in MLflow: names, values, artifacts, and its end states."""

import io
import shutil
import signal
import subprocess

import numpy as np
import pandas as pd
import pytest
from helpers import EXPLODING, ROOT, train_cfg

from gradlab import names
from gradlab.errors import ConfigError
from gradlab.jobs import signals
from gradlab.jobs import train as experiment
from gradlab.track.client import client_for
from gradlab.track.params import config_hash, flatten
from gradlab.track.record import SweepContext


@pytest.fixture(scope="module")
def store(tmp_path_factory, migrated_db):
    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    shutil.copyfile(migrated_db, db)
    return f"sqlite:///{db}"


def head_commit(root):
    """HEAD of the checkout at ``root`` as ``git log`` shows it; None outside a checkout."""
    out = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%H"], capture_output=True, text=True
    )
    return out.stdout.strip() if out.returncode == 0 else None


def cfg_for(store, **overrides):
    base = {"mlflow.tracking_uri": store, "train.epochs": 1, "model.depth": 3,
            "train.log_every": 50}  # fmt: skip
    return train_cfg(**{**base, **overrides})


def all_runs(store):
    client = client_for(store)
    exps = client.search_experiments()
    return client.search_runs([e.experiment_id for e in exps]) if exps else []


def artifact_text(client, run_id, name):
    path = client.download_artifacts(run_id, name)
    with open(path) as f:
        return f.read()


def test_run_records_everything(store):
    cfg = cfg_for(store)
    out = experiment.run(cfg, ROOT)
    assert out["status"] == "FINISHED"
    client = client_for(store)
    r = client.get_run(out["run_id"])
    assert r.info.status == "FINISHED"
    assert r.info.run_name == "sigmoid-d3-lecun_normal-s0"
    assert r.data.params == {k: str(v) for k, v in flatten(cfg).items()}
    assert r.data.tags[names.TAG_CONFIG_HASH] == config_hash(cfg)
    assert r.data.tags[names.TAG_STATUS] == names.STATUS_OK
    assert r.data.tags[names.TAG_VERSION]
    # a checkout names its commit; a source tarball has none to name
    assert r.data.tags.get(names.TAG_GIT_COMMIT) == head_commit(ROOT)
    key, value = names.EXPERIMENT_KIND_TAG  # opens in MLflow's "Model training" view
    assert client.get_experiment(r.info.experiment_id).tags[key] == value

    history = pd.read_csv(io.StringIO(artifact_text(client, out["run_id"], names.ARTIFACT_HISTORY)))
    assert list(history.columns) == list(names.HISTORY_COLUMNS)
    L = 4
    steps = sorted(history["step"].unique())
    assert len(history) == len(steps) * L
    # every per-layer metric holds exactly the history's values, step by step, where one
    # was measured (update_ratio is NaN at step 0, before any update, and not logged)
    for q in names.PER_LAYER_QUANTITIES:
        for layer in range(1, L + 1):
            hist = client.get_metric_history(out["run_id"], names.layer_metric(q, layer))
            logged = {m.step: m.value for m in hist}
            rows = history[history.layer == layer].set_index("step")[q]
            expected = rows[rows.notna()].to_dict()
            assert logged.keys() == expected.keys()
            np.testing.assert_allclose(
                list(logged.values()), [expected[s] for s in logged], rtol=1e-12
            )
    # the profile's x axis is the layer: one point per layer, equal to the init rows
    prof = client.get_metric_history(out["run_id"], "profile_init/grad_b_norm")
    assert sorted(m.step for m in prof) == list(range(1, L + 1))
    init = history[history.phase == names.PHASE_INIT].set_index("layer")["grad_b_norm"]
    np.testing.assert_allclose(
        [m.value for m in sorted(prof, key=lambda m: m.step)], init.to_numpy(), rtol=1e-12
    )
    final = client.get_metric_history(out["run_id"], "profile_final/bound")
    assert len(final) == L
    for key in names.SUMMARY_METRICS:
        assert key in r.data.metrics
    assert r.data.metrics[names.VANISH_RATIO] == pytest.approx(init.iloc[0] / init.iloc[-1])
    assert "model:" in artifact_text(client, out["run_id"], names.ARTIFACT_CONFIG)
    png = client.download_artifacts(out["run_id"], names.ARTIFACT_FIGURE)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_outside_a_git_checkout_the_run_has_no_commit_tag(store, tmp_path, monkeypatch):
    # a source tarball unpacked here: git must not find a repository above tmp_path
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    out = experiment.run(cfg_for(store, seed=4), tmp_path)
    r = client_for(store).get_run(out["run_id"])
    assert r.info.status == "FINISHED"
    assert names.TAG_GIT_COMMIT not in r.data.tags


def test_finished_point_is_skipped_unless_forced(store):
    cfg = cfg_for(store, seed=5)
    first = experiment.run(cfg, ROOT)
    again = experiment.run(cfg, ROOT)
    assert again["status"] == "SKIPPED" and again["run_id"] == first["run_id"]
    forced = experiment.run({**cfg, "force": True}, ROOT)
    assert forced["status"] == "FINISHED" and forced["run_id"] != first["run_id"]


def test_a_point_shared_by_two_sweeps_is_recorded_in_each(store):
    cfg = cfg_for(store, seed=6)
    client = client_for(store)
    exp_id = client.get_experiment_by_name("gradlab").experiment_id

    def sweep(name):
        parent = client.create_run(exp_id, run_name=name, tags={names.TAG_KIND: "sweep"})
        return SweepContext(parent.info.run_id, name)

    a, b = sweep("sweep-a"), sweep("sweep-b")
    in_a = experiment.run(cfg, ROOT, a)
    in_b = experiment.run(cfg, ROOT, b)  # another sweep: its own child, not a skip
    assert in_b["status"] == "FINISHED" and in_b["run_id"] != in_a["run_id"]
    again_b = experiment.run(cfg, ROOT, b)  # the same sweep again: resume skips it
    assert again_b["status"] == "SKIPPED" and again_b["run_id"] == in_b["run_id"]


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ({"model.activation": "sigmod"}, r"model\.activation='sigmod' is not allowed"),
        ({"model.depth": 0}, r"model\.depth=0 is not allowed; it must be an integer >= 1"),
        ({"model.width": 0}, r"model\.width=0"),
        ({"train.lr": 0}, r"train\.lr=0 is not allowed; it must be a number > 0"),
        ({"train.batch_size": 0}, r"train\.batch_size=0"),
        ({"train.batch_size": 5000}, r"train\.batch_size=5000 is not allowed; it must be <= 1438"),
        ({"train.epochs": -1}, r"train\.epochs=-1"),
        ({"model.gain": -1}, r"model\.gain=-1"),
        ({"model.bias_std": -0.5}, r"model\.bias_std=-0\.5"),
        ({"model.dtype": "float16"}, r"model\.dtype='float16' is not allowed; choose one of"),
        ({"model.init": "glorot"}, r"model\.init='glorot'"),
        ({"train.cost": "hinge"}, r"train\.cost='hinge'"),
        ({"data.name": "mnist"}, r"data\.name='mnist'"),
        ({"model.depth": "abc"}, r"model\.depth='abc' is not allowed; it must be an integer"),
        (
            {"model.output_activation": "tanh"},
            r"model\.output_activation='tanh' is not allowed "
            r"with train\.cost='cross_entropy'",
        ),
    ],
)
def test_bad_config_fails_before_any_run_exists(store, override, pattern):
    before = len(all_runs(store))
    with pytest.raises(ConfigError, match=pattern):
        experiment.run(cfg_for(store, **override), ROOT)
    assert len(all_runs(store)) == before


def test_interrupt_marks_run_killed_and_keeps_what_was_logged(store, monkeypatch):
    real_train = experiment.train

    def train_then_interrupt(spec, data, rng, on_measure, on_epoch):
        calls = []

        def measure(m):
            on_measure(m)
            calls.append(m)
            if len(calls) == 2:
                raise KeyboardInterrupt

        return real_train(spec, data, rng, measure, on_epoch)

    monkeypatch.setattr(experiment, "train", train_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        experiment.run(cfg_for(store, seed=7), ROOT)
    (r,) = [r for r in all_runs(store) if r.data.params.get("seed") == "7"]
    assert r.info.status == "KILLED"
    hist = client_for(store).get_metric_history(r.info.run_id, names.layer_metric("bound", 1))
    assert sorted(m.step for m in hist) == [0, 50]  # both logged steps survived


def test_a_resumed_sweep_reruns_its_killed_point_once(store, monkeypatch):
    cfg = cfg_for(store, seed=9)
    client = client_for(store)
    exp_id = client.get_experiment_by_name("gradlab").experiment_id
    parent = client.create_run(exp_id, run_name="sweep-r", tags={names.TAG_KIND: "sweep"})
    sweep = SweepContext(parent.info.run_id, "sweep-r")
    real_train = experiment.train

    def interrupted(spec, data, rng, on_measure, on_epoch):
        raise KeyboardInterrupt  # Ctrl-C before the first step

    monkeypatch.setattr(experiment, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        experiment.run(cfg, ROOT, sweep)
    monkeypatch.setattr(experiment, "train", real_train)
    resumed = experiment.run(cfg, ROOT, sweep)  # the same point of the same sweep
    again = experiment.run(cfg, ROOT, sweep)
    assert resumed["status"] == "FINISHED"
    assert again["status"] == "SKIPPED" and again["run_id"] == resumed["run_id"]
    runs = [r for r in all_runs(store) if r.data.params.get("seed") == "9"]
    assert sorted(r.info.status for r in runs) == ["FINISHED", "KILLED"]


def test_a_signal_swallowed_by_a_finaliser_still_stops_the_run(store, monkeypatch):
    # A handler's KeyboardInterrupt raised inside e.g. a weakref callback is printed and
    # dropped by Python; the run must notice the signal at its next logged step anyway.
    real_train = experiment.train

    def train_with_swallowed_signal(spec, data, rng, on_measure, on_epoch):
        def measure(m):
            if m.step == 0:
                try:
                    signals.interrupt_handler(signal.SIGTERM, None)
                except KeyboardInterrupt:
                    pass  # what a finaliser does with it
            on_measure(m)

        return real_train(spec, data, rng, measure, on_epoch)

    monkeypatch.setattr(experiment, "train", train_with_swallowed_signal)
    with pytest.raises(KeyboardInterrupt):
        experiment.run(cfg_for(store, seed=8), ROOT)
    (r,) = [r for r in all_runs(store) if r.data.params.get("seed") == "8"]
    assert r.info.status == "KILLED"


@pytest.mark.parametrize("signalled", [True, False])
def test_an_error_after_a_signal_counts_as_the_signal(store, monkeypatch, signalled):
    # numba's dispatcher turns a KeyboardInterrupt raised during a compiled call into a
    # SystemError; after a SIGTERM such an error is the signal (KILLED), and without
    # one the same error is a failure (FAILED)
    real_train = experiment.train
    seed = 11 if signalled else 12

    def train_with_wrapped_signal(spec, data, rng, on_measure, on_epoch):
        def measure(m):
            on_measure(m)
            try:
                if signalled:
                    signal.raise_signal(signal.SIGTERM)  # gradlab's handler raises
                raise KeyboardInterrupt
            except KeyboardInterrupt as err:
                raise SystemError("returned a result with an exception set") from err

        return real_train(spec, data, rng, measure, on_epoch)

    monkeypatch.setattr(experiment, "train", train_with_wrapped_signal)
    with pytest.raises(KeyboardInterrupt if signalled else SystemError):
        experiment.run(cfg_for(store, seed=seed), ROOT)
    (r,) = [r for r in all_runs(store) if r.data.params.get("seed") == str(seed)]
    assert r.info.status == ("KILLED" if signalled else "FAILED")


def test_divergence_is_a_finished_run_tagged_diverged(store):
    cfg = cfg_for(
        store,
        **EXPLODING,
    )
    out = experiment.run(cfg, ROOT)
    r = client_for(store).get_run(out["run_id"])
    assert r.info.status == "FINISHED"
    assert r.data.tags[names.TAG_STATUS] == names.STATUS_DIVERGED
    assert r.data.metrics[names.DIVERGED] == 1.0
    assert r.data.metrics[names.DIVERGED_STEP] == 1
    assert 1 <= r.data.metrics[names.DIVERGED_LAYER] <= 21
    assert not client_for(store).get_metric_history(out["run_id"], "profile_final/grad_b_norm")
