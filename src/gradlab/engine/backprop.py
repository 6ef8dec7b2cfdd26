"""Forward pass and backpropagation over a batch, in the notes' notation.

Layers are l = 1..L; Python index i holds layer l = i + 1 for ``weights``,
``biases``, ``z`` and ``delta``, while ``a[0]`` is the input a^0 = x and
``a[l]`` is a^l.  The notes write column vectors (W^l a^{l-1}); here a batch is
a stack of rows, so every equation appears transposed:

    z^l   = a^{l-1} (W^l)ᵀ + b^l                         (notes §4, z = W a + b)
    a^l   = φ(z^l)
    δ^L   = ∂C_k/∂a^L ⊙ φ′(z^L)                           (eq. 1)
    δ^l   = (δ^{l+1} W^{l+1}) ⊙ φ′(z^l)                   (eq. 4: (W^{l+1})ᵀ δ^{l+1})
    ∇b^l  = (1/n) Σ_k δ^l_k                               (eq. 5, batch mean)
    ∇W^l  = (1/n) Σ_k δ^l_k (a^{l-1}_k)ᵀ = (δ^l)ᵀ a^{l-1} / n   (eq. 6)

Shapes, with an optional leading ensemble axis ``E`` (many independent
networks at once, Poole et al. 2016 style):
W^l (E, n_l, n_{l-1}); b^l (E, n_l); x (E or none, n, n_0); z^l, a^l, δ^l
(E, n, n_l).  Every product is ``@`` with ``swapaxes(-1, -2)`` so the same code
serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import Activation
from gradlab.engine.costs import Cost

Array = np.ndarray


@dataclass
class Trace:
    """Everything one backprop computes, per layer.

    Attributes
    ----------
    z : list of ndarray
        z[i] is z^{i+1}, shape (..., n, n_{i+1}).
    a : list of ndarray
        a[0] = x; a[l] is a^l, shape (..., n, n_l).
    phi_prime : list of ndarray
        phi_prime[i] is φ′(z^{i+1}), shape of z[i].
    delta : list of ndarray
        delta[i] is δ^{i+1} = ∂C_k/∂z^{i+1} per sample, shape of z[i].
    nabla_w : list of ndarray
        nabla_w[i] is ∂C/∂W^{i+1}, the batch mean, shape of W^{i+1}.
    nabla_b : list of ndarray
        nabla_b[i] is ∂C/∂b^{i+1}, the batch mean, shape of b^{i+1}.
    cost : float or ndarray
        Batch-mean cost C (one per ensemble member).
    """

    z: list[Array]
    a: list[Array]
    phi_prime: list[Array]
    delta: list[Array]
    nabla_w: list[Array]
    nabla_b: list[Array]
    cost: float | Array

    @property
    def num_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.z)


def _forward(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: Activation,
    output: Activation,
    with_primes: bool,
) -> tuple[list[Array], list[Array], list[Array] | None]:
    """Forward pass; also φ′(z^l) per layer when ``with_primes`` (for backward).

    φ′ computed here, beside φ, shares the work of both (the sigmoid's single
    exponential) and is exactly what ``backward`` would compute from z.
    """
    L = len(weights)
    zs: list[Array] = []
    activations = [x]
    primes: list[Array] | None = [] if with_primes else None
    a = x
    for i in range(L):
        phi = output if i == L - 1 else hidden
        # (..., n, n_{l-1}) @ (..., n_{l-1}, n_l) + (..., 1, n_l) -> (..., n, n_l)
        z = a @ weights[i].swapaxes(-1, -2)
        z += biases[i][..., None, :]
        if primes is None:
            a = phi.phi(z)
        else:
            a, prime = phi.value_and_prime(z)
            primes.append(prime)
        zs.append(z)
        activations.append(a)
    return zs, activations, primes


def forward(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: Activation,
    output: Activation,
) -> tuple[list[Array], list[Array]]:
    """Forward pass; returns (z, a) with a[0] = x (see module docstring)."""
    zs, activations, _ = _forward(weights, biases, x, hidden, output, with_primes=False)
    return zs, activations


def _backward(
    weights: list[Array],
    zs: list[Array],
    activations: list[Array],
    primes: list[Array] | None,
    y: Array,
    cost: Cost,
    hidden: Activation,
    output: Activation,
) -> Trace:
    """``backward`` with φ′(z^l) supplied by the forward pass, or None to compute it."""
    L = len(weights)
    n = zs[-1].shape[-2]
    if primes is None:
        primes = [None] * L  # type: ignore[list-item]
        primes[-1] = output.phi_prime(zs[-1])
    deltas: list[Array] = [None] * L  # type: ignore[list-item]
    nabla_w: list[Array] = [None] * L  # type: ignore[list-item]
    nabla_b: list[Array] = [None] * L  # type: ignore[list-item]

    delta = cost.delta(zs[-1], activations[-1], y, output)  # eq. 1, (..., n, n_L)
    for i in range(L - 1, -1, -1):
        deltas[i] = delta
        nb = np.add.reduce(delta, axis=-2)  # (..., n_l)
        nb *= 1.0 / n
        nabla_b[i] = nb  # eq. 5
        # (..., n_l, n) @ (..., n, n_{l-1}) -> (..., n_l, n_{l-1})   eq. 6
        nw = delta.swapaxes(-1, -2) @ activations[i]
        nw *= 1.0 / n
        nabla_w[i] = nw
        if i > 0:
            if primes[i - 1] is None:
                primes[i - 1] = hidden.phi_prime(zs[i - 1])
            # eq. 4 transposed: (..., n, n_{l+1}) @ (..., n_{l+1}, n_l) -> (..., n, n_l)
            delta = delta @ weights[i]
            delta *= primes[i - 1]
    value = cost.value(zs[-1], activations[-1], y)
    return Trace(zs, activations, primes, deltas, nabla_w, nabla_b, value)


def backward(
    weights: list[Array],
    zs: list[Array],
    activations: list[Array],
    y: Array,
    cost: Cost,
    hidden: Activation,
    output: Activation,
) -> Trace:
    """Backpropagate the output error δ^L to every layer (eqs. 1, 4, 5, 6)."""
    return _backward(weights, zs, activations, None, y, cost, hidden, output)


def backprop(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    y: Array,
    cost: Cost,
    hidden: Activation,
    output: Activation,
) -> Trace:
    """Forward then backward on one batch; no validation (see ``MLP.backprop``).

    φ′(z^l) is computed in the forward pass, beside φ (see ``_forward``); the
    result equals ``backward(weights, *forward(...), ...)`` to rounding.
    """
    zs, activations, primes = _forward(weights, biases, x, hidden, output, with_primes=True)
    return _backward(weights, zs, activations, primes, y, cost, hidden, output)
