"""Which side of the edge of chaos a network sits on, and by how much gradients grow there.

Pure functions over the mean-field formulas of :mod:`gradlab.theory.mean_field`
(Schoenholz et al. 2017, "Deep Information Propagation"): the critical line
χ₁ = 1 in the (σ_w², σ_b²) plane, the phase of a point, and the χ₁ of an MLP
as a training config describes it.
"""

from __future__ import annotations

import numpy as np

from gradlab.engine.activations import Activation
from gradlab.theory.mean_field import chi1, critical_sigma_w2, predicted_delta_sq, sigma_w2_of

Array = np.ndarray

#: |ln χ₁| up to which a point counts as critical.  χ₁ comes from Gauss–Hermite
#: quadrature accurate to about 1e-12, so a point on the line (tanh at σ_w² = 1,
#: σ_b² = 0, where χ₁ = 1 exactly) lands well inside, and the nearest grid cells of
#: the presets (|ln χ₁| ≥ 0.05) well outside.
CRITICAL_TOLERANCE = 1e-6

PHASES = ("ordered", "critical", "chaotic")


def critical_curve(activation: str | Activation, sigma_b2) -> Array:
    """σ_w² on the line χ₁(σ_w², σ_b²) = 1 for each σ_b² (:func:`critical_sigma_w2`).

    Parameters
    ----------
    sigma_b2 : array_like, shape (n,)

    Returns
    -------
    ndarray, shape (n,)
    """
    return np.array([critical_sigma_w2(activation, float(b)) for b in np.ravel(sigma_b2)])


def phase_of(ln_chi1, tolerance: float = CRITICAL_TOLERANCE) -> Array:
    """'ordered' (ln χ₁ < 0: E‖δ^l‖² vanishes towards the input), 'chaotic' (> 0: it
    explodes) or 'critical' (|ln χ₁| ≤ ``tolerance``), elementwise.

    Returns
    -------
    ndarray of str, the shape of ``ln_chi1``
    """
    x = np.asarray(ln_chi1, dtype=float)
    return np.where(np.abs(x) <= tolerance, "critical", np.where(x < 0, "ordered", "chaotic"))


def mlp_chi1(
    activation: str | Activation, init: str, gain: float, width: int, bias_std: float
) -> tuple[float, float, float]:
    """(σ_w², σ_b², χ₁) of the hidden layers of an MLP of constant ``width``.

    σ_w² = n·Var[W] of the initialisation (:func:`sigma_w2_of`), σ_b² = bias_std²
    (biases drawn N(0, bias_std²)), χ₁ of :func:`chi1` at that point.
    """
    sw2 = sigma_w2_of(init, float(gain), int(width), int(width))
    sb2 = float(bias_std) ** 2
    return sw2, sb2, chi1(activation, sw2, sb2)


def predicted_norm_from_output(chi: float, L: int) -> Array:
    """Predicted ‖δ^l‖ / ‖δ^L‖ = χ₁^{(L−l)/2} for l = 1..L: the square root of
    :func:`predicted_delta_sq`, since χ₁ is the per-layer factor of E‖δ‖².

    Returns
    -------
    ndarray, shape (L,)
    """
    return np.sqrt(predicted_delta_sq(chi, L))
