"""What the gradient *should* do at initialisation: mean-field theory and classic bounds.

For a wide network with W^l_ij ~ N(0, σ_w²/n_{l-1}) and b^l_i ~ N(0, σ_b²), the
pre-activations z^l_i of one input are Gaussian with variance q^l, and

    q^l  = σ_w² E_z[φ(√q^{l−1} z)²] + σ_b²,   z ~ N(0, 1)     (Poole et al. 2016, length map)
    χ₁   = σ_w² E_z[φ′(√q* z)²]                                (Poole et al. 2016)
    E‖δ^l‖² = χ₁ E‖δ^{l+1}‖²                                    (Schoenholz et al. 2017, §3)

so E‖δ^l‖² ∝ χ₁^{L−l}: gradients vanish for χ₁ < 1 (ordered phase), explode for
χ₁ > 1 (chaotic phase); E‖δ^l‖² falls by e every ξ_∇ = −1/ln χ₁ layers, so ‖δ^l‖
itself falls by e every 2ξ_∇ layers.  The
backprop ratio holds for any widths, since W^{l+1} has fan-in n_l.

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential expressivity in
deep neural networks through transient chaos", NeurIPS.
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation", ICLR.
Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
neural networks", AISTATS.
He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers", ICCV.
Nielsen (2015), "Neural Networks and Deep Learning", ch. 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from gradlab.engine.activations import Activation, get_activation
from gradlab.engine.init import weight_variance
from gradlab.errors import check_number
from gradlab.theory.quadrature import gaussian_expectation

Array = np.ndarray

#: Lengths q below this are treated as 0 and above Q_MAX as divergent.
Q_MIN, Q_MAX = 1e-12, 1e12
#: Relative tolerance of the fixed point q*: |q − M(q)| ≤ Q_RTOL·q ends the search.
Q_RTOL = 1e-12
#: Iterations of the length map before the fixed point is polished with brentq; they
#: bring q into the basin of the attracting fixed point without skipping it.
WARMUP_ITERATIONS = 50


def _is_homogeneous(act: Activation) -> bool:
    """φ(cu) = c·φ(u) for c > 0 (relu, leaky_relu, linear), checked on a few points."""
    u = np.array([-2.0, -0.5, 0.5, 2.0])
    return bool(np.allclose(act.phi(3.0 * u), 3.0 * act.phi(u), rtol=1e-12, atol=0.0))


def _check_sigmas(sigma_w2, sigma_b2) -> tuple[float, float]:
    return (
        check_number("sigma_w2", sigma_w2, minimum=0),
        check_number("sigma_b2", sigma_b2, minimum=0),
    )


def length_map(activation: str | Activation, q: float, sigma_w2: float, sigma_b2: float) -> float:
    """One layer of the length map, q^l = σ_w² E_z[φ(√q^{l−1} z)²] + σ_b².

    Poole et al. (2016): the variance of z^l_i over weights and biases,
    given that of z^{l−1}.

    Parameters
    ----------
    activation : str or Activation
        φ, a key of :data:`gradlab.engine.activations.ACTIVATIONS`.
    q : float
        q^{l−1} ≥ 0.
    sigma_w2, sigma_b2 : float
        n_{l−1}·Var[W^l_ij] and Var[b^l_i].

    Returns
    -------
    float
        q^l.
    """
    phi = get_activation(activation).phi
    sigma_w2, sigma_b2 = _check_sigmas(sigma_w2, sigma_b2)
    q = check_number("q", q, minimum=0)
    return sigma_w2 * gaussian_expectation(lambda u: phi(u) ** 2, q) + sigma_b2


def q_star(
    activation: str | Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0
) -> float:
    """The fixed point q* the length map reaches from q0, lim_{l→∞} q^l.

    The map M is increasing in q for every activation here, so its iterates
    approach monotonically the nearest fixed point in the direction of M(q0) − q0.
    The map is iterated a few times, then that fixed point is bracketed by
    doubling (or halving) and solved with brentq to |q − M(q)| ≤ 1e-12·q.

    Parameters
    ----------
    activation : str or Activation
        φ.
    sigma_w2, sigma_b2 : float
        Weight and bias variances (see :func:`length_map`).
    q0 : float
        Starting length q^1 (for inputs x ~ N(0, v): q^1 = σ_w² v + σ_b²).  It
        matters only when M has more than one attracting fixed point.

    Returns
    -------
    float
        q* ≥ 0.  Special cases:

        * ``0.0`` when the length shrinks to zero (σ_b² = 0 and φ(0) = 0 in the
          ordered phase, e.g. tanh with σ_w² ≤ 1, relu with σ_w² < 2).
        * ``q0`` itself when q0 is already fixed, e.g. the marginal relu with
          σ_w² = 2, σ_b² = 0 (M(q) = q for every q: no unique q*).
        * ``inf`` when the length grows without bound (relu with σ_w² = 2 and
          σ_b² > 0, or σ_w² > 2).  For the positively homogeneous activations
          φ′² does not depend on q, so :func:`chi1` is still defined there.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _check_sigmas(sigma_w2, sigma_b2)
    q = check_number("q0", q0, minimum=0)
    if _is_homogeneous(act):
        # M(q) = s·q + σ_b² is affine, s = σ_w² E[φ(z)²]: solve it exactly.
        s = sigma_w2 * gaussian_expectation(lambda u: act.phi(u) ** 2, 1.0)
        if sigma_b2 == 0 and (q == 0 or abs(s - 1.0) <= Q_RTOL):
            return q
        return sigma_b2 / (1.0 - s) if s < 1.0 - Q_RTOL else np.inf

    def gap(q: float) -> float:  # M(q) − q
        return length_map(act, q, sigma_w2, sigma_b2) - q

    for _ in range(WARMUP_ITERATIONS):
        q = length_map(act, q, sigma_w2, sigma_b2)
        if q > Q_MAX:
            return np.inf
    g = gap(q)
    if abs(g) <= Q_RTOL * q:
        return q
    if g > 0:  # iterates rise towards the least fixed point above q
        lo, hi = q, max(2.0 * q, Q_MIN)
        while gap(hi) > 0:
            lo, hi = hi, 2.0 * hi
            if hi > Q_MAX:
                return np.inf
    else:  # iterates fall towards the greatest fixed point below q
        lo, hi = 0.5 * q, q
        while gap(lo) < 0:
            lo, hi = 0.5 * lo, lo
            if lo < Q_MIN:
                if gap(0.0) <= 0:  # M(0) = 0: the length decays to 0
                    return 0.0
                lo = 0.0
                break
    return float(brentq(gap, lo, hi, xtol=Q_MIN, rtol=Q_RTOL))


def chi1(activation: str | Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    """χ₁ = σ_w² E_z[φ′(√q* z)²], the mean per-layer factor of ‖δ^l‖².

    Poole et al. (2016); Schoenholz et al. (2017), §3 (gradients): for
    δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l) (notes, eq. 4), E‖δ^l‖² = χ₁ E‖δ^{l+1}‖²
    once z^l has reached the fixed-point variance q*.

    Parameters
    ----------
    activation : str or Activation
        φ.
    sigma_w2, sigma_b2 : float
        Weight and bias variances (see :func:`length_map`).
    q0 : float
        Starting length, passed to :func:`q_star`.

    Returns
    -------
    float
        χ₁ (< 1 ordered, = 1 critical, > 1 chaotic).  With q* = 0 or ∞ the limit
        of E_z[φ′(√q z)²] is used (see :func:`gaussian_expectation`): relu gives
        σ_w²/2 in every case.
    """
    act = get_activation(activation)
    q = q_star(act, sigma_w2, sigma_b2, q0)
    return sigma_w2 * gaussian_expectation(lambda u: act.phi_prime(u) ** 2, q)


def depth_scale(chi: float | Array) -> float | Array:
    """The gradient depth scale ξ_∇ = −1/ln χ₁ (Schoenholz et al. 2017, §3).

    E‖δ^l‖² ∝ exp(−(L−l)/ξ_∇): the mean squared error signal shrinks by e every ξ_∇
    layers, so its root ‖δ^l‖ shrinks by e every 2ξ_∇ layers.  Returns inf at
    χ₁ = 1, and a negative number for χ₁ > 1 (|ξ_∇| layers for E‖δ‖² to grow by e).
    Same shape as ``chi``.
    """
    chi = np.asarray(chi, dtype=np.float64)
    with np.errstate(divide="ignore"):
        xi = np.where(chi == 1.0, np.inf, -1.0 / np.log(chi))  # 1/(−0.0) would be −inf
    return xi if xi.ndim else float(xi)


def predicted_delta_sq(chi: float, L: int) -> Array:
    """Predicted E‖δ^l‖² / E‖δ^L‖² = χ₁^{L−l} for l = 1..L (Schoenholz et al. 2017).

    Returns
    -------
    ndarray, shape (L,)
        Entry l − 1 is χ₁^{L−l}; the last entry is 1.
    """
    L = check_number("L", L, integer=True, minimum=1)
    l = np.arange(1, L + 1)  # (L,)
    with np.errstate(over="ignore", divide="ignore"):
        return np.float64(chi) ** (L - l)


def length_profile(
    activation: str | Activation, sigma_w2: float, sigma_b2: float, L: int, q_in: float = 1.0
) -> Array:
    """q^l for l = 1..L from inputs of mean square q_in, transient included.

    q^1 = σ_w² q_in + σ_b² (a^0 = x enters W^1 without φ), then
    q^{l+1} = M(q^l) (:func:`length_map`).

    Returns
    -------
    ndarray, shape (L,)
    """
    sigma_w2, sigma_b2 = _check_sigmas(sigma_w2, sigma_b2)
    L = check_number("L", L, integer=True, minimum=1)
    q = [sigma_w2 * check_number("q_in", q_in, minimum=0) + sigma_b2]
    for _ in range(L - 1):
        q.append(length_map(activation, q[-1], sigma_w2, sigma_b2))
    return np.array(q)


def chi_profile(
    activation: str | Activation, sigma_w2: float, sigma_b2: float, L: int, q_in: float = 1.0
) -> Array:
    """χ(q^l) = σ_w² E_z[φ′(√q^l z)²] at every layer's own length q^l.

    Where q^l has not yet reached q* (the forward transient) the per-layer
    factor of ‖δ‖² is χ(q^l) rather than χ₁; it tends to χ₁ with depth.
    Example: tanh with σ_w² = 1, σ_b² = 0 has q^l ≈ 1/(2l) → 0 only
    algebraically, so χ(q^l) ≈ 1 − 1/l stays below χ₁ = 1 for many layers.

    Returns
    -------
    ndarray, shape (L,)
        Entry l − 1 is χ(q^l), with q^l from :func:`length_profile`.
    """
    act = get_activation(activation)
    q = length_profile(act, sigma_w2, sigma_b2, L, q_in)
    return np.array(
        [sigma_w2 * gaussian_expectation(lambda u: act.phi_prime(u) ** 2, ql) for ql in q]
    )


def predicted_delta_sq_profile(
    activation: str | Activation, sigma_w2: float, sigma_b2: float, L: int, q_in: float = 1.0
) -> Array:
    """E‖δ^l‖² / E‖δ^L‖² = Π_{k=l}^{L−1} χ(q^k), the transient-aware version of χ₁^{L−l}.

    Each backward step δ^k = ((W^{k+1})ᵀ δ^{k+1}) ⊙ φ′(z^k) multiplies E‖δ‖² by
    σ_w² E[φ′(z^k)²] = χ(q^k) (Schoenholz et al. 2017), see :func:`chi_profile`.

    Returns
    -------
    ndarray, shape (L,)
        Entry l − 1 is Π_{k=l}^{L−1} χ(q^k); the last entry is 1.
    """
    chi = chi_profile(activation, sigma_w2, sigma_b2, L, q_in)[:-1]  # χ(q^1)..χ(q^{L−1})
    with np.errstate(over="ignore", under="ignore"):
        # reverse cumulative product: entry l−1 multiplies χ(q^l)..χ(q^{L−1})
        return np.append(np.cumprod(chi[::-1])[::-1], 1.0)


def sigmoid_bound(L: int, weight_bound: float = 1.0) -> Array:
    """Nielsen's envelope (|w|·¼)^{L−l} of |δ^l / δ^L| for a sigmoid chain.

    In a chain of one unit per layer each layer multiplies δ by w·σ′(z) and
    σ′ ≤ ¼, so with |w| ≤ ``weight_bound`` the factor over L − l layers is at most
    (weight_bound/4)^{L−l} (Nielsen 2015, ch. 5).  For layers of many units the
    rigorous version replaces |w| by ‖W‖₂ (:func:`gradlab.engine.diagnostics.sigma_bound`);
    with (1/4)^{L−l} itself it is a heuristic, not a bound.

    Returns
    -------
    ndarray, shape (L,)
        Entry l − 1 is (weight_bound/4)^{L−l}.
    """
    weight_bound = check_number("weight_bound", weight_bound, minimum=0)
    return predicted_delta_sq(weight_bound / 4.0, L)


@dataclass(frozen=True)
class VarianceProducts:
    """The variance products that initialisation schemes set to 1.

    Attributes
    ----------
    forward : float
        fan_in · Var[W] (Glorot & Bengio 2010, eq. 10: n_i Var[W^i] = 1).
    backward : float
        fan_out · Var[W] (Glorot & Bengio 2010, eq. 11: n_{i+1} Var[W^i] = 1).
    he_forward : float
        ½ · fan_in · Var[W] (He et al. 2015, eq. 10, for ReLU).
    he_backward : float
        ½ · fan_out · Var[W] (He et al. 2015, eq. 14, for ReLU).
    """

    forward: float
    backward: float
    he_forward: float
    he_backward: float


def variance_products(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> VarianceProducts:
    """The Glorot–Bengio and He products of a scheme (see :class:`VarianceProducts`).

    For ``orthogonal`` Var[W] is the mean entry variance
    (:func:`gradlab.engine.init.weight_variance`).
    """
    var = weight_variance(init, fan_in, fan_out, gain)
    return VarianceProducts(fan_in * var, fan_out * var, 0.5 * fan_in * var, 0.5 * fan_out * var)


def sigma_w2_of(init: str, gain: float, fan_in: int, fan_out: int) -> float:
    """The mean-field σ_w² = fan_in · Var[W] of a scheme (Poole et al. 2016).

    With ``lecun_normal`` and gain g, σ_w = g; ``he_normal`` gives 2g²; square
    ``orthogonal`` g·Q gives g² (and preserves lengths exactly, not only on average).
    """
    return fan_in * weight_variance(init, fan_in, fan_out, gain)


def critical_sigma_w2(activation: str | Activation, sigma_b2: float = 0.0) -> float:
    """The σ_w² on the edge of chaos, χ₁(σ_w², σ_b²) = 1 (Schoenholz et al. 2017).

    Solved with brentq on χ₁ − 1, which increases with σ_w².  For tanh it is 1
    at σ_b² = 0 and rises with σ_b²; for relu it is 2 for every σ_b² (He et al.
    2015); for leaky_relu 2/(1 + 0.01²); for linear 1.

    Returns
    -------
    float
        σ_w², to a relative accuracy of about 1e-10.
    """
    act = get_activation(activation)
    sigma_b2 = check_number("sigma_b2", sigma_b2, minimum=0)

    def excess(s: float) -> float:
        return chi1(act, s, sigma_b2) - 1.0

    lo, hi = 0.5, 1.0
    while excess(lo) > 0:
        lo *= 0.5
    while excess(hi) < 0:
        lo, hi = hi, 2.0 * hi
        if hi > Q_MAX:
            raise ValueError(
                f"activation={act.name!r} has no critical sigma_w2 below {Q_MAX:g} "
                f"at sigma_b2={sigma_b2!r}"
            )
    return float(brentq(excess, lo, hi, xtol=1e-14, rtol=1e-12))
