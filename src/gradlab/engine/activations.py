"""Activation functions φ, each with its derivative φ′ beside it and sup|φ′|.

Every function maps an array of pre-activations ``z`` (any shape) to an array of
the same shape and dtype.  ``sup_prime`` is the bound that enters the backprop
inequality ‖δ^l‖ ≤ sup|φ′| · ‖W^{l+1}‖₂ · ‖δ^{l+1}‖, which follows from the
recursion δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l) (notes, eq. 4).  For the sigmoid
sup|σ′| = σ′(0) = 1/4, so one layer multiplies ‖δ‖ by at most ¼‖W^{l+1}‖₂: with
‖W‖₂ ≤ 1 the error shrinks at least 4× per layer, with ‖W‖₂ > 4 it can grow.
Nielsen (ch. 5) turns σ′ ≤ 1/4 into the (1/4)^{L−l} heuristic for |w| ≤ 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from gradlab.engine import kernels
from gradlab.errors import check_choice

Array = np.ndarray

#: Slope of leaky_relu on the negative side (Maas et al. 2013).
LEAKY_SLOPE = 0.01


def _sigmoid(z: Array) -> Array:
    # expit is exact for every finite z and never overflows (no warnings).
    return expit(z)


def _exp_minus_abs(z: Array, scale: float = 1.0) -> Array:
    """e^{−scale·|z|} in one new floating array (in-place steps: no temporaries)."""
    e = np.abs(z)
    if not isinstance(e, np.ndarray) or e.dtype.kind != "f":  # scalars, integers
        return np.exp(-scale * np.asarray(e, dtype=np.result_type(e, 1.0)))
    e *= -scale
    return np.exp(e, out=e)


def _sigmoid_prime(z: Array) -> Array:
    # σ′(z) = σ(z)σ(−z) = σ(−|z|)σ(|z|) = e^{−|z|}/(1+e^{−|z|})²: symmetric and free
    # of the cancellation in σ(1−σ), so σ′(40) ≈ 4e−18 is kept rather than rounded
    # to 0.  The kernel of the forward pass, so a φ′ recomputed from z equals the
    # forward pass's bit for bit (gradlab.engine.kernels).
    return kernels.sigmoid_and_prime(z)[1]


def _tanh_prime(z: Array) -> Array:
    # 1 − tanh² computed as sech² = 4e^{−2|z|}/(1+e^{−2|z|})² keeps tiny values.
    e = _exp_minus_abs(z, 2.0)
    d = np.add(e, 1.0)
    d *= d
    e *= 4.0
    e /= d
    return e


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_prime(z: Array) -> Array:
    # Convention φ′(0) = 0 (as PyTorch); the kink has measure zero.
    return (z > 0).astype(z.dtype)


def _leaky_relu(z: Array) -> Array:
    # max(z, 0.01z) is z for z > 0 and 0.01z otherwise, as np.where(z > 0, …) but
    # without a branch per element (random signs would mispredict half of them).
    return np.maximum(z, LEAKY_SLOPE * z)


def _leaky_relu_prime(z: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype, copy=False)


def _linear(z: Array) -> Array:
    return z


def _linear_prime(z: Array) -> Array:
    return np.ones_like(z)


def _softplus(z: Array) -> Array:
    # ln(1 + e^z) = logaddexp(0, z): no overflow for large z, exact for small.
    return np.logaddexp(0.0, z)


#: SELU's λ and α (Klambauer et al. 2017): the values that make
#: (mean 0, variance 1) a stable fixed point of a lecun_normal network.
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def _selu(z: Array) -> Array:
    # λz for z > 0, λα(e^z − 1) otherwise; e^{min(z, 0)} never overflows and
    # expm1 keeps full accuracy just below 0.
    neg = SELU_LAMBDA * SELU_ALPHA * np.expm1(np.minimum(z, 0.0))
    return np.where(z > 0, SELU_LAMBDA * z, neg).astype(neg.dtype, copy=False)


def _selu_prime(z: Array) -> Array:
    # λ for z > 0, λα e^z otherwise (tiny, not rounded to 0, down to e^{−745});
    # the supremum λα ≈ 1.758 is approached as z → 0⁻.
    neg = SELU_LAMBDA * SELU_ALPHA * np.exp(np.minimum(z, 0.0))
    return np.where(z > 0, SELU_LAMBDA, neg).astype(neg.dtype, copy=False)


@dataclass(frozen=True)
class Activation:
    """An element-wise activation φ with its derivative.

    Attributes
    ----------
    name : str
        Registry key, as used in configs (``model.activation``).
    phi : callable
        φ(z), element-wise.
    phi_prime : callable
        φ′(z), element-wise.
    sup_prime : float
        sup_z |φ′(z)|, the factor in the backprop bound.
    phi_and_prime : callable, optional
        z ↦ (φ(z), φ′(z)) computed together, for activations where that shares
        work (the sigmoid's one exponential); must equal ``(phi(z), phi_prime(z))``
        to rounding.  None: the two are called separately.
    fused_bias : bool
        ``phi_and_prime(z, b)`` also adds the bias b to z in place, in the same
        pass (see :meth:`bias_value_and_prime`).
    """

    name: str
    phi: Callable[[Array], Array]
    phi_prime: Callable[[Array], Array]
    sup_prime: float
    phi_and_prime: Callable[..., tuple[Array, Array]] | None = None
    fused_bias: bool = False

    def __call__(self, z: Array) -> Array:
        return self.phi(z)

    def value_and_prime(self, z: Array) -> tuple[Array, Array]:
        """(φ(z), φ′(z)), each of the shape and dtype of ``z``."""
        if self.phi_and_prime is not None:
            return self.phi_and_prime(z)
        return self.phi(z), self.phi_prime(z)

    def bias_value_and_prime(self, z: Array, b: Array) -> tuple[Array, Array]:
        """z += b in place, then (φ(z), φ′(z)); one pass where the kernel is fused.

        z is (..., n, n_l) and b (..., n_l), added to every row of z.
        """
        if self.fused_bias:
            return self.phi_and_prime(z, b)
        z += b[..., None, :]
        return self.value_and_prime(z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid", _sigmoid, _sigmoid_prime, 0.25, kernels.sigmoid_and_prime, fused_bias=True
    ),
    "tanh": Activation("tanh", np.tanh, _tanh_prime, 1.0),
    "relu": Activation("relu", _relu, _relu_prime, 1.0),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_relu_prime, 1.0),
    "linear": Activation("linear", _linear, _linear_prime, 1.0),
    # softplus′ = sigmoid, whose supremum 1 is approached but never reached.
    "softplus": Activation("softplus", _softplus, _sigmoid, 1.0),
    "selu": Activation("selu", _selu, _selu_prime, SELU_LAMBDA * SELU_ALPHA),
}


def get_activation(name: str | Activation, key: str = "activation") -> Activation:
    """Look up an activation by name; ``key`` names the argument in errors."""
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS[check_choice(key, name, ACTIVATIONS)]
