"""Depth scales against independent references: 2-D quadrature, closed forms, simulation.

References share no code with gradlab's polar rule: scipy's adaptive dblquad and
quad, NumPy's own Gauss–Hermite nodes (numpy.polynomial.hermite_e) on a tensor
grid, the arc-cosine kernels of Cho & Saul (2009) for relu, and wide random
networks simulated directly.
"""

import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import dblquad, quad
from scipy.optimize import brentq

import gradlab
from gradlab import theory

SMOOTH = ["tanh", "sigmoid", "softplus"]


def ref_bivariate(f, q, c):
    """E[f(u₁, u₂)] by scipy dblquad over (z₁, z₂) ∈ [−10, 10]² (the rest weighs < 1e−22)."""
    s = math.sqrt(1 - c * c)

    def integrand(z2, z1):
        u1 = math.sqrt(q) * z1
        u2 = math.sqrt(q) * (c * z1 + s * z2)
        return float(f(np.array(u1), np.array(u2))) * math.exp(-0.5 * (z1 * z1 + z2 * z2))

    return dblquad(integrand, -10, 10, -10, 10, epsabs=1e-13, epsrel=1e-11)[0] / (2 * math.pi)


def ref_1d(f, q):
    """E_z[f(√q z)] by scipy quad, split at the scale 1/√q (absolute accuracy 1e−14)."""
    s = math.sqrt(q)
    cuts = [0.0, 1 / s, -1 / s, 3 / s, -3 / s]
    return quad(
        lambda z: float(f(np.array(s * z))) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),
        -40,
        40,
        points=[x for x in cuts if abs(x) < 40],
        limit=500,
        epsabs=1e-14,
        epsrel=1e-13,
    )[0]


def grid_corr_map(name, q, c, sw2, sb2, n=160):
    """C(c) on a tensor grid of n × n probabilists' Gauss–Hermite nodes (smooth φ only)."""
    x, w = hermegauss(n)
    w = w / math.sqrt(2 * math.pi)
    z1, z2 = x[:, None], x[None, :]
    phi = gradlab.ACTIVATIONS[name].phi
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    return (sw2 * (w @ (phi(u1) * phi(u2)) @ w) + sb2) / q


def relu_kernels(q, c):
    """Cho & Saul (2009): E[relu(u₁)relu(u₂)] and E[1(u₁>0)1(u₂>0)] at variance q."""
    theta = math.acos(c)
    j1 = q / (2 * math.pi) * (math.sqrt(1 - c * c) + (math.pi - theta) * c)
    j0 = (math.pi - theta) / (2 * math.pi)
    return j1, j0


# ---- the 2-D expectation --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "q", "c"),
    [("tanh", 0.5, 0.3), ("tanh", 5.0, -0.6), ("sigmoid", 2.0, 0.9), ("softplus", 3.0, 0.999)],
)
def test_bivariate_expectation_matches_dblquad(name, q, c):
    act = gradlab.ACTIVATIONS[name]
    for fn in (act.phi, act.phi_prime):

        def f(a, b, fn=fn):
            return fn(a) * fn(b)

        assert theory.bivariate_expectation(f, q, c) == pytest.approx(
            ref_bivariate(f, q, c), rel=1e-9, abs=1e-12
        )


@pytest.mark.parametrize("q", [1e-3, 1.0, 30.0, 1000.0])
@pytest.mark.parametrize("name", SMOOTH)
def test_bivariate_expectation_at_c_one_and_zero_reduces_to_1d(name, q):
    # c = 1: u₂ = u₁, a 1-D expectation; c = 0: independent, a product of two.
    act = gradlab.ACTIVATIONS[name]
    for fn in (act.phi, act.phi_prime):
        got1 = theory.bivariate_expectation(lambda a, b, fn=fn: fn(a) * fn(b), q, 1.0)
        assert got1 == pytest.approx(ref_1d(lambda u, fn=fn: fn(u) ** 2, q), rel=1e-10)
        got0 = theory.bivariate_expectation(lambda a, b, fn=fn: fn(a) * fn(b), q, 0.0)
        assert got0 == pytest.approx(ref_1d(fn, q) ** 2, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("c", [-1.0, -0.7, 0.0, 0.3, 0.9, 0.999999, 1.0])
@pytest.mark.parametrize("q", [0.01, 1.0, 250.0])
def test_bivariate_expectation_is_exact_for_relu_and_linear(c, q):
    relu = gradlab.ACTIVATIONS["relu"]
    j1, j0 = relu_kernels(q, c)
    got1 = theory.bivariate_expectation(lambda a, b: relu.phi(a) * relu.phi(b), q, c)
    got0 = theory.bivariate_expectation(lambda a, b: relu.phi_prime(a) * relu.phi_prime(b), q, c)
    assert got1 == pytest.approx(j1, rel=1e-13, abs=1e-15 * q)
    assert got0 == pytest.approx(j0, rel=1e-13, abs=1e-15)
    assert theory.bivariate_expectation(np.multiply, q, c) == pytest.approx(q * c, abs=1e-13 * q)


def test_bivariate_expectation_against_monte_carlo():
    # 10⁶ samples: the standard error of a mean of tanh·tanh is < 1e−3, so 5e−3 is 5σ.
    rng = np.random.default_rng(3)
    q, c = 2.0, 0.4
    z1, z2 = rng.standard_normal((2, 1_000_000))
    u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    mc = np.mean(np.tanh(u1) * np.tanh(u2))
    assert theory.bivariate_expectation(lambda a, b: np.tanh(a) * np.tanh(b), q, c) == (
        pytest.approx(mc, abs=5e-3)
    )


# ---- fixed point c* and χ_c -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "sw2", "sb2"),
    [("tanh", 0.5, 0.05), ("tanh", 1.5, 0.05), ("sigmoid", 2.0, 0.1), ("softplus", 1.0, 0.3)],
)
def test_ordered_phase_has_c_star_one_and_chi_c_equal_chi1(name, sw2, sb2):
    assert theory.chi1(name, sw2, sb2) < 1
    assert theory.c_star(name, sw2, sb2) == 1.0
    assert theory.chi_c(name, sw2, sb2) == pytest.approx(theory.chi1(name, sw2, sb2), rel=1e-12)
    assert theory.xi_c(name, sw2, sb2) == pytest.approx(-1 / math.log(theory.chi1(name, sw2, sb2)))


@pytest.mark.parametrize(("name", "sw2", "sb2"), [("tanh", 2.5, 0.05), ("tanh", 4.0, 0.3)])
def test_chaotic_fixed_point_against_tensor_gauss_hermite(name, sw2, sb2):
    q = theory.q_star(name, sw2, sb2)
    expected = brentq(lambda c: grid_corr_map(name, q, c, sw2, sb2) - c, 0.0, 0.999)
    got = theory.c_star(name, sw2, sb2)
    assert 0 < got < 1
    assert got == pytest.approx(expected, abs=1e-9)
    assert theory.correlation_map(name, got, sw2, sb2) == pytest.approx(got, abs=1e-12)
    # χ_c is C′(c*) (Price's theorem): check against a central difference of the grid map
    h = 1e-5
    slope = grid_corr_map(name, q, got + h, sw2, sb2) - grid_corr_map(name, q, got - h, sw2, sb2)
    assert theory.chi_c(name, sw2, sb2) == pytest.approx(slope / (2 * h), rel=1e-7)
    assert theory.chi_c(name, sw2, sb2) < 1


def test_odd_activation_without_bias_decorrelates_completely():
    # C is odd when φ is odd and σ_b² = 0, so C(0) = 0 is the chaotic fixed point.
    assert theory.c_star("tanh", 2.0, 0.0) == 0.0
    q = theory.q_star("tanh", 2.0, 0.0)
    dtanh = gradlab.ACTIVATIONS["tanh"].phi_prime
    assert theory.chi_c("tanh", 2.0, 0.0) == pytest.approx(2.0 * ref_1d(dtanh, q) ** 2, rel=1e-10)


@pytest.mark.parametrize(("sw2", "c0"), [(3.0, 0.9), (3.0, 0.05), (2.2, 0.5)])
def test_iterated_correlation_map_settles_at_c_star_at_rate_chi_c(sw2, c0):
    # c^l − c* ∝ χ_c^l = exp(−l/ξ_c) once c^l is near c* (Schoenholz et al. 2017, §3)
    star = theory.c_star("tanh", sw2, 0.05)
    c = [c0]
    while abs(c[-1] - star) > 1e-9 and len(c) < 1000:
        c.append(theory.correlation_map("tanh", c[-1], sw2, 0.05))
    gap = np.array(c) - star
    assert abs(gap[-1]) <= 1e-9
    k = int(np.argmax(np.abs(gap) < 1e-6))  # first layer within 1e−6: linear regime
    assert gap[k + 1] / gap[k] == pytest.approx(theory.chi_c("tanh", sw2, 0.05), rel=1e-5)


def test_relu_correlation_map_closed_form():
    # q* = σ_b²/(1 − σ_w²/2); C(c) = σ_w² J1(c)/(q*·…) + σ_b²/q* with Cho & Saul's J1
    sw2, sb2 = 1.5, 0.2
    q = sb2 / (1 - sw2 / 2)
    for c in (-0.5, 0.0, 0.6, 0.99):
        expected = (sw2 * relu_kernels(q, c)[0] + sb2) / q
        assert theory.correlation_map("relu", c, sw2, sb2) == pytest.approx(expected, rel=1e-12)
    assert theory.c_star("relu", sw2, sb2) == 1.0
    assert theory.chi_c("relu", sw2, sb2) == pytest.approx(sw2 / 2, rel=1e-12)


@pytest.mark.parametrize(("name", "sw2", "sb2"), [("relu", 1.0, 0.0), ("relu", 3.0, 0.1)])
def test_no_exponential_scale_where_the_length_never_settles(name, sw2, sb2):
    # q* = 0 or ∞: with q^{l+1} = ρ q^l (σ_b²/q^l → 0) the relu map is c ↦ J1(c)/J1(1),
    # whatever σ_w²; its slope at c = 1 is (π − arccos c)/π → 1.
    assert theory.q_star(name, sw2, sb2) in (0.0, np.inf)
    h = 1e-9
    slope = (relu_kernels(1.0, 1.0)[0] - relu_kernels(1.0, 1 - h)[0]) / h / relu_kernels(1, 1)[0]
    assert slope == pytest.approx(1.0, abs=1e-4)
    assert theory.c_star(name, sw2, sb2) == 1.0
    assert theory.chi_c(name, sw2, sb2) == 1.0
    assert theory.xi_c(name, sw2, sb2) == np.inf
    with pytest.raises(ValueError, match="needs a finite positive q"):
        theory.correlation_map(name, 0.5, sw2, sb2)


def test_xi_c_diverges_at_the_critical_line_of_tanh():
    sb2 = 0.05
    crit = theory.critical_sigma_w2("tanh", sb2)
    assert crit == pytest.approx(1.76, abs=0.01)  # Schoenholz et al. (2017), fig. 1
    below = [theory.xi_c("tanh", crit * (1 - e), sb2) for e in (1e-1, 1e-2, 1e-3)]
    above = [theory.xi_c("tanh", crit * (1 + e), sb2) for e in (1e-1, 1e-2, 1e-3)]
    assert np.all(np.diff(below) > 0) and np.all(np.diff(above) > 0)
    assert min(below[-1], above[-1]) > 300
    # ordered side: ξ_c = −1/ln χ₁ ≈ 1/(1 − χ₁) as χ₁ → 1
    chi = theory.chi1("tanh", crit * (1 - 1e-3), sb2)
    assert below[-1] == pytest.approx(1 / (1 - chi), rel=1e-3)


def test_xi_c_over_weight_variance_has_the_shape_of_schoenholz_fig():
    # tanh, σ_b² = 0.05, σ_w² ∈ [1, 4]: one peak, at the critical line.
    grid = np.linspace(1.0, 4.0, 31)
    xi = np.array([theory.xi_c("tanh", s, 0.05) for s in grid])
    peak = int(np.argmax(xi))
    crit = theory.critical_sigma_w2("tanh", 0.05)
    assert abs(grid[peak] - crit) <= 0.05
    assert np.all(np.diff(xi[: peak + 1]) > 0) and np.all(np.diff(xi[peak:]) < 0)
    assert 3 < xi[0] < xi[-1] < 10  # finite a few layers from the line on both sides


# ---- the length map's depth scale ξ_q ------------------------------------


@pytest.mark.parametrize(
    ("name", "q", "sw2"), [("tanh", 0.3, 1.5), ("tanh", 4.0, 2.0), ("sigmoid", 2.0, 3.0)]
)
def test_length_map_slope_matches_central_difference(name, q, sw2):
    # central difference of σ_w² E[φ(√q z)²] evaluated by quad; the 1-D
    # Gauss–Hermite rule of gradlab.theory is accurate to 1e−6, as for chi1
    phi = gradlab.ACTIVATIONS[name].phi
    h = 1e-4 * q
    diff = ref_1d(lambda u: phi(u) ** 2, q + h) - ref_1d(lambda u: phi(u) ** 2, q - h)
    assert theory.length_map_slope(name, q, sw2, 0.1) == pytest.approx(
        sw2 * diff / (2 * h), rel=1e-6
    )


@pytest.mark.parametrize(("sw2", "sb2"), [(1.0, 0.05), (1.76, 0.05), (3.0, 0.3)])
def test_xi_q_matches_schoenholz_second_derivative_form(sw2, sb2):
    # ξ_q⁻¹ = −ln(χ₁ + σ_w² E[φ″(√q* z) φ(√q* z)]) with tanh″ = −2 tanh sech², by quad.
    q = theory.q_star("tanh", sw2, sb2)
    d2 = ref_1d(lambda u: -2 * np.tanh(u) ** 2 / np.cosh(u) ** 2, q)
    bracket = theory.chi1("tanh", sw2, sb2) + sw2 * d2
    assert theory.xi_q("tanh", sw2, sb2) == pytest.approx(-1 / math.log(bracket), rel=1e-6)


def test_xi_q_is_the_decay_length_of_the_length_profile():
    sw2, sb2, L = 2.5, 0.05, 25
    q = theory.length_profile("tanh", sw2, sb2, L, q_in=4.0)
    gap = np.abs(q - theory.q_star("tanh", sw2, sb2))
    measured = -1 / math.log(gap[-1] / gap[-2])  # one layer, deep in the linear regime
    assert measured == pytest.approx(theory.xi_q("tanh", sw2, sb2), rel=1e-3)


def test_xi_q_closed_forms():
    # relu: M(q) = σ_w² q/2 + σ_b², slope σ_w²/2 everywhere
    assert theory.xi_q("relu", 1.5, 0.2) == pytest.approx(-1 / math.log(0.75), rel=1e-12)
    assert theory.xi_q("relu", 1.0, 0.0) == pytest.approx(-1 / math.log(0.5), rel=1e-12)  # q* = 0
    assert theory.xi_q("relu", 3.0, 0.0) == pytest.approx(-1 / math.log(1.5), rel=1e-12)  # grows
    # tanh with σ_b² = 0, σ_w² < 1: q^{l+1} ≈ σ_w² q^l near q* = 0
    assert theory.xi_q("tanh", 0.5, 0.0) == pytest.approx(-1 / math.log(0.5), rel=1e-12)
    # linear with σ_b² > 0: M(q) = σ_w² q + σ_b²
    assert theory.xi_q("linear", 0.6, 0.1) == pytest.approx(-1 / math.log(0.6), rel=1e-12)


def test_bad_arguments_name_the_key():
    with pytest.raises(ValueError, match="activation='sigmod' is not allowed"):
        theory.xi_c("sigmod", 1.0, 0.0)
    with pytest.raises(ValueError, match=r"sigma_w2=-1\.0 is not allowed"):
        theory.c_star("tanh", -1.0, 0.0)
    with pytest.raises(ValueError, match=r"sigma_b2='0\.1' is not allowed"):
        theory.xi_q("tanh", 1.0, "0.1")
    with pytest.raises(
        ValueError, match=r"c=1\.5 is not allowed; it must be a number in \[-1, 1\]$"
    ):
        theory.correlation_map("tanh", 1.5, 2.0, 0.1)
    with pytest.raises(ValueError, match=r"q=0\.0 is not allowed"):
        theory.bivariate_expectation(np.multiply, 0.0, 0.5)
    with pytest.raises(ValueError, match=r"q=-1\.0 is not allowed"):
        theory.length_map_slope("tanh", -1.0, 1.0, 0.0)
