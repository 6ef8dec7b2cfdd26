"""Each initialisation's moments against its formula; orthogonality; seeding."""

import numpy as np
import pytest

import gradlab
from gradlab.engine.init import weight_variance

FAN_OUT, FAN_IN = 300, 500


@pytest.mark.parametrize("init", sorted(gradlab.INITS))
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_moments_match_formula(init, gain):
    rng = np.random.default_rng(0)
    (w,) = gradlab.init_weights(rng, [FAN_IN, FAN_OUT], init, gain)
    assert w.shape == (FAN_OUT, FAN_IN)
    # independent expectations, written out from the papers
    expected = {
        "normal": 1.0,
        "lecun_normal": 1.0 / FAN_IN,
        "xavier_normal": 2.0 / (FAN_IN + FAN_OUT),
        "xavier_uniform": (np.sqrt(6.0 / (FAN_IN + FAN_OUT))) ** 2 / 3,
        "he_normal": 2.0 / FAN_IN,
        "he_uniform": (np.sqrt(6.0 / FAN_IN)) ** 2 / 3,
        "orthogonal": 1.0 / FAN_IN,  # rows orthonormal: each row has unit norm
    }[init] * gain**2
    assert abs(w.mean()) < 0.02 * np.sqrt(expected)
    assert w.var() == pytest.approx(expected, rel=0.03)
    assert weight_variance(init, FAN_IN, FAN_OUT, gain) == pytest.approx(expected, rel=1e-12)


def test_uniform_schemes_respect_their_limit():
    rng = np.random.default_rng(1)
    (w,) = gradlab.init_weights(rng, [FAN_IN, FAN_OUT], "he_uniform")
    assert np.abs(w).max() <= np.sqrt(6.0 / FAN_IN)


@pytest.mark.parametrize("shape", [(7, 7), (4, 9), (9, 4)])
def test_orthogonal_rows_or_columns(shape):
    rng = np.random.default_rng(2)
    (w,) = gradlab.init_weights(rng, [shape[1], shape[0]], "orthogonal", gain=1.0)
    small = min(shape)
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_orthogonal_with_ensemble_axis():
    rng = np.random.default_rng(3)
    (w,) = gradlab.init_weights(rng, [6, 6], "orthogonal", gain=2.0, ensemble=(5,))
    assert w.shape == (5, 6, 6)
    for m in w:
        np.testing.assert_allclose(m @ m.T, 4.0 * np.eye(6), atol=1e-12)


def test_biases():
    rng = np.random.default_rng(4)
    b = gradlab.init_biases(rng, [3, 20000], bias_std=0.5)[0]
    assert b.std() == pytest.approx(0.5, rel=0.03)
    assert not gradlab.init_biases(rng, [3, 5], bias_std=0.0)[0].any()


def test_same_seed_same_arrays():
    a = gradlab.MLP([5, 7, 3], "tanh", init="he_uniform", bias_std=0.1, seed=11)
    b = gradlab.MLP([5, 7, 3], "tanh", init="he_uniform", bias_std=0.1, seed=11)
    c = gradlab.MLP([5, 7, 3], "tanh", init="he_uniform", bias_std=0.1, seed=12)
    for wa, wb, wc in zip(
        a.weights + a.biases, b.weights + b.biases, c.weights + c.biases, strict=True
    ):
        np.testing.assert_array_equal(wa, wb)
        assert not np.array_equal(wa, wc)


def test_dtype():
    net = gradlab.MLP([3, 4, 2], seed=0, dtype="float32")
    assert all(w.dtype == np.float32 for w in net.weights + net.biases)
    assert gradlab.MLP([3, 4, 2], seed=0).weights[0].dtype == np.float64
