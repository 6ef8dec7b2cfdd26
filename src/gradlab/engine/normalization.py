"""Layer and batch normalisation of z^l, forward and backward, in the notes' notation.

Between the affine map and φ of a hidden layer,

    z^l = W^l a^{l-1} + b^l,   ž^l = γ^l ⊙ (z^l − μ) / √(σ² + ε) + β^l,   a^l = φ(ž^l),

where μ and σ² (biased) are taken over the units of each sample for layer norm
(Ba et al. 2016) and over the batch for each unit for batch norm (Ioffe &
Szegedy 2015).  Arrays are batches of rows, shape (..., n, n_l); γ and β have
shape (..., n_l).  The two differ only in the axis of μ and σ², so one pair of
functions serves both.

Backward, with g = ∂C_k/∂ž^l per sample (batch norm: g_k = n ∂C/∂ž^l_k, so that
its batch mean is still the gradient of the batch-mean cost) and x̂ = (z − μ)/σ̂:

    δ^l  = (1/σ̂) (γ g − mean(γ g) − x̂ mean(γ g ⊙ x̂))     (means over the norm's axis)
    ∇γ^l = (1/n) Σ_k g_k ⊙ x̂_k,    ∇β^l = (1/n) Σ_k g_k

which is the chain rule through μ and σ² (Ioffe & Szegedy 2015, §3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray

#: Added to σ² before the square root, as PyTorch's LayerNorm and BatchNorm1d.
EPS = 1e-5
#: Weight of the newest batch in the running statistics (PyTorch's default).
MOMENTUM = 0.1
#: The axis μ and σ² are taken over: each sample's units, or each unit's batch.
NORM_AXES = {"layer": -1, "batch": -2}


@dataclass(frozen=True)
class NormCache:
    """What backward needs from one normalised layer's forward pass.

    Attributes
    ----------
    x_hat : ndarray, shape (..., n, n_l)
        (z − μ)/√(σ² + ε).
    inv_std : ndarray
        1/√(σ² + ε); shape (..., n, 1) for layer norm, (..., 1, n_l) for batch norm.
    mean, var : ndarray
        μ and the biased σ², shape of ``inv_std``.
    """

    x_hat: Array
    inv_std: Array
    mean: Array
    var: Array


def normalize(
    kind: str, z: Array, gamma: Array, beta: Array, eps: float = EPS
) -> tuple[Array, NormCache]:
    """ž = γ ⊙ (z − μ)/√(σ² + ε) + β with the batch's own μ and σ² (training mode).

    Parameters
    ----------
    kind : str
        ``'layer'`` or ``'batch'`` (see :data:`NORM_AXES`).
    z : ndarray, shape (..., n, n_l)
        Affine pre-activations.
    gamma, beta : ndarray, shape (..., n_l)

    Returns
    -------
    z_norm : ndarray, shape of ``z``
    cache : NormCache
    """
    axis = NORM_AXES[kind]
    mean = z.mean(axis=axis, keepdims=True)
    x_hat = z - mean
    var = np.mean(x_hat * x_hat, axis=axis, keepdims=True)  # biased, as in training
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    z_norm = x_hat * gamma[..., None, :]
    z_norm += beta[..., None, :]
    return z_norm, NormCache(x_hat, inv_std, mean, var)


def normalize_running(
    z: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    eps: float = EPS,
) -> Array:
    """Batch norm in evaluation mode: ž = γ ⊙ (z − μ_run)/√(σ²_run + ε) + β.

    ``running_mean`` and ``running_var`` have shape (..., n_l); each sample is
    normalised on its own, so predictions do not depend on the batch.
    """
    scale = gamma / np.sqrt(running_var + eps)  # (..., n_l)
    shift = beta - running_mean * scale
    return z * scale[..., None, :] + shift[..., None, :]


def normalize_backward(
    kind: str, g: Array, cache: NormCache, gamma: Array
) -> tuple[Array, Array, Array]:
    """δ^l, ∇γ^l and ∇β^l from g = ∂C_k/∂ž^l (see the module docstring).

    Parameters
    ----------
    kind : str
        ``'layer'`` or ``'batch'``.
    g : ndarray, shape (..., n, n_l)
        Per-sample error at ž (batch norm: n × the gradient of the batch-mean cost).
    cache : NormCache
        From :func:`normalize` on the same batch.
    gamma : ndarray, shape (..., n_l)

    Returns
    -------
    delta : ndarray, shape of ``g``
        ∂C_k/∂z^l in the same scaling as ``g``.
    nabla_gamma, nabla_beta : ndarray, shape (..., n_l)
        Gradients of the batch-mean cost.
    """
    axis = NORM_AXES[kind]
    n = g.shape[-2]
    nabla_beta = np.add.reduce(g, axis=-2) / n
    nabla_gamma = np.add.reduce(g * cache.x_hat, axis=-2) / n
    gg = g * gamma[..., None, :]  # ∂C_k/∂x̂
    if kind == "batch":
        # the batch means of γg and γg⊙x̂ are γ∇β and γ∇γ: no second reduction
        m1 = (gamma * nabla_beta)[..., None, :]
        m2 = (gamma * nabla_gamma)[..., None, :]
    else:
        m1 = gg.mean(axis=axis, keepdims=True)
        m2 = np.mean(gg * cache.x_hat, axis=axis, keepdims=True)
    delta = gg - m1
    delta -= cache.x_hat * m2
    delta *= cache.inv_std
    return delta, nabla_gamma, nabla_beta


def update_running_stats(
    running_mean: Array,
    running_var: Array,
    cache: NormCache,
    momentum: float = MOMENTUM,
) -> None:
    """Move batch norm's running statistics toward this batch's, in place.

    μ_run ← (1 − m) μ_run + m μ and σ²_run ← (1 − m) σ²_run + m σ² n/(n − 1): the
    running variance takes the unbiased batch variance, as PyTorch's BatchNorm1d
    does, while the batch itself is normalised with the biased one.
    """
    n = cache.x_hat.shape[-2]
    unbiased = cache.var[..., 0, :] * (n / (n - 1))
    running_mean *= 1.0 - momentum
    running_mean += momentum * cache.mean[..., 0, :]
    running_var *= 1.0 - momentum
    running_var += momentum * unbiased
