"""Mean-field theory against independent references: scipy quad, closed forms, theorems.

The reference integrals below use adaptive quadrature (scipy.integrate.quad) with
break points at the kink z = 0 and at the scale 1/√q of the smooth activations;
they share no code with the Gauss–Hermite rule of gradlab.theory.
"""

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

import gradlab
from gradlab import theory

ACTS = sorted(gradlab.ACTIVATIONS)
LEAKY = 0.01  # leaky_relu's negative slope (Maas et al. 2013)


def ref_expectation(f, q):
    """E_z[f(√q z)] by adaptive quadrature on [−40, 40] (the rest weighs < 1e−300)."""
    s = math.sqrt(q)

    def integrand(z):
        return float(f(np.array(s * z))) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    cuts = sorted({0.0, *(c / s for c in (0.3, 1.0, 3.0, 10.0, 30.0) if c / s < 40)})
    edges = [-40.0, *[-c for c in reversed(cuts) if c > 0], *cuts, 40.0]
    return sum(
        quad(integrand, a, b, epsabs=1e-15, epsrel=1e-13, limit=200)[0]
        for a, b in itertools.pairwise(edges)
    )


def ref_map(name, q, sw2, sb2):
    phi = gradlab.ACTIVATIONS[name].phi
    return sw2 * ref_expectation(lambda u: phi(u) ** 2, q) + sb2


def ref_chi(name, q, sw2):
    dphi = gradlab.ACTIVATIONS[name].phi_prime
    return sw2 * ref_expectation(lambda u: dphi(u) ** 2, q)


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("which", ["phi_sq", "phi_prime_sq"])
@pytest.mark.parametrize("q", [1e-3, 0.1, 1.0, 3.0, 10.0, 100.0, 1000.0])
def test_gauss_hermite_matches_quad(name, which, q):
    act = gradlab.ACTIVATIONS[name]
    fn = act.phi if which == "phi_sq" else act.phi_prime

    def f(u):
        return fn(u) ** 2

    expected = ref_expectation(f, q)
    got = theory.gaussian_expectation(f, q)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("name", "at_zero", "at_inf"),
    [  # one-sided limits ½(f(0⁺)+f(0⁻)) and ½(f(+∞)+f(−∞)) of φ′², by hand
        ("relu", 0.5, 0.5),
        ("leaky_relu", (1 + LEAKY**2) / 2, (1 + LEAKY**2) / 2),
        ("linear", 1.0, 1.0),
        ("tanh", 1.0, 0.0),
        ("sigmoid", 1 / 16, 0.0),
        ("softplus", 0.25, 0.5),
    ],
)
def test_expectation_limits_at_zero_and_infinite_length(name, at_zero, at_inf):
    dphi = gradlab.ACTIVATIONS[name].phi_prime
    assert theory.gaussian_expectation(lambda u: dphi(u) ** 2, 0.0) == pytest.approx(at_zero)
    assert theory.gaussian_expectation(lambda u: dphi(u) ** 2, np.inf) == pytest.approx(at_inf)


@pytest.mark.parametrize(
    ("sw2", "sb2"), [(0.5, 0.0), (1.0, 0.3), (2.0, 0.0), (2.0, 0.5), (3.0, 0.1)]
)
def test_chi1_closed_forms_of_piecewise_linear(sw2, sb2):
    # φ′² is 1 on half the line (relu), 1 or α² (leaky), 1 everywhere (linear),
    # whatever q* is — including q* = 0 and q* = ∞.
    assert theory.chi1("relu", sw2, sb2) == pytest.approx(sw2 / 2, rel=1e-13)
    assert theory.chi1("leaky_relu", sw2, sb2) == pytest.approx(sw2 * (1 + LEAKY**2) / 2, rel=1e-13)
    assert theory.chi1("linear", sw2, sb2) == pytest.approx(sw2, rel=1e-13)


def test_relu_length_map_and_fixed_point_closed_forms():
    # E[relu(√q z)²] = q/2, so M(q) = σ_w² q/2 + σ_b² and q* = σ_b²/(1 − σ_w²/2).
    for q in (0.0, 0.3, 7.0, 1e6):
        assert theory.length_map("relu", q, 1.3, 0.2) == pytest.approx(1.3 * q / 2 + 0.2)
    assert theory.q_star("relu", 1.0, 0.3) == pytest.approx(0.6, rel=1e-12)
    assert theory.q_star("relu", 1.5, 0.0) == 0.0
    assert theory.q_star("relu", 2.0, 0.0, q0=3.0) == pytest.approx(3.0)  # marginal
    assert theory.q_star("relu", 2.0, 0.1) == np.inf  # grows by σ_b² per layer
    assert theory.q_star("relu", 2.5, 0.0) == np.inf
    assert theory.q_star("linear", 1.0, 0.0, q0=2.0) == pytest.approx(2.0)


def test_tanh_is_critical_at_unit_weight_variance_without_bias():
    # σ_b² = 0: q* = 0 for σ_w² ≤ 1, and tanh′(0) = 1 gives χ₁ = σ_w².
    assert theory.q_star("tanh", 1.0, 0.0) == 0.0
    assert theory.chi1("tanh", 1.0, 0.0) == pytest.approx(1.0, abs=1e-12)
    assert theory.chi1("tanh", 0.5, 0.0) == pytest.approx(0.5, abs=1e-12)
    assert theory.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, rel=1e-9)
    # chaotic side: a finite q* > 0 and χ₁ > 1
    assert theory.q_star("tanh", 2.0, 0.0) > 0.1
    assert theory.chi1("tanh", 2.0, 0.0) > 1.0


@pytest.mark.parametrize(
    ("name", "sw2", "sb2"),
    [
        ("tanh", 1.5, 0.05),
        ("tanh", 2.0, 0.0),
        ("tanh", 4.0, 1.0),
        ("sigmoid", 1.0, 0.0),
        ("sigmoid", 3.0, 0.1),
        ("softplus", 1.0, 0.3),
    ],
)
def test_fixed_point_and_chi1_against_quad(name, sw2, sb2):
    # independent reference: brentq on the quad-evaluated map, bracketed by hand
    expected_q = brentq(lambda q: ref_map(name, q, sw2, sb2) - q, 1e-3, sw2 * 10 + sb2 + 10)
    got_q = theory.q_star(name, sw2, sb2)
    assert got_q == pytest.approx(expected_q, rel=1e-8)
    assert theory.length_map(name, got_q, sw2, sb2) == pytest.approx(got_q, rel=1e-10)
    assert theory.chi1(name, sw2, sb2) == pytest.approx(ref_chi(name, expected_q, sw2), rel=1e-6)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("relu", 2.0), ("leaky_relu", 2 / (1 + LEAKY**2)), ("linear", 1.0)],
)
@pytest.mark.parametrize("sb2", [0.0, 0.3])
def test_critical_line_of_piecewise_linear(name, expected, sb2):
    assert theory.critical_sigma_w2(name, sb2) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("sb2", [0.01, 0.05, 0.3])
def test_tanh_critical_line_against_quad(sb2):
    sw2 = theory.critical_sigma_w2("tanh", sb2)
    q = brentq(lambda q: ref_map("tanh", q, sw2, sb2) - q, 1e-6, sw2 + sb2 + 1)
    assert ref_chi("tanh", q, sw2) == pytest.approx(1.0, abs=1e-6)
    # ordered just below the line, chaotic just above
    assert theory.chi1("tanh", 0.98 * sw2, sb2) < 1 < theory.chi1("tanh", 1.02 * sw2, sb2)


def test_tanh_critical_line_rises_with_bias_variance():
    line = [theory.critical_sigma_w2("tanh", sb2) for sb2 in (0.0, 0.01, 0.05, 0.3, 1.0)]
    assert np.all(np.diff(line) > 0)
    assert line[0] == pytest.approx(1.0)


def test_depth_scale():
    assert theory.depth_scale(math.exp(-1 / 5)) == pytest.approx(5.0)
    assert theory.depth_scale(1.0) == np.inf
    np.testing.assert_allclose(theory.depth_scale(np.exp([-0.5, 0.25])), [2.0, -4.0])


def test_predicted_delta_sq_decays_by_e_per_depth_scale():
    np.testing.assert_allclose(theory.predicted_delta_sq(0.5, 4), [1 / 8, 1 / 4, 1 / 2, 1])
    chi = 0.8
    pred = theory.predicted_delta_sq(chi, 30)
    xi = theory.depth_scale(chi)
    # ratio over k layers is e^{−k/ξ}
    assert pred[30 - 1 - 10] == pytest.approx(math.exp(-10 / xi))


def test_sigmoid_bound_holds_for_random_sigmoid_chains():
    assert theory.sigmoid_bound(3).tolist() == [1 / 16, 1 / 4, 1.0]
    rng = np.random.default_rng(7)
    L = 6
    for _ in range(20):
        w = [rng.uniform(-1, 1, (1, 1)) for _ in range(L)]  # |w| ≤ 1
        b = [rng.normal(0, 3, 1) for _ in range(L)]
        net = gradlab.MLP.from_arrays(w, b, activation="sigmoid")
        x = rng.normal(0, 2, (50, 1))
        trace = net.backprop(x, rng.normal(size=(50, 1)))
        ratio = np.abs(np.concatenate(trace.delta, axis=1) / trace.delta[-1])  # (50, L)
        assert np.all(ratio <= theory.sigmoid_bound(L) * (1 + 1e-12))
    # with |w| ≤ 4 the envelope becomes 1 per layer
    np.testing.assert_array_equal(theory.sigmoid_bound(4, weight_bound=4.0), np.ones(4))


@pytest.mark.parametrize(("fan_in", "fan_out"), [(300, 300), (200, 500)])
@pytest.mark.parametrize("gain", [1.0, 1.5])
def test_variance_products_match_the_papers(fan_in, fan_out, gain):
    g2 = gain**2
    # Var[W] written out from each paper, then the products n·Var[W] and ½n·Var[W]
    var = {
        "lecun_normal": g2 / fan_in,
        "he_normal": 2 * g2 / fan_in,
        "xavier_normal": 2 * g2 / (fan_in + fan_out),
        "normal": g2,
    }
    for init, v in var.items():
        p = theory.variance_products(init, fan_in, fan_out, gain)
        assert p.forward == pytest.approx(fan_in * v)
        assert p.backward == pytest.approx(fan_out * v)
        assert p.he_forward == pytest.approx(fan_in * v / 2)
        assert p.he_backward == pytest.approx(fan_out * v / 2)
        assert theory.sigma_w2_of(init, gain, fan_in, fan_out) == pytest.approx(fan_in * v)
    # the conditions each scheme was designed to meet
    assert theory.variance_products("he_normal", fan_in, fan_out).he_forward == pytest.approx(1)
    assert theory.variance_products("lecun_normal", fan_in, fan_out).forward == pytest.approx(1)


def test_sigma_w2_of_orthogonal_is_gain_squared_when_square():
    assert theory.sigma_w2_of("orthogonal", 1.3, 64, 64) == pytest.approx(1.69)
    # and a drawn g·Q preserves every length exactly: ‖W a‖² = g² ‖a‖²
    rng = np.random.default_rng(0)
    (w,) = gradlab.init_weights(rng, [64, 64], "orthogonal", gain=1.3)
    a = rng.normal(size=64)
    assert np.sum((w @ a) ** 2) == pytest.approx(1.69 * np.sum(a**2))


def test_profiles_follow_the_recurrence_by_hand():
    # relu: q^1 = σ_w² q_in + σ_b², q^{l+1} = σ_w² q^l / 2 + σ_b²
    sw2, sb2, q_in, L = 1.6, 0.1, 2.0, 6
    q = [sw2 * q_in + sb2]
    for _ in range(L - 1):
        q.append(sw2 * q[-1] / 2 + sb2)
    np.testing.assert_allclose(theory.length_profile("relu", sw2, sb2, L, q_in), q)
    np.testing.assert_allclose(theory.chi_profile("relu", sw2, sb2, L, q_in), sw2 / 2)
    np.testing.assert_allclose(
        theory.predicted_delta_sq_profile("relu", sw2, sb2, L, q_in),
        theory.predicted_delta_sq(sw2 / 2, L),
    )


def test_profile_reaches_chi1_after_the_transient():
    sw2, sb2, L = 1.5, 0.05, 60
    chi = theory.chi_profile("tanh", sw2, sb2, L, q_in=3.0)
    assert chi[-1] == pytest.approx(theory.chi1("tanh", sw2, sb2), rel=1e-8)
    assert chi[0] == pytest.approx(ref_chi("tanh", sw2 * 3.0 + sb2, sw2), rel=1e-6)
    prof = theory.predicted_delta_sq_profile("tanh", sw2, sb2, L, q_in=3.0)
    assert prof[-1] == 1.0
    assert prof[0] == pytest.approx(np.prod(chi[:-1]))


def test_bad_arguments_name_the_key():
    with pytest.raises(ValueError, match="activation='sigmod' is not allowed; choose one of"):
        theory.chi1("sigmod", 1.0, 0.0)
    with pytest.raises(ValueError, match=r"sigma_w2=-1\.0 is not allowed"):
        theory.q_star("tanh", -1.0, 0.0)
    with pytest.raises(ValueError, match="init='glorot' is not allowed"):
        theory.sigma_w2_of("glorot", 1.0, 10, 10)
