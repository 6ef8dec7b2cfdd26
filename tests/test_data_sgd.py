"""Data sets and the SGD update."""

import numpy as np
import pytest

import gradlab
from gradlab.training.sgd import all_finite, first_nonfinite_layer, minibatches, sgd_update


def test_digits():
    d = gradlab.load_dataset("digits", np.random.default_rng(0), test_fraction=0.2)
    assert d.x_train.shape[1] == 64 and d.n_outputs == 10
    assert d.x_train.shape[0] + d.x_test.shape[0] == 1797
    assert d.x_test.shape[0] == round(0.2 * 1797)
    assert d.x_train.min() >= 0 and d.x_train.max() <= 1
    np.testing.assert_array_equal(d.y_train.sum(1), 1)
    d2 = gradlab.load_dataset("digits", np.random.default_rng(0))
    np.testing.assert_array_equal(d.x_train, d2.x_train)


def test_gaussian_sizes():
    d = gradlab.load_dataset(
        "gaussian",
        np.random.default_rng(0),
        n_samples=50,
        n_inputs=7,
        n_outputs=3,
        test_fraction=0.0,
    )
    assert d.x_train.shape == (50, 7) and d.y_train.shape == (50, 3)
    with pytest.raises(ValueError, match=r"data\.name='mnist' is not allowed"):
        gradlab.load_dataset("mnist", np.random.default_rng(0))


def test_minibatches_cover_every_sample_once():
    idx = np.concatenate(list(minibatches(np.random.default_rng(0), 23, 5)))
    assert sorted(idx) == list(range(23))


def test_sgd_update_matches_hand_formula():
    net = gradlab.MLP([2, 3, 1], "tanh", seed=0)
    x, y = np.array([[0.5, -1.0]]), np.array([[0.3]])
    w0 = [w.copy() for w in net.weights]
    b0 = [b.copy() for b in net.biases]
    t = net.backprop(x, y)
    sgd_update(net.weights, net.biases, t, lr=0.1, weight_decay=2.0, n_train=10)
    for i in range(2):  # W ← (1 − ηλ/n) W − η∇W,  b ← b − η∇b
        expected = (1 - 0.1 * 2.0 / 10) * w0[i] - 0.1 * t.nabla_w[i]
        np.testing.assert_allclose(net.weights[i], expected)
        np.testing.assert_allclose(net.biases[i], b0[i] - 0.1 * t.nabla_b[i])


def test_training_reduces_the_cost():
    rng = np.random.default_rng(0)
    d = gradlab.load_dataset("digits", rng)
    net = gradlab.MLP([64, 30, 10], "sigmoid", seed=rng)
    before = net.backprop(d.x_train, d.y_train, "cross_entropy").cost
    for _ in range(3):
        for idx in minibatches(rng, d.x_train.shape[0], 10):
            t = net.backprop(d.x_train[idx], d.y_train[idx], "cross_entropy")
            sgd_update(net.weights, net.biases, t, lr=0.5)
    assert net.backprop(d.x_train, d.y_train, "cross_entropy").cost < 0.5 * before


def test_nonfinite_detection():
    net = gradlab.MLP.from_arrays(
        [np.full((2, 2), 1e200), np.full((1, 2), 1e200)],
        [np.zeros(2), np.zeros(1)],
        "relu",
        "linear",
    )
    with np.errstate(all="ignore"):
        t = net.backprop(np.ones((1, 2)), np.zeros((1, 1)))
    assert not all_finite(t)
    assert first_nonfinite_layer(t) == (2, "forward")  # z^2 = 2e200·2e200·… overflows
    ok = gradlab.MLP([2, 3, 1], seed=0).backprop(np.ones((1, 2)), np.zeros((1, 1)))
    assert all_finite(ok) and first_nonfinite_layer(ok) is None
    ok.delta[0][0, 0] = np.nan
    assert first_nonfinite_layer(ok) == (1, "backward")
