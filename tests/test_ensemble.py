"""The batched ensemble probe against a member-by-member reference, finite
differences, Nielsen's hand calculation, and the mean-field predictions.

Sizes are chosen so each statistical test has a margin and the file runs in a
few seconds: over seeds 0..19 the worst errors seen were 2.1 % (per-layer factor
against χ₁, tolerance 10 %), 3.5 % (transient profile, 10 %), 10 % (mean
squared singular value, 20 %) and a spread ratio of 0.26 (orthogonal against
Gaussian, bound 0.5).
"""

import math

import numpy as np
import pytest
from gradcheck import check_grad, numeric_grad
from threadpoolctl import threadpool_limits

import gradlab
from gradlab import theory
from gradlab.theory import ensemble


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Stacks of ≤ 256×256 matrices gain nothing from BLAS threads, and on a busy
    # 2-core machine OpenBLAS's spinning threads made this file 5-25× slower.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_ensemble_path_equals_a_loop_over_members_through_mlp():
    rng = np.random.default_rng(0)
    sizes, E, n = [5, 7, 6, 3], 4, 9
    weights, biases = ensemble.draw_ensemble(rng, sizes, E, "xavier_normal", 1.3, 0.4)
    assert [w.shape for w in weights] == [(E, 7, 5), (E, 6, 7), (E, 3, 6)]
    x = rng.normal(size=(E, n, 5))
    e = rng.normal(size=(E, n, 3))
    got = ensemble.delta_sq(weights, biases, x, e, "tanh", "sigmoid")  # (E, L)
    assert got.shape == (E, 3)
    for m in range(E):  # the reference: one gradlab.MLP per member
        net = gradlab.MLP.from_arrays(
            [w[m] for w in weights], [b[m] for b in biases], "tanh", "sigmoid"
        )
        trace = net.backprop(x[m], e[m], cost=ensemble.LINEAR_PROBE)
        expected = [np.mean(np.sum(d**2, axis=1)) for d in trace.delta]
        np.testing.assert_allclose(got[m], expected, rtol=1e-12, atol=0)


def test_linear_probe_cost_gradient_matches_finite_differences():
    # C = (1/n) Σ_k ⟨e_k, a^L_k⟩: backprop's ∇W must be the derivative of this value
    rng = np.random.default_rng(1)
    net = gradlab.MLP([4, 5, 3], activation="tanh", output_activation="sigmoid", seed=2)
    x, e = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    trace = net.backprop(x, e, cost=ensemble.LINEAR_PROBE)
    assert trace.cost == pytest.approx(np.mean(np.sum(e * net.feedforward(x), axis=1)))
    for i, w in enumerate(net.weights):
        num = numeric_grad(lambda: net.backprop(x, e, cost=ensemble.LINEAR_PROBE).cost, w)
        check_grad(trace.nabla_w[i], num, rtol=1e-7, what=f"nabla_w[{i}]")


def test_jacobian_matches_finite_differences_for_every_member():
    rng = np.random.default_rng(3)
    sizes, E = [4, 6, 5, 3], 3
    weights, biases = ensemble.draw_ensemble(rng, sizes, E, "lecun_normal", 1.5, 0.3)
    x = rng.normal(size=(E, 2, 4))
    J = ensemble.jacobian(weights, biases, x, "tanh", "sigmoid")
    assert J.shape == (E, 2, 3, 4)
    for m in range(E):
        net = gradlab.MLP.from_arrays(
            [w[m] for w in weights], [b[m] for b in biases], "tanh", "sigmoid"
        )
        for k in range(2):
            xk = x[m, k].copy()
            for j in range(3):  # row j of J: ∂a^L_j/∂a^0
                num = numeric_grad(lambda xk=xk, j=j, net=net: net.feedforward(xk)[0, j], xk)
                check_grad(J[m, k, j], num, rtol=1e-7, what=f"J[{m},{k},{j}]")
    s = ensemble.jacobian_singular_values(weights, biases, x, "tanh", "sigmoid")
    np.testing.assert_allclose(s, np.linalg.svd(J, compute_uv=False), rtol=1e-12)


def test_log_slope_recovers_a_geometric_profile():
    L, chi = 12, 0.37
    d = 5.0 * chi ** (L - np.arange(1, L + 1))  # E‖δ^l‖² = c χ^{L−l}
    assert ensemble.log_slope(d, 2, 11) == pytest.approx(math.log(chi), rel=1e-12)
    d[:3] = 0.0  # underflowed layers are left out of the fit
    assert ensemble.log_slope(d, 1, 11) == pytest.approx(math.log(chi), rel=1e-12)
    assert math.isnan(ensemble.log_slope(d, 1, 3))
    assert ensemble.default_fit_layers(12) == (4, 11)
    assert ensemble.default_fit_layers(4) == (2, 3)  # the shallowest with two layers to fit
    with pytest.raises(ValueError, match="L=3 is not allowed"):
        ensemble.default_fit_layers(3)
    with pytest.raises(ValueError, match="first=5, last=5 is not allowed"):
        ensemble.log_slope(d, 5, 5)


# (activation, init, gain, bias_std): the acceptance cases of issue 5
PROBE_CASES = {
    "sigmoid_lecun": ("sigmoid", "lecun_normal", 1.0, 0.0),
    "tanh_ordered": ("tanh", "lecun_normal", math.sqrt(0.5), 0.0),
    "tanh_critical": ("tanh", "lecun_normal", None, math.sqrt(0.05)),  # on the χ₁ = 1 line
    "relu_he": ("relu", "he_normal", 1.0, 0.0),
    "relu_lecun": ("relu", "lecun_normal", 1.0, 0.0),
    "relu_xavier": ("relu", "xavier_normal", 1.0, 0.0),
}
WIDTH, DEPTH, MEMBERS, BATCH = 256, 12, 8, 16


@pytest.mark.parametrize("case", sorted(PROBE_CASES))
def test_measured_decay_per_layer_matches_chi1(case):
    act, init, gain, bias_std = PROBE_CASES[case]
    if gain is None:
        gain = math.sqrt(theory.critical_sigma_w2(act, bias_std**2))
    sw2 = theory.sigma_w2_of(init, gain, WIDTH, WIDTH)
    chi = theory.chi1(act, sw2, bias_std**2)
    rng = np.random.default_rng(11)
    probe = ensemble.ensemble_backprop(rng, WIDTH, DEPTH, act, init, gain, bias_std, MEMBERS, BATCH)
    assert probe.delta_sq.shape == (DEPTH,)
    assert probe.delta_sq_members.shape == (MEMBERS, DEPTH)
    np.testing.assert_allclose(probe.delta_sq, probe.delta_sq_members.mean(axis=0))
    measured = math.exp(probe.log_slope)  # per-layer factor of E‖δ^l‖²
    assert measured == pytest.approx(chi, rel=0.10), (case, measured, chi)


def test_lecun_tanh_follows_the_transient_aware_prediction():
    # σ_w² = 1, σ_b² = 0: q^l → 0 only like 1/(2l), so the per-layer factor is
    # χ(q^l) ≈ 1 − 1/l rather than χ₁ = 1; the layer-resolved prediction holds.
    L = 12
    probe = ensemble.ensemble_backprop(
        np.random.default_rng(12), WIDTH, L, "tanh", "lecun_normal", 1.0, 0.0, MEMBERS, BATCH
    )
    predicted = theory.predicted_delta_sq_profile("tanh", 1.0, 0.0, L, q_in=1.0)
    assert predicted[0] < 0.1  # far from the χ₁^{L−l} = 1 of the fixed point

    def shape(d):  # divided by its geometric mean: the profile up to a constant
        return d / np.exp(np.mean(np.log(d)))

    np.testing.assert_allclose(shape(probe.delta_sq), shape(predicted), rtol=0.10)


JAC_WIDTH, JAC_DEPTH, JAC_MEMBERS, JAC_BATCH = 64, 10, 128, 2


@pytest.mark.parametrize(
    ("act", "init", "sw2", "sb2"),
    [
        ("tanh", "lecun_normal", None, 0.05),  # critical: χ₁^L = 1
        ("tanh", "lecun_normal", 0.5, 0.1),  # ordered: χ₁^L ≈ 1e−3
        ("relu", "he_normal", 2.0, 0.0),
    ],
)
def test_mean_squared_jacobian_singular_value_is_chi1_to_the_depth(act, init, sw2, sb2):
    if sw2 is None:
        sw2 = theory.critical_sigma_w2(act, sb2)
    gain = math.sqrt(sw2 / theory.sigma_w2_of(init, 1.0, JAC_WIDTH, JAC_WIDTH))
    rng = np.random.default_rng(13)
    sizes = [JAC_WIDTH] * (JAC_DEPTH + 1)
    weights, biases = ensemble.draw_ensemble(rng, sizes, JAC_MEMBERS, init, gain, math.sqrt(sb2))
    # inputs at the fixed point, q^1 = σ_w² v + σ_b² = q*, so every layer sits at q*
    q = theory.q_star(act, sw2, sb2)
    v = (q - sb2) / sw2 if math.isfinite(q) else 1.0
    x = math.sqrt(v) * rng.standard_normal((JAC_MEMBERS, JAC_BATCH, JAC_WIDTH))
    s = ensemble.jacobian_singular_values(weights, biases, x, act)
    assert s.shape == (JAC_MEMBERS, JAC_BATCH, JAC_WIDTH)
    expected = theory.chi1(act, sw2, sb2) ** JAC_DEPTH
    assert np.mean(s**2) == pytest.approx(expected, rel=0.20)


def test_orthogonal_weights_narrow_the_tanh_jacobian_spectrum():
    # same σ_w², σ_b² (so the same χ₁ = 1), Gaussian versus orthogonal (Pennington et al. 2017)
    sb2 = 0.05
    sw2 = theory.critical_sigma_w2("tanh", sb2)
    width, L, E, n = 128, 10, 8, 2
    q = theory.q_star("tanh", sw2, sb2)
    spread, ratio = {}, {}
    for init in ("lecun_normal", "orthogonal"):
        rng = np.random.default_rng(14)
        gain = math.sqrt(sw2)  # σ_w² = g² for both square schemes
        assert theory.sigma_w2_of(init, gain, width, width) == pytest.approx(sw2)
        weights, biases = ensemble.draw_ensemble(
            rng, [width] * (L + 1), E, init, gain, math.sqrt(sb2)
        )
        x = math.sqrt((q - sb2) / sw2) * rng.standard_normal((E, n, width))
        s2 = ensemble.jacobian_singular_values(weights, biases, x, "tanh") ** 2
        spread[init] = s2.var() / s2.mean() ** 2
        ratio[init] = np.median(s2.max(axis=-1) / s2.min(axis=-1))
    assert spread["orthogonal"] < 0.5 * spread["lecun_normal"], spread
    assert ratio["orthogonal"] < 1e-3 * ratio["lecun_normal"], ratio


@pytest.mark.parametrize("x", [[0.7], [0.3, -1.2, 2.0]])
def test_nielsen_construction_multiplies_the_gradient_by_25_per_layer(x):
    L = 6
    weights, biases = ensemble.nielsen_chain(L, np.array(x))
    net = gradlab.MLP.from_arrays(weights, biases, activation="sigmoid")
    rng = np.random.default_rng(15)
    trace = net.backprop(np.array([x]), rng.normal(size=(1, len(x))))
    for z in trace.z:
        np.testing.assert_array_equal(z, 0.0)  # every weighted input vanishes
    for l in range(L - 1):  # δ^l = w σ′(0) δ^{l+1} = 100 · ¼ · δ^{l+1}
        np.testing.assert_allclose(trace.delta[l] / trace.delta[l + 1], 25.0, rtol=1e-15)
        np.testing.assert_allclose(trace.nabla_b[l] / trace.nabla_b[l + 1], 25.0, rtol=1e-15)


def test_same_seed_same_probe():
    a = ensemble.ensemble_backprop(np.random.default_rng(5), 16, 4, "tanh", members=3, batch=2)
    b = ensemble.ensemble_backprop(np.random.default_rng(5), 16, 4, "tanh", members=3, batch=2)
    np.testing.assert_array_equal(a.delta_sq_members, b.delta_sq_members)
