"""Activation functions φ, each with its derivative φ′ beside it and sup|φ′|.

Every function maps an array of pre-activations ``z`` (any shape) to an array of
the same shape and dtype.  ``sup_prime`` is the bound that enters the backprop
inequality ‖δ^l‖ ≤ sup|φ′| · ‖W^{l+1}‖₂ · ‖δ^{l+1}‖ (notes, eq. 4): 1/4 for the
sigmoid, which is the origin of the (1/4)^{L−l} vanishing law.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from gradlab.errors import check_choice

Array = np.ndarray

#: Slope of leaky_relu on the negative side (Maas et al. 2013).
LEAKY_SLOPE = 0.01


def _sigmoid(z: Array) -> Array:
    # expit is exact for every finite z and never overflows (no warnings).
    return expit(z)


def _sigmoid_prime(z: Array) -> Array:
    # σ′(z) = σ(z)σ(−z) = e^{−|z|} / (1 + e^{−|z|})²: symmetric and free of the
    # cancellation in σ(1−σ), so σ′(40) ≈ 4e−18 is kept rather than rounded to 0.
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


def _tanh_prime(z: Array) -> Array:
    # 1 − tanh² computed as sech² = 4e^{−2|z|}/(1+e^{−2|z|})² keeps tiny values.
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_prime(z: Array) -> Array:
    # Convention φ′(0) = 0 (as PyTorch); the kink has measure zero.
    return (z > 0).astype(z.dtype)


def _leaky_relu(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_prime(z: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype, copy=False)


def _linear(z: Array) -> Array:
    return z


def _linear_prime(z: Array) -> Array:
    return np.ones_like(z)


def _softplus(z: Array) -> Array:
    # ln(1 + e^z) = logaddexp(0, z): no overflow for large z, exact for small.
    return np.logaddexp(0.0, z)


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
    """

    name: str
    phi: Callable[[Array], Array]
    phi_prime: Callable[[Array], Array]
    sup_prime: float

    def __call__(self, z: Array) -> Array:
        return self.phi(z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_prime, 0.25),
    "tanh": Activation("tanh", np.tanh, _tanh_prime, 1.0),
    "relu": Activation("relu", _relu, _relu_prime, 1.0),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_relu_prime, 1.0),
    "linear": Activation("linear", _linear, _linear_prime, 1.0),
    # softplus′ = sigmoid, whose supremum 1 is approached but never reached.
    "softplus": Activation("softplus", _softplus, _sigmoid, 1.0),
}


def get_activation(name: str | Activation, key: str = "activation") -> Activation:
    """Look up an activation by name; ``key`` names the argument in errors."""
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS[check_choice(key, name, ACTIVATIONS)]
