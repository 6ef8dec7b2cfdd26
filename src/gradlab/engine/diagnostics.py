"""Per-layer statistics of a backprop trace: the quantities the study is about.

Every column of :func:`layer_table` is defined once, in :data:`gradlab.names.COLUMNS`
(names are part of the interface); the tracking, report and documentation code
reads them from that table.
Layers are l = 1..L as in the notes; row i of the table is layer l = i + 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gradlab.engine.activations import Activation
from gradlab.engine.backprop import Trace
from gradlab.engine.spectral import spectral_norm
from gradlab.names import COLUMNS

Array = np.ndarray

#: A unit counts as saturated when its batch-mean φ′ falls below this share of sup|φ′|.
SATURATION_THRESHOLD = 0.1


def sigma_bound(delta_rms_out: float, spectral: Array, sup_prime: float) -> Array:
    """Upper bound on delta_rms of every layer, from the output error.

    Parameters
    ----------
    delta_rms_out : float
        rms ‖δ^L_k‖ over the batch.
    spectral : ndarray, shape (L,)
        ‖W^l‖₂ for l = 1..L.
    sup_prime : float
        sup|φ′| of the hidden activation (applied at layers 1..L−1).

    Returns
    -------
    ndarray, shape (L,)
        bound[l−1] = ‖δ^L‖ Π_{k=l+1}^{L} sup|φ′|·‖W^k‖₂ (empty product at l = L).
    """
    factors = sup_prime * np.asarray(spectral, dtype=np.float64)[1:]  # k = 2..L
    # reverse cumulative product: bound^l = bound^{l+1} · sup|φ′| ‖W^{l+1}‖₂
    tail = np.cumprod(factors[::-1])[::-1]
    with np.errstate(over="ignore", invalid="ignore"):
        return delta_rms_out * np.append(tail, 1.0)


class SpectralCache:
    """Remembers each layer's top singular vector between calls (warm start)."""

    def __init__(self, rtol: float = 1e-9) -> None:
        self.rtol = rtol
        self._v: dict[int, Array] = {}

    def __call__(self, weights: list[Array]) -> Array:
        """‖W^l‖₂ for every layer, shape (L,)."""
        out = np.empty(len(weights))
        for i, w in enumerate(weights):
            v0 = self._v.get(i)
            if v0 is not None and v0.shape[0] != w.shape[-1]:
                v0 = None
            out[i], self._v[i] = spectral_norm(w, v0, self.rtol)
        return out

    def copy(self) -> SpectralCache:
        """A cache with the same warm starts (they are never modified in place)."""
        new = SpectralCache(self.rtol)
        new._v = dict(self._v)
        return new


def _norm(x: Array) -> float:
    """‖x‖₂ (Frobenius for a matrix) as one BLAS dot product, without temporaries."""
    return math.sqrt(float(np.vdot(x, x)))


def layer_table(
    trace: Trace,
    weights: list[Array],
    hidden: Activation,
    output: Activation,
    spectral: Array | SpectralCache | None = None,
) -> pd.DataFrame:
    """One row per layer l = 1..L with every column of ``COLUMNS``.

    Parameters
    ----------
    trace : Trace
        From ``MLP.backprop`` (no ensemble axis).
    weights : list of ndarray
        W^1..W^L the trace was computed with.
    hidden, output : Activation
        φ of layers 1..L−1 and of layer L.
    spectral : ndarray of shape (L,), SpectralCache, or None
        Precomputed ‖W^l‖₂, a warm-start cache, or None for a cold start.
    """
    L = trace.num_layers
    if spectral is None:
        spectral = SpectralCache()
    spec = spectral(weights) if callable(spectral) else np.asarray(spectral, dtype=np.float64)
    # Columns are filled as arrays and the frame is built once: at small widths
    # building a DataFrame row by row costs more than the statistics themselves.
    col = {name: np.empty(L) for name in COLUMNS if name not in ("layer", "width", "bound")}
    width = np.empty(L, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(L):
            phi = output if i == L - 1 else hidden
            delta = trace.delta[i]  # (n, n_l)
            prime = trace.phi_prime[i]  # (n, n_l)
            a = trace.a[i + 1]  # (n, n_l)
            n, width[i] = delta.shape[-2:]
            unit_prime = np.add.reduce(prime, axis=0) / n  # (n_l,)
            act_mean = np.add.reduce(a, axis=None) / a.size
            col["grad_b_norm"][i] = _norm(trace.nabla_b[i])
            col["grad_w_norm"][i] = _norm(trace.nabla_w[i])
            # Σ_k ‖δ_k‖² over the batch is ‖δ‖_F²
            col["delta_rms"][i] = _norm(delta) / math.sqrt(n)
            col["sigma_prime_mean"][i] = unit_prime.mean()
            threshold = SATURATION_THRESHOLD * phi.sup_prime
            col["saturated_frac"][i] = np.count_nonzero(unit_prime < threshold) / width[i]
            col["act_mean"][i] = act_mean
            col["act_std"][i] = _norm(a - act_mean) / math.sqrt(a.size)
            col["weight_norm"][i] = _norm(weights[i])
            col["weight_spectral"][i] = spec[i]
        bound = sigma_bound(col["delta_rms"][-1], spec, hidden.sup_prime)
    values = {"layer": np.arange(1, L + 1), "width": width, **col, "bound": bound}
    return pd.DataFrame({name: values[name] for name in COLUMNS})
