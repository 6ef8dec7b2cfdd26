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

With :class:`Remedies` a hidden layer may normalise z^l before φ and add a skip
(see :mod:`gradlab.engine.normalization` for ž^l):

    a^l   = [skip] a^{l-1} + s_l φ(ž^l)                  (s_l = α with a skip, else 1)
    ∂C_k/∂a^l = δ^{l+1} W^{l+1} + [skip at l+1] ∂C_k/∂a^{l+1}   (the skip's identity term)
    ∂C_k/∂ž^l = ∂C_k/∂a^l ⊙ s_l φ′(ž^l),   δ^l = ∂C_k/∂z^l through the norm
                                                     (ž^l = z^l in a layer without one)

δ^l keeps its meaning (∂C_k/∂z^l of the affine z^l), so eqs. 5 and 6 are unchanged.
Without remedies none of these steps runs: the plain path does the same
operations as before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import Activation
from gradlab.engine.costs import Cost
from gradlab.engine.kernels import scale_and_sum
from gradlab.engine.normalization import (
    EPS,
    NormCache,
    normalize,
    normalize_backward,
    normalize_running,
)

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
        delta[i] is δ^{i+1} = ∂C_k/∂z^{i+1} per sample, shape of z[i]; z is the
        affine z (before any norm).  Batch norm couples the samples, and there
        δ^l_k = n ∂C/∂z^l_k, so that nabla_b[i] is still the batch mean of delta[i].
    nabla_w : list of ndarray
        nabla_w[i] is ∂C/∂W^{i+1}, the batch mean, shape of W^{i+1}.
    nabla_b : list of ndarray
        nabla_b[i] is ∂C/∂b^{i+1}, the batch mean, shape of b^{i+1}.
    cost : float or ndarray
        Batch-mean cost C (one per ensemble member).
    nabla_gamma, nabla_beta : list of (ndarray or None)
        ∂C/∂γ^{i+1} and ∂C/∂β^{i+1}, shape (..., n_{i+1}); None where layer
        i + 1 has no norm (every layer of a plain network).
    z_norm : list of (ndarray or None)
        ž^{i+1}, the normalised pre-activation φ is applied to (so phi_prime[i]
        is φ′(ž^{i+1})); None where layer i + 1 has no norm.
    norm_cache : list of (NormCache or None)
        Batch statistics of each normalised layer (training mode), else None.
    """

    z: list[Array]
    a: list[Array]
    phi_prime: list[Array]
    delta: list[Array]
    nabla_w: list[Array]
    nabla_b: list[Array]
    cost: float | Array
    nabla_gamma: list[Array | None] | None = None
    nabla_beta: list[Array | None] | None = None
    z_norm: list[Array | None] | None = None
    norm_cache: list[NormCache | None] | None = None

    def __post_init__(self) -> None:
        none = [None] * len(self.z)
        for name in ("nabla_gamma", "nabla_beta", "z_norm", "norm_cache"):
            if getattr(self, name) is None:
                setattr(self, name, list(none))

    @property
    def num_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.z)

    def gradients(self) -> list[Array]:
        """[∇W^1, ∇b^1, …, ∇W^L, ∇b^L, then ∇γ^l, ∇β^l of each normalised layer].

        The order of ``MLP.parameters()``, for an optimiser's ``step``.
        """
        grads = [g for pair in zip(self.nabla_w, self.nabla_b, strict=True) for g in pair]
        for ng, nb in zip(self.nabla_gamma, self.nabla_beta, strict=True):
            if ng is not None:
                grads += [ng, nb]
        return grads


@dataclass
class Remedies:
    """Skips and normalisation of the hidden layers; arrays are updated in place.

    Attributes
    ----------
    skip : list of bool, length L
        skip[i]: layer i + 1 computes a^l = a^{l-1} + α φ(ž^l).
    residual_scale : float
        α.
    norm : str or None
        ``'layer'``, ``'batch'`` or None, on layers 1..L−1.
    gamma, beta : list of (ndarray or None), length L
        γ^l and β^l, shape (..., n_l); None at layers without a norm.
    running_mean, running_var : list of (ndarray or None), length L
        Batch norm's running μ and σ² for evaluation; None otherwise.
    eps : float
        ε under the square root.
    """

    skip: list[bool]
    residual_scale: float = 1.0
    norm: str | None = None
    gamma: list[Array | None] | None = None
    beta: list[Array | None] | None = None
    running_mean: list[Array | None] | None = None
    running_var: list[Array | None] | None = None
    eps: float = EPS


def _norm_forward(
    rem: Remedies, i: int, z: Array, training: bool
) -> tuple[Array, NormCache | None]:
    """ž^{i+1} of a normalised layer, and its batch statistics in training mode."""
    if training or rem.norm == "layer":
        return normalize(rem.norm, z, rem.gamma[i], rem.beta[i], rem.eps)
    z_norm = normalize_running(
        z, rem.gamma[i], rem.beta[i], rem.running_mean[i], rem.running_var[i], rem.eps
    )
    return z_norm, None


def _forward(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: Activation,
    output: Activation,
    with_primes: bool,
    remedies: Remedies | None = None,
    training: bool = True,
) -> tuple[list[Array], list[Array], list[Array] | None, list, list]:
    """Forward pass; also φ′(ž^l) per layer when ``with_primes`` (for backward).

    φ′ computed here, beside φ, shares the work of both (the sigmoid's single
    exponential) and is exactly what ``backward`` would compute from z.
    Returns (z, a, φ′ or None, ž, norm caches); the last two hold None at every
    layer without a norm.  ``training`` picks batch norm's batch statistics
    (True) or its running ones (False).
    """
    L = len(weights)
    zs: list[Array] = []
    activations = [x]
    primes: list[Array] | None = [] if with_primes else None
    z_norms: list[Array | None] = [None] * L
    caches: list[NormCache | None] = [None] * L
    rem = remedies
    a = x
    for i in range(L):
        phi = output if i == L - 1 else hidden
        # (..., n, n_{l-1}) @ (..., n_{l-1}, n_l) + (..., 1, n_l) -> (..., n, n_l)
        z = a @ weights[i].swapaxes(-1, -2)
        normed = rem is not None and rem.norm is not None and i < L - 1
        if primes is not None and not normed:
            a_next, prime = phi.bias_value_and_prime(z, biases[i])  # z += b^l; φ, φ′
            primes.append(prime)
        else:
            z += biases[i][..., None, :]
            z_in = z
            if normed:
                z_in, caches[i] = _norm_forward(rem, i, z, training)
                z_norms[i] = z_in
            if primes is None:
                a_next = phi.phi(z_in)
            else:
                a_next, prime = phi.value_and_prime(z_in)
                primes.append(prime)
        if rem is not None and rem.skip[i]:
            a_next = a + rem.residual_scale * a_next  # a^l = a^{l-1} + α φ(ž^l)
        a = a_next
        zs.append(z)
        activations.append(a)
    return zs, activations, primes, z_norms, caches


def forward(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: Activation,
    output: Activation,
    remedies: Remedies | None = None,
    training: bool = True,
) -> tuple[list[Array], list[Array]]:
    """Forward pass; returns (z, a) with a[0] = x (see module docstring).

    ``training=False`` normalises batch-norm layers with their running statistics.
    """
    zs, activations, *_ = _forward(weights, biases, x, hidden, output, False, remedies, training)
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
    remedies: Remedies | None = None,
    z_norms: list[Array | None] | None = None,
    caches: list[NormCache | None] | None = None,
) -> Trace:
    """``backward`` with φ′ supplied by the forward pass, or None to compute it from z.

    With ``remedies``, ``primes``, ``z_norms`` and ``caches`` come from
    ``_forward`` in training mode.
    """
    L = len(weights)
    n = zs[-1].shape[-2]
    rem = remedies
    if primes is None:
        primes = [None] * L  # type: ignore[list-item]
        primes[-1] = output.phi_prime(zs[-1])
    deltas: list[Array] = [None] * L  # type: ignore[list-item]
    nabla_w: list[Array] = [None] * L  # type: ignore[list-item]
    nabla_b: list[Array] = [None] * L  # type: ignore[list-item]
    nabla_gamma: list[Array | None] = [None] * L
    nabla_beta: list[Array | None] = [None] * L
    grad_a = None  # ∂C_k/∂a^l, kept only while a skip at layer l needs it

    delta = cost.delta(zs[-1], activations[-1], y, output, primes[-1])  # eq. 1, (..., n, n_L)
    nb = np.add.reduce(delta, axis=-2)  # Σ_k δ^l_k, (..., n_l)
    for i in range(L - 1, -1, -1):
        deltas[i] = delta
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
            if rem is None:
                nb = scale_and_sum(delta, primes[i - 1])  # δ^l ⊙= φ′(z^l); Σ_k δ^l_k
                continue
            if rem.skip[i]:
                delta += grad_a  # the skip of layer l+1 passes ∂C_k/∂a^{l+1} on unchanged
            if rem.skip[i - 1]:
                grad_a = delta  # layer l's own skip will need ∂C_k/∂a^l
                delta = delta * primes[i - 1]
                delta *= rem.residual_scale
            else:
                delta *= primes[i - 1]
            if caches is not None and caches[i - 1] is not None:
                delta, nabla_gamma[i - 1], nabla_beta[i - 1] = normalize_backward(
                    rem.norm, delta, caches[i - 1], rem.gamma[i - 1]
                )
            nb = np.add.reduce(delta, axis=-2)
    value = cost.value(zs[-1], activations[-1], y)
    trace = Trace(zs, activations, primes, deltas, nabla_w, nabla_b, value)
    if rem is not None:
        trace.nabla_gamma, trace.nabla_beta = nabla_gamma, nabla_beta
        trace.z_norm, trace.norm_cache = z_norms, caches
    return trace


def backward(
    weights: list[Array],
    zs: list[Array],
    activations: list[Array],
    y: Array,
    cost: Cost,
    hidden: Activation,
    output: Activation,
) -> Trace:
    """Backpropagate the output error δ^L to every layer (eqs. 1, 4, 5, 6).

    For plain networks only: φ′ is recomputed from the affine z^l, which is what
    φ sees only when no layer is normalised.
    """
    return _backward(weights, zs, activations, None, y, cost, hidden, output)


def backprop(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    y: Array,
    cost: Cost,
    hidden: Activation,
    output: Activation,
    remedies: Remedies | None = None,
) -> Trace:
    """Forward then backward on one batch; no validation (see ``MLP.backprop``).

    φ′(z^l) is computed in the forward pass, beside φ (see ``_forward``); the
    result equals ``backward(weights, *forward(...), ...)`` to rounding.  With
    ``remedies`` batch norm uses the batch's statistics (training mode) and the
    running statistics are left alone (``MLP.backprop`` updates them).
    """
    zs, activations, primes, z_norms, caches = _forward(
        weights, biases, x, hidden, output, True, remedies, True
    )
    return _backward(
        weights, zs, activations, primes, y, cost, hidden, output, remedies, z_norms, caches
    )
