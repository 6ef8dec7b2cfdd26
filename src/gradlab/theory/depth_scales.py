"""Depth scales: over how many layers a random network remembers its input.

Two inputs x_a, x_b with pre-activations of equal variance q* and correlation
c^l = q^l_ab / q* evolve, in a wide network with W^l_ij ~ N(0, σ_w²/n_{l−1}) and
b^l_i ~ N(0, σ_b²), by the correlation map (Poole et al. 2016)

    c^{l+1} = C(c^l) = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*,
    u₁ = √q* z₁,  u₂ = √q* (c z₁ + √(1−c²) z₂),  z₁, z₂ ~ N(0, 1) independent.

C(1) = 1 always; c = 1 attracts when χ₁ ≤ 1 (ordered phase), and in the chaotic
phase (χ₁ > 1) correlations settle at a fixed point c* < 1.  Near the fixed
points (Schoenholz et al. 2017, §3, "asymptotic expansions and depth scales")

    q^l − q*  ∝ exp(−l/ξ_q),   ξ_q⁻¹ = −ln(χ₁ + σ_w² E_z[φ″(√q* z) φ(√q* z)]),
    c^l − c*  ∝ exp(−l/ξ_c),   ξ_c⁻¹ = −ln χ_c,   χ_c = σ_w² E[φ′(u₁)φ′(u₂)] at c*,

the latter being C′(c*) (Price's theorem: ∂E[φ(u₁)φ(u₂)]/∂(q*c) = E[φ′(u₁)φ′(u₂)]).
At c* = 1, χ_c = χ₁, so ξ_c diverges on the critical line χ₁ = 1, and
Schoenholz et al. find that networks train only when L ≲ 6 ξ_c.

Derivation of ξ_q used here: with M(q) = σ_w² E_z[φ(√q z)²] + σ_b² (the length
map), Stein's lemma E[z g(z)] = E[g′(z)] gives

    M′(q) = σ_w² E_z[z φ(√q z) φ′(√q z)] / √q = χ(q) + σ_w² E_z[φ″(√q z) φ(√q z)],

the paper's bracket.  The code evaluates the first form, which needs no φ″ and
is exact for the kinked activations (their φ″ is a delta at 0, where φ = 0).

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential expressivity in
deep neural networks through transient chaos", NeurIPS.
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation", ICLR.
Cho & Saul (2009), "Kernel methods for deep learning", NeurIPS (arc-cosine kernels).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import roots_legendre

from gradlab.engine.activations import Activation, get_activation
from gradlab.errors import check_number
from gradlab.theory.mean_field import chi1, depth_scale, q_star
from gradlab.theory.quadrature import gaussian_expectation

Array = np.ndarray

#: Gauss–Legendre nodes per panel of the polar rule: tanh, sigmoid and softplus
#: agree with scipy quad to 1e−11 for 1e−3 ≤ q ≤ 1000 (at c = 0 and 1).
NODES_PER_PANEL = 20
#: Radius beyond which the polar integrand is dropped: ∫_R^∞ r e^{−r²/2} dr = e^{−R²/2} < 3e−18.
R_MAX = 9.0
#: Closest distance 1 − c of a chaotic fixed point c* to 1 that is resolved; a c*
#: closer than this (χ₁ within about 1e−12 of 1) is returned as 1.
C_GAP_MIN = 2.0**-40
#: |C(0)| below which C(0) = 0 is taken as exact, so that c* = 0 (odd φ with σ_b² = 0).
C_ZERO_ATOL = 1e-14


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[Array, Array]:
    return roots_legendre(n)


def _graded_panels(lo: float, hi: float, first: float) -> tuple[Array, Array]:
    """Gauss–Legendre nodes and weights on [lo, hi], panels doubling in length away from lo.

    A panel of length ``first`` touches ``lo``; the integrand may vary on that
    scale there (the 1/√q scale of tanh and the sigmoid) and more slowly beyond.
    """
    edges = [lo]
    step = first
    while lo + step < hi:
        edges.append(lo + step)
        step *= 2.0
    edges.append(hi)
    x, w = _legendre(NODES_PER_PANEL)
    a, b = np.array(edges[:-1])[:, None], np.array(edges[1:])[:, None]  # (panels, 1)
    return (0.5 * (b - a) * x + 0.5 * (a + b)).ravel(), (0.5 * (b - a) * w).ravel()


def _check_c(c) -> float:
    c = check_number("c", c)
    if not -1.0 <= c <= 1.0:
        raise ValueError(f"c={c!r} is not allowed; it must be a number in [-1, 1]")
    return c


def bivariate_expectation(f: Callable[[Array, Array], Array], q: float, c: float) -> float:
    """E[f(u₁, u₂)] for u₁, u₂ ~ N(0, q) with correlation c, by a polar product rule.

    With (z₁, z₂) = r(cos θ, sin θ), u₁ = √q r cos θ and u₂ = √q r cos(θ − α),
    α = arccos c, and

        E[f] = (1/2π) ∫_0^π dθ ∫_0^∞ r e^{−r²/2} [f(u₁, u₂) + f(−u₁, −u₂)] dr.

    θ is split at π/2 and α + π/2 (mod π), where u₁ or u₂ changes sign, so the
    kinks of relu-like φ lie on panel edges and each panel's integrand is smooth;
    both θ-arcs and r ∈ [0, 9] are covered by Gauss–Legendre panels graded
    towards the places where f may vary on the scale 1/√q.  For piecewise-linear
    φ the rule is exact to rounding; for the smooth activations it agrees with
    scipy's quad (c = 0, 1) to 1e−11 and with dblquad (0 < |c| < 1) to 1e−9,
    the accuracy of those references, for 1e−3 ≤ q ≤ 1000.

    Parameters
    ----------
    f : callable
        f(u₁, u₂), element-wise on two ndarrays of one shape.
    q : float
        Variance of u₁ and of u₂, > 0.
    c : float
        Correlation of u₁ and u₂, in [−1, 1].

    Returns
    -------
    float
    """
    q = check_number("q", q, exclusive_minimum=0)
    alpha = float(np.arccos(_check_c(c)))
    root_q = np.sqrt(q)
    r, w_r = _graded_panels(0.0, R_MAX, 0.5 / root_q)  # (n_r,)
    w_r = w_r * r * np.exp(-0.5 * r * r)
    cuts = sorted({0.0, 0.5 * np.pi, (alpha + 0.5 * np.pi) % np.pi, np.pi})
    total = 0.0
    for lo, hi in itertools.pairwise(cuts):
        if hi - lo <= 0.0:
            continue
        mid = 0.5 * (lo + hi)
        # graded towards both ends of the arc, where u₁ or u₂ passes through 0
        half, w_half = _graded_panels(lo, mid, min(2.0 / (root_q * R_MAX), 0.25 * (hi - lo)))
        theta = np.concatenate([half, hi + lo - half])  # (n_θ,)
        w_theta = np.concatenate([w_half, w_half])
        u1 = root_q * r[:, None] * np.cos(theta)  # (n_r, n_θ)
        u2 = root_q * r[:, None] * np.cos(theta - alpha)  # (n_r, n_θ)
        total += w_r @ (f(u1, u2) + f(-u1, -u2)) @ w_theta
    return float(total / (2.0 * np.pi))


def _sigmas(sigma_w2, sigma_b2) -> tuple[float, float]:
    return (
        check_number("sigma_w2", sigma_w2, minimum=0),
        check_number("sigma_b2", sigma_b2, minimum=0),
    )


def _stationary_q(act: Activation, sigma_w2: float, sigma_b2: float, q0: float) -> float:
    """q* if it is finite and positive, else ``ValueError`` saying which limit it is."""
    q = q_star(act, sigma_w2, sigma_b2, q0)
    if not 0.0 < q < np.inf:
        raise ValueError(
            f"the correlation map needs a finite positive q*, and activation={act.name!r} "
            f"with sigma_w2={sigma_w2!r}, sigma_b2={sigma_b2!r} has q*={q!r}"
        )
    return q


def correlation_map(
    activation: str | Activation, c: float, sigma_w2: float, sigma_b2: float, q0: float = 1.0
) -> float:
    """One layer of the correlation map, c^{l+1} = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*.

    Poole et al. (2016), eq. for c^l; u₁, u₂ ~ N(0, q*) with correlation c^l
    (see the module docstring).  Defined where q* (from ``q0``, see
    :func:`gradlab.theory.q_star`) is finite and positive; ``ValueError`` otherwise.

    Returns
    -------
    float
        c^{l+1}; C(1) = 1.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _sigmas(sigma_w2, sigma_b2)
    return _correlation_step(act, _stationary_q(act, sigma_w2, sigma_b2, q0), c, sigma_w2, sigma_b2)


def _correlation_step(act: Activation, q: float, c: float, sigma_w2: float, sigma_b2: float):
    phi = act.phi
    return (sigma_w2 * bivariate_expectation(lambda a, b: phi(a) * phi(b), q, c) + sigma_b2) / q


def _fixed_point(
    act: Activation, sigma_w2: float, sigma_b2: float, q0: float
) -> tuple[float, float, float]:
    """(q*, c*, χ_c), shared by :func:`c_star` and :func:`chi_c`."""
    q = q_star(act, sigma_w2, sigma_b2, q0)
    if q == 0.0 or np.isinf(q):
        # The length never settles: q^{l+1}/q^l → ρ = σ_w² E[ψ(z)²] for ψ the
        # piecewise-linear limit of φ (its tangents at 0 or asymptotes at ∞), and
        # the slope of c ↦ c^{l+1} at c = 1 is σ_w² E[ψ′(z)²]/ρ = 1 exactly,
        # since E[ψ(z)²] = E[z² ψ′(z)²] = E[ψ′(z)²] for such ψ.
        return q, 1.0, 1.0
    chi = sigma_w2 * gaussian_expectation(lambda u: act.phi_prime(u) ** 2, q)
    if chi <= 1.0:
        return q, 1.0, chi

    def gap(c: float) -> float:  # C(c) − c
        return _correlation_step(act, q, c, sigma_w2, sigma_b2) - c

    # C is increasing and convex on [0, 1] (its derivatives are σ_w² q*^{k−1}
    # E[φ^(k)(u₁) φ^(k)(u₂)] ≥ 0 for c ≥ 0), C(0) ≥ 0 and C′(1) = χ₁ > 1: one
    # fixed point c* in [0, 1), with C(c) > c below it and C(c) < c above.
    g0 = gap(0.0)
    if g0 <= C_ZERO_ATOL:
        c = 0.0
    else:
        h = 0.5
        while gap(1.0 - h) >= 0.0:
            h *= 0.5
            if h < C_GAP_MIN:
                return q, 1.0, chi
        c = float(brentq(gap, 0.0, 1.0 - h, xtol=1e-15, rtol=1e-13))
    dphi = act.phi_prime
    return q, c, sigma_w2 * bivariate_expectation(lambda a, b: dphi(a) * dphi(b), q, c)


def c_star(
    activation: str | Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0
) -> float:
    """The correlation c* that two inputs with c^0 ≥ 0 reach deep in the network.

    Fixed point of :func:`correlation_map` (Poole et al. 2016; Schoenholz et
    al. 2017): 1 in the ordered phase and on the critical line (χ₁ ≤ 1); in the
    chaotic phase the fixed point in [0, 1), solved with brentq (tolerance
    1e−13; 0 exactly for odd φ with σ_b² = 0, where C(0) = 0).

    Parameters
    ----------
    activation : str or Activation
        φ, a key of :data:`gradlab.engine.activations.ACTIVATIONS`.
    sigma_w2, sigma_b2 : float
        n_{l−1}·Var[W^l_ij] and Var[b^l_i].
    q0 : float
        Starting length, passed to :func:`gradlab.theory.q_star`.

    Returns
    -------
    float
        c* in [0, 1].  Where q* is 0 or ∞ (e.g. relu with σ_b² = 0, tanh with
        σ_b² = 0 and σ_w² ≤ 1) the length never becomes stationary and c^l follows
        the map of φ's piecewise-linear limit, which fixes c = 1 with slope 1;
        1 is returned there.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _sigmas(sigma_w2, sigma_b2)
    return _fixed_point(act, sigma_w2, sigma_b2, q0)[1]


def chi_c(activation: str | Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    """χ_c = σ_w² E[φ′(u₁)φ′(u₂)] at c*, the slope C′(c*) of the correlation map.

    Schoenholz et al. (2017), §3: c^l − c* ∝ χ_c^l.  Arguments as :func:`c_star`.

    Returns
    -------
    float
        χ_c.  Equal to :func:`gradlab.theory.chi1` where c* = 1 and
        0 < q* < ∞ (ordered phase and critical line), < 1 in the chaotic phase;
        exactly 1 where q* is 0 or ∞ (see :func:`c_star`: correlations then
        approach 1 more slowly than any exponential).
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _sigmas(sigma_w2, sigma_b2)
    return _fixed_point(act, sigma_w2, sigma_b2, q0)[2]


def xi_c(activation: str | Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    """The correlation depth scale ξ_c = −1/ln χ_c (Schoenholz et al. 2017, §3).

    c^l − c* ∝ exp(−l/ξ_c); ξ_c diverges on the critical line (inf where χ_c is
    exactly 1).  Schoenholz et al. (2017) find that networks of depth
    L ≲ 6 ξ_c train and deeper ones do not.  Arguments as :func:`c_star`.
    """
    return depth_scale(chi_c(activation, sigma_w2, sigma_b2, q0))


def length_map_slope(
    activation: str | Activation, q: float, sigma_w2: float, sigma_b2: float
) -> float:
    """M′(q) = σ_w² E_z[z φ(√q z) φ′(√q z)]/√q = χ(q) + σ_w² E_z[φ″(√q z) φ(√q z)].

    The derivative of the length map :func:`gradlab.theory.length_map` (the
    second form is Schoenholz et al. 2017, §3; see the module docstring for the
    Stein's-lemma step).  σ_b² shifts M and not its slope; it is validated only.

    Parameters
    ----------
    q : float
        Length at which to differentiate, > 0.

    Returns
    -------
    float
    """
    act = get_activation(activation)
    sigma_w2, _ = _sigmas(sigma_w2, sigma_b2)
    q = check_number("q", q, exclusive_minimum=0)
    phi, dphi = act.phi, act.phi_prime
    return sigma_w2 * gaussian_expectation(lambda u: u * phi(u) * dphi(u), q) / q


def xi_q(activation: str | Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    """The length depth scale ξ_q = −1/ln M′(q*) (Schoenholz et al. 2017, §3).

    q^l − q* ∝ exp(−l/ξ_q) (:func:`length_map_slope`).  Unlike ξ_c it stays
    finite on the critical line of tanh with σ_b² > 0.  Arguments as :func:`c_star`.

    Returns
    -------
    float
        ξ_q.  Where q* is 0 or ∞ the slope is taken in that limit, where it is
        σ_w² E_z[φ′(√q* z)²] (:func:`gradlab.theory.chi1`): then ξ_q > 0 says
        q^l shrinks by e every ξ_q layers, a negative value that it grows by e
        every |ξ_q| layers, inf that it stays put.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _sigmas(sigma_w2, sigma_b2)
    q = q_star(act, sigma_w2, sigma_b2, q0)
    if q == 0.0 or np.isinf(q):
        return depth_scale(chi1(act, sigma_w2, sigma_b2, q0))
    return depth_scale(length_map_slope(act, q, sigma_w2, sigma_b2))
