"""The training loop: history, summaries, divergence as data, reproducibility."""

import numpy as np
import pytest
from helpers import EXPLODING, train_cfg

from gradlab import names
from gradlab.data import load_dataset
from gradlab.track.params import config_hash, flatten
from gradlab.training.loop import train
from gradlab.training.spec import run_spec


def run_train(**overrides):
    spec = run_spec(train_cfg(**overrides))
    rng = np.random.default_rng(spec.seed)
    data = load_dataset(spec.data_name, rng, test_fraction=spec.test_fraction)
    return spec, data, train(spec, data, rng)


def test_history_has_one_row_per_layer_per_logged_step():
    spec, data, result = run_train(**{"train.epochs": 1, "train.log_every": 30, "model.depth": 3})
    steps = -(-data.x_train.shape[0] // spec.batch_size)  # ceil(n / batch)
    logged = [0, *range(30, steps, 30), steps]
    h = result.history
    assert list(h.columns) == list(names.HISTORY_COLUMNS)
    assert sorted(h["step"].unique()) == logged
    assert len(h) == len(logged) * (spec.depth + 1)
    assert set(h.loc[h.step == 0, "phase"]) == {names.PHASE_INIT}
    assert set(h.loc[h.step == steps, "phase"]) == {names.PHASE_FINAL}


def test_summary_metrics_follow_their_definitions():
    _, _, result = run_train(**{"train.epochs": 1, "model.depth": 4})
    s = result.summary()
    g = result.init.table["grad_b_norm"].to_numpy()
    assert s[names.VANISH_RATIO] == pytest.approx(g[0] / g[-1])
    ratios = g[:-1] / g[1:]  # ‖∇b^l‖ / ‖∇b^{l+1}‖
    assert s[names.DECAY_PER_LAYER] == pytest.approx(np.exp(np.mean(np.log(ratios))))
    assert s[names.DIVERGED] == 0.0
    assert 0.0 <= s[names.TEST_ACCURACY] <= 1.0


def test_training_learns_digits():
    _, _, result = run_train(**{"model.depth": 1, "train.epochs": 3, "train.lr": 0.5})
    assert result.summary()[names.TEST_ACCURACY] > 0.8  # chance is 0.1


def test_exploding_run_is_recorded_not_raised():
    _, _, result = run_train(**EXPLODING)  # see conftest.EXPLODING
    assert result.diverged
    assert result.diverged_step == 1 and 1 <= result.diverged_layer <= 21
    assert result.diverged_where == "forward"
    s = result.summary()
    assert s[names.DIVERGED] == 1.0 and s[names.DIVERGED_STEP] == 1
    assert result.final is None  # nothing is claimed about a state after divergence


def test_same_seed_same_numbers_different_seed_different():
    _, _, a = run_train(**{"train.epochs": 1})
    _, _, b = run_train(**{"train.epochs": 1})
    _, _, c = run_train(**{"train.epochs": 1, "seed": 1})
    cols = ["grad_b_norm", "bound", "act_mean"]
    np.testing.assert_array_equal(a.history[cols].to_numpy(), b.history[cols].to_numpy())
    assert not np.array_equal(a.history[cols].to_numpy(), c.history[cols].to_numpy())


def test_config_hash_ignores_runtime_keys_only():
    base = train_cfg()
    assert config_hash(base) == config_hash(
        train_cfg(**{"mlflow.tracking_uri": "http://x", "runtime.blas_threads": 1})
    )
    assert config_hash(base) != config_hash(train_cfg(**{"model.depth": 6}))
    assert flatten(base)["model.depth"] == 5
