"""Per-time-step statistics of a BPTT trace: the per-layer table's counterpart over time.

Every column of :func:`time_table` is defined once, in :data:`gradlab.names.TIME_COLUMNS`.
Steps are t = 1..T; row t − 1 of the table is step t, and T − t is the time gap
over which the error at step t has been carried back from the last output.

For the RNN, δ_t = ((W_hh)ᵀ δ_{t+1} + e_t) ⊙ φ′(z_t) with e_t = (W_hy)ᵀ ∂C_k/∂ŷ_t
(:mod:`gradlab.engine.rnn`) gives, per sample, ‖δ_t‖ ≤ ‖e_t ⊙ φ′(z_t)‖ + r ‖δ_{t+1}‖
with r = sup|φ′| · ‖W_hh‖₂, hence the ``bound`` column; with the cost on ŷ_T
alone it is ‖δ_T‖ r^{T−t} (the argument of Pascanu, Mikolov & Bengio 2013, §2.1).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gradlab.engine.diagnostics import SATURATION_THRESHOLD
from gradlab.engine.lstm import LSTM, LSTMTrace
from gradlab.engine.rnn import RNN, RNNTrace
from gradlab.engine.spectral import spectral_norm
from gradlab.names import TIME_COLUMNS

Array = np.ndarray


def _rms_norm(a: Array) -> Array:
    """sqrt((1/n) Σ_k ‖a_t,k‖²) for every step, from a of shape (n, T, H); returns (T,)."""
    return np.sqrt(np.einsum("ntj,ntj->t", a, a) / a.shape[0])


def rnn_time_bound(trace: RNNTrace, net: RNN, w_hh_norm: float | None = None) -> Array:
    """The ``bound`` column: rms over samples of the per-sample bound B_t on ‖δ_t‖.

    Parameters
    ----------
    trace : RNNTrace
        From ``net.backprop``.
    net : RNN
        The network the trace was computed with.
    w_hh_norm : float, optional
        ‖W_hh‖₂ if already known; computed otherwise.

    Returns
    -------
    ndarray, shape (T,)
        B_T = ‖δ_T‖ and B_t = ‖e_t ⊙ φ′(z_t)‖ + sup|φ′| ‖W_hh‖₂ B_{t+1}, per sample,
        then sqrt((1/n) Σ_k B_t,k²).
    """
    if w_hh_norm is None:
        w_hh_norm = spectral_norm(net.params["W_hh"])[0]
    r = net.activation.sup_prime * w_hh_norm
    n, T, _ = trace.delta.shape
    if trace.outputs == "last":
        inject = np.zeros((n, T))  # no cost before step T
    else:
        # ‖((W_hy)ᵀ g_t) ⊙ φ′(z_t)‖ per sample and step: (n, T, n_out) @ (n_out, H)
        e = (trace.delta_out @ net.params["W_hy"]) * trace.phi_prime
        inject = np.sqrt(np.einsum("ntj,ntj->nt", e, e))
    bound = np.empty((n, T))
    bound[:, -1] = np.linalg.norm(trace.delta[:, -1], axis=-1)  # B_T = ‖δ_T‖
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T - 2, -1, -1):
            bound[:, t] = inject[:, t] + r * bound[:, t + 1]
        return np.sqrt(np.mean(bound * bound, axis=0))


def time_table(
    trace: RNNTrace | LSTMTrace, net: RNN | LSTM, w_hh_norm: float | None = None
) -> pd.DataFrame:
    """One row per step t = 1..T with every column of ``TIME_COLUMNS``.

    Parameters
    ----------
    trace : RNNTrace or LSTMTrace
        From ``net.backprop``.
    net : RNN or LSTM
        The network the trace was computed with.
    w_hh_norm : float, optional
        ‖W_hh‖₂ of an RNN if already known (the bound needs it).
    """
    T = trace.num_steps
    nan = np.full(T, np.nan)
    if isinstance(trace, RNNTrace):
        delta, prime, sup = trace.delta, trace.phi_prime, net.activation.sup_prime
        delta_c_rms, forget_mean, own_b = nan, nan, trace.delta
        bound = rnn_time_bound(trace, net, w_hh_norm)
    else:
        # the path c_t → h_t is where an LSTM unit saturates: tanh′(c_t), sup = 1
        delta, prime, sup = trace.delta_h, trace.tanh_c_prime, 1.0
        delta_c_rms, own_b, bound = _rms_norm(trace.delta_c), trace.delta_gates, nan
        forget_mean = trace.forget.mean(axis=(0, 2))
    n, _, H = delta.shape
    unit_prime = prime.mean(axis=0)  # (T, H): batch mean per step and unit
    h = trace.h
    values = {
        "step": np.arange(1, T + 1),
        "delta_rms": _rms_norm(delta),
        "delta_c_rms": delta_c_rms,
        "grad_b_norm": np.linalg.norm(own_b.sum(axis=0) / n, axis=-1),
        "bound": bound,
        "sigma_prime_mean": unit_prime.mean(axis=-1),
        "saturated_frac": np.count_nonzero(unit_prime < SATURATION_THRESHOLD * sup, axis=-1) / H,
        "act_mean": h.mean(axis=(0, 2)),
        "act_std": h.std(axis=(0, 2)),
        "forget_mean": forget_mean,
    }
    return pd.DataFrame({name: values[name] for name in TIME_COLUMNS})


def decay_per_step(table: pd.DataFrame, column: str = "delta_rms") -> float:
    """Geometric mean of column_t / column_{t+1} over t = 1..T−1: the measured factor per step.

    For the linear RNN with W_hh = ρ·Q (Q orthogonal) and the cost on ŷ_T this is
    exactly ρ; a value below 1 means gradients vanish with the time gap.
    """
    v = table[column].to_numpy(dtype=np.float64)
    if len(v) < 2 or v[0] <= 0 or v[-1] <= 0:
        return math.nan
    return float(np.exp((math.log(v[0]) - math.log(v[-1])) / (len(v) - 1)))
