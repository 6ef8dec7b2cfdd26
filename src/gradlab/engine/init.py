"""Weight initialisations, each drawn from an explicit ``np.random.Generator``.

Every scheme returns W^l of shape (n_l, n_{l-1}) = (fan_out, fan_in), optionally
with leading ensemble axes, scaled by ``gain``.  Variances:

=================  =====================================  ==========================
name               distribution                            source
=================  =====================================  ==========================
normal             N(0, g²)                                Nielsen ch. 1
lecun_normal       N(0, g²/fan_in)                         LeCun et al. 1998; Nielsen ch. 3
xavier_normal      N(0, 2g²/(fan_in+fan_out))              Glorot & Bengio 2010, eq. 12
xavier_uniform     U(±g√(6/(fan_in+fan_out)))              Glorot & Bengio 2010, eq. 16
he_normal          N(0, 2g²/fan_in)                        He et al. 2015, eq. 10
he_uniform         U(±g√(6/fan_in))                        He et al. 2015
orthogonal         g·Q, Q with orthonormal rows or cols   Saxe et al. 2013
=================  =====================================  ==========================

With ``lecun_normal`` and gain g the mean-field weight scale is σ_w = g
(Poole et al. 2016), so one family spans the ordered-to-chaotic range.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from gradlab.errors import check_choice

Array = np.ndarray


def _normal(rng, shape, std, dtype):
    return (std * rng.standard_normal(shape)).astype(dtype, copy=False)


def _uniform(rng, shape, limit, dtype):
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def _orthogonal(rng, shape, gain, dtype):
    # QR of a Gaussian matrix, with the signs of R's diagonal folded into Q so
    # that Q is Haar-distributed (Mezzadri 2007).  For n_l × n_{l-1} non-square,
    # the rows (n_l < n_{l-1}) or the columns (n_l > n_{l-1}) are orthonormal.
    *lead, rows, cols = shape
    tall = rows >= cols
    g = rng.standard_normal((*lead, max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(g)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    d[d == 0] = 1.0
    q = q * d[..., None, :]
    w = q if tall else np.swapaxes(q, -1, -2)
    return (gain * w).astype(dtype, copy=False)


InitFn = Callable[[np.random.Generator, tuple, float, np.dtype], Array]


def _scheme(kind: str, var: Callable[[int, int], float]) -> InitFn:
    """Build a scheme from its variance per unit gain, var(fan_in, fan_out)."""

    def draw(rng, shape, gain, dtype):
        fan_out, fan_in = shape[-2], shape[-1]
        v = gain**2 * var(fan_in, fan_out)
        if kind == "normal":
            return _normal(rng, shape, np.sqrt(v), dtype)
        # U(−c, c) has variance c²/3
        return _uniform(rng, shape, np.sqrt(3.0 * v), dtype)

    return draw


#: Var[W_ij] per unit gain as a function of (fan_in, fan_out), and the law it is drawn from.
VARIANCES: dict[str, tuple[str, Callable[[int, int], float]]] = {
    "normal": ("normal", lambda fi, fo: 1.0),
    "lecun_normal": ("normal", lambda fi, fo: 1.0 / fi),
    "xavier_normal": ("normal", lambda fi, fo: 2.0 / (fi + fo)),
    "xavier_uniform": ("uniform", lambda fi, fo: 2.0 / (fi + fo)),
    "he_normal": ("normal", lambda fi, fo: 2.0 / fi),
    "he_uniform": ("uniform", lambda fi, fo: 2.0 / fi),
    # Q has orthonormal rows or columns: mean entry variance 1/max(fan_in, fan_out)
    "orthogonal": ("orthogonal", lambda fi, fo: 1.0 / max(fi, fo)),
}

INITS: dict[str, InitFn] = {
    name: _orthogonal if kind == "orthogonal" else _scheme(kind, var)
    for name, (kind, var) in VARIANCES.items()
}


def weight_variance(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Var[W_ij] of a scheme; for ``orthogonal`` the mean entry variance."""
    return gain**2 * VARIANCES[check_choice("init", init, INITS)][1](fan_in, fan_out)


def init_weights(
    rng: np.random.Generator,
    sizes: list[int],
    init: str = "lecun_normal",
    gain: float = 1.0,
    dtype=np.float64,
    ensemble: tuple[int, ...] = (),
) -> list[Array]:
    """Draw W^1..W^L for layer sizes [n_0, …, n_L].

    Returns
    -------
    list of ndarray
        Index i holds W^{i+1}, shape (*ensemble, n_{i+1}, n_i).
    """
    draw = INITS[check_choice("init", init, INITS)]
    return [
        draw(rng, (*ensemble, n_out, n_in), gain, dtype)
        for n_in, n_out in itertools.pairwise(sizes)
    ]


def init_biases(
    rng: np.random.Generator,
    sizes: list[int],
    bias_std: float = 0.0,
    dtype=np.float64,
    ensemble: tuple[int, ...] = (),
) -> list[Array]:
    """Draw b^1..b^L ~ N(0, bias_std²); index i holds b^{i+1}, shape (*ensemble, n_{i+1})."""
    return [
        _normal(rng, (*ensemble, n), bias_std, dtype)
        if bias_std > 0
        else np.zeros((*ensemble, n), dtype=dtype)
        for n in sizes[1:]
    ]
