"""The per-layer table: formulas, the σ′ bound, and the spectral norm."""

import numpy as np
import pytest

import gradlab
from gradlab.engine.diagnostics import sigma_bound
from gradlab.engine.spectral import EXACT_BELOW, spectral_norm
from gradlab.names import COLUMNS


def _trace(act="sigmoid", init="lecun_normal", gain=1.0, depth=5, seed=0, out=None):
    rng = np.random.default_rng(seed)
    sizes = [12] + [16] * depth + [4]
    net = gradlab.MLP(sizes, act, out, init=init, gain=gain, bias_std=0.1, seed=rng)
    x = rng.standard_normal((40, 12))
    y = rng.uniform(0, 1, (40, 4))
    return net, net.backprop(x, y)


def test_columns_and_formulas():
    net, trace = _trace()
    t = gradlab.layer_table(trace, net.weights, *net.activations)
    assert list(t.columns) == list(COLUMNS)
    assert list(t["layer"]) == list(range(1, net.num_layers + 1))
    i = 2
    d = trace.delta[i]
    assert t.loc[i, "grad_b_norm"] == pytest.approx(np.sqrt(np.sum(d.mean(0) ** 2)))
    assert t.loc[i, "grad_w_norm"] == pytest.approx(
        np.sqrt(np.sum((d.T @ trace.a[i] / d.shape[0]) ** 2))
    )
    assert t.loc[i, "delta_rms"] == pytest.approx(np.sqrt((d**2).sum(1).mean()))
    assert t.loc[i, "weight_spectral"] == pytest.approx(np.linalg.norm(net.weights[i], 2), rel=1e-8)
    s = trace.a[i + 1] * (1 - trace.a[i + 1])  # σ′ = σ(1−σ) for the sigmoid
    assert t.loc[i, "sigma_prime_mean"] == pytest.approx(s.mean())


def test_saturation_counts_saturated_and_dead_units():
    # weights ×50 push sigmoid units to σ′ ≈ 0; ReLU with large negative bias is dead
    net, trace = _trace(init="normal", gain=50.0)
    t = gradlab.layer_table(trace, net.weights, *net.activations)
    assert t["saturated_frac"].iloc[1:-1].min() > 0.8
    relu = gradlab.MLP.from_arrays(
        [np.eye(3), np.eye(3)], [np.array([-5.0, 1.0, 1.0]), np.zeros(3)], "relu"
    )
    tr = relu.backprop(np.abs(np.random.default_rng(0).standard_normal((10, 3))), np.zeros((10, 3)))
    t = gradlab.layer_table(tr, relu.weights, *relu.activations)
    assert t.loc[0, "saturated_frac"] == pytest.approx(1 / 3)  # unit 0 never fires


@pytest.mark.parametrize("act", sorted(gradlab.ACTIVATIONS))
@pytest.mark.parametrize(
    ("init", "gain"),
    [("lecun_normal", 1.0), ("normal", 3.0), ("orthogonal", 1.0), ("he_normal", 2.0)],
)
def test_bound_is_never_below_the_measured_delta(act, init, gain):
    for seed in range(3):
        net, trace = _trace(act, init, gain, seed=seed)
        t = gradlab.layer_table(trace, net.weights, *net.activations)
        assert (t["delta_rms"] <= t["bound"] * (1 + 1e-9)).all(), t[["delta_rms", "bound"]]
        # at the output layer the bound is ‖δ^L‖ itself
        assert t["bound"].iloc[-1] == pytest.approx(t["delta_rms"].iloc[-1], rel=1e-12)


def test_bound_is_tight_for_linear_orthogonal_square():
    # φ′ ≡ 1 and orthogonal square W preserve norms: the bound holds with equality
    rng = np.random.default_rng(5)
    sizes = [8, 8, 8, 8]
    net = gradlab.MLP(sizes, "linear", init="orthogonal", seed=rng)
    trace = net.backprop(rng.standard_normal((3, 8)), rng.standard_normal((3, 8)))
    t = gradlab.layer_table(trace, net.weights, *net.activations)
    np.testing.assert_allclose(t["delta_rms"], t["bound"], rtol=1e-8)


def test_sigmoid_bound_is_quarter_power_law():
    # with ‖W^k‖₂ = 1 the sigmoid bound is ‖δ^L‖ (1/4)^{L−l}, the notes' heuristic
    b = sigma_bound(2.0, np.ones(5), 0.25)
    np.testing.assert_allclose(b, 2.0 * 0.25 ** np.arange(4, -1, -1))


@pytest.mark.parametrize("shape", [(65, 65), (80, 100), (256, 128)])
def test_spectral_norm_matches_svd_cold_and_warm(shape):
    assert min(shape) > EXACT_BELOW  # smaller layers take the exact path, with no warm start
    rng = np.random.default_rng(0)
    w = rng.standard_normal(shape) / np.sqrt(shape[1])
    s, v = spectral_norm(w)
    assert s == pytest.approx(np.linalg.norm(w, 2), rel=1e-7)
    w2 = w + 1e-3 * rng.standard_normal(shape) / np.sqrt(shape[1])
    s2, _ = spectral_norm(w2, v)
    assert s2 == pytest.approx(np.linalg.norm(w2, 2), rel=1e-7)
    assert s2 <= np.linalg.norm(w2, 2) * (1 + 1e-12)  # Ritz values approach from below


def test_vanishing_through_sigmoid_stack():
    # the phenomenon itself: with LeCun init, ‖∇b^l‖ falls toward the input
    net, trace = _trace("sigmoid", depth=8)
    t = gradlab.layer_table(trace, net.weights, *net.activations)
    assert t["grad_b_norm"].iloc[0] < 1e-2 * t["grad_b_norm"].iloc[-1]
