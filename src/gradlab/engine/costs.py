"""Costs C = (1/n) Σ_k C_k over a batch, each paired with its output error δ^L.

As in Nielsen's ``network2.py``, a cost knows both its value and the output
error δ^L = ∂C_k/∂z^L that starts backpropagation (notes, eq. 1).  Arrays are
batches of rows: ``z``, ``a`` and ``y`` have shape (..., n, n_L); a leading
ensemble axis, if any, is carried through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, softmax

from gradlab.engine.activations import Activation
from gradlab.errors import check_choice

Array = np.ndarray


def _quadratic_value(z: Array, a: Array, y: Array) -> Array:
    # C_k = ½‖a^L_k − y_k‖²; mean over the batch axis.  Squared in place: one temporary.
    sq = np.subtract(a, y)
    np.square(sq, out=sq)
    return 0.5 * np.sum(sq, axis=-1).mean(axis=-1)


def _quadratic_delta(
    z: Array, a: Array, y: Array, phi: Activation, prime: Array | None = None
) -> Array:
    # δ^L = (a^L − y) ⊙ φ′(z^L)   (notes §3.2; §1–2 use (a−y)² and get 2(a−y)),
    # with the forward pass's φ′(z^L) when given (no second exponential).
    delta = np.subtract(a, y)
    delta *= phi.phi_prime(z) if prime is None else prime
    return delta


def _cross_entropy_value(z: Array, a: Array, y: Array) -> Array:
    # C_k = −Σ_j [y ln σ(z) + (1−y) ln(1−σ(z))] = Σ_j [softplus(z) − y z],
    # exact for any z (no log(0), no overflow).
    return np.sum(np.logaddexp(0.0, z) - y * z, axis=-1).mean(axis=-1)


def _cross_entropy_delta(
    z: Array, a: Array, y: Array, phi: Activation, prime: Array | None = None
) -> Array:
    # δ^L = a^L − y: the σ′ of the output cancels (Nielsen ch. 3, eq. 66).
    return a - y


def _softmax_cross_entropy_value(z: Array, a: Array, y: Array) -> Array:
    # C_k = −Σ_j y_j log softmax(z)_j = (Σ_j y_j) logsumexp(z) − Σ_j y_j z_j;
    # logsumexp shifts by max_j z_j, so no exp overflows and no log(0) occurs.
    lse = logsumexp(z, axis=-1)  # (..., n)
    return (np.sum(y, axis=-1) * lse - np.sum(y * z, axis=-1)).mean(axis=-1)


def _softmax_cross_entropy_delta(
    z: Array, a: Array, y: Array, phi: Activation, prime: Array | None = None
) -> Array:
    # δ^L = ∂C_k/∂z^L = (Σ_j y_j) softmax(z^L) − y, which is softmax(z^L) − y for
    # targets that sum to 1 (one-hot or probabilities); the output layer is linear.
    return np.sum(y, axis=-1, keepdims=True) * softmax(z, axis=-1) - y


@dataclass(frozen=True)
class Cost:
    """A cost and its output error.

    Attributes
    ----------
    name : str
        Registry key (``train.cost``).
    value : callable
        ``value(z, a, y)`` → batch-mean cost, shape ``z.shape[:-2]``.
    delta : callable
        ``delta(z, a, y, phi, prime=None)`` → δ^L, shape of ``z``; ``prime`` is
        φ′(z^L) if already computed (it is then not recomputed from z).
    output_activations : tuple of str or None
        Output activations the formula is valid for (None: any).
    """

    name: str
    value: Callable[[Array, Array, Array], Array]
    delta: Callable[..., Array]
    output_activations: tuple[str, ...] | None = None

    def check_output(self, output_activation: str) -> None:
        """Raise ``ValueError`` if this cost is not defined for ``output_activation``."""
        allowed = self.output_activations
        if allowed is not None and output_activation not in allowed:
            raise ValueError(
                f"output_activation={output_activation!r} is not allowed with "
                f"cost={self.name!r}; choose one of: {', '.join(allowed)}"
            )


COSTS: dict[str, Cost] = {
    "quadratic": Cost("quadratic", _quadratic_value, _quadratic_delta),
    "cross_entropy": Cost(
        "cross_entropy", _cross_entropy_value, _cross_entropy_delta, ("sigmoid",)
    ),
    "softmax_cross_entropy": Cost(
        "softmax_cross_entropy",
        _softmax_cross_entropy_value,
        _softmax_cross_entropy_delta,
        ("linear",),
    ),
}


def get_cost(name: str | Cost, key: str = "cost") -> Cost:
    """Look up a cost by name; ``key`` names the argument in errors."""
    if isinstance(name, Cost):
        return name
    return COSTS[check_choice(key, name, COSTS)]
