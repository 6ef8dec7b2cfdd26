"""The small figure every recurrent training run carries: its error against the time step.

The recurrent counterpart of :mod:`gradlab.report.run_figure`, drawn the same
way (Agg canvas, fixed layout, plain-text labels): rms ‖δ_t‖ against t on a log
axis at initialisation and after training, with the RNN's bound
B_t (sup|φ′|·‖W_hh‖₂)-recursion dashed and the LSTM's cell error ‖∂C/∂c_t‖ dotted.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator, NullLocator

from gradlab.report.run_figure import DPI, PHASE_STYLE


def time_profiles(history: pd.DataFrame) -> pd.DataFrame:
    """The init and final rows of a recurrent history (``names.TIME_HISTORY_COLUMNS``):
    phase, step, time_step, delta_rms, delta_c_rms, bound; values ≤ 0 or non-finite
    become NaN (log axis)."""
    keep = history[history["phase"].isin(list(PHASE_STYLE))]
    keep = keep[["phase", "step", "time_step", "delta_rms", "delta_c_rms", "bound"]].copy()
    for c in ("delta_rms", "delta_c_rms", "bound"):
        v = keep[c].astype(float)
        keep[c] = v.where(np.isfinite(v) & (v > 0))
    return keep.reset_index(drop=True)


def draw_time_figure(history: pd.DataFrame, title: str, diverged: bool = False) -> bytes:
    """PNG bytes of one recurrent run's ‖δ_t‖ against time step t (module docstring)."""
    data = time_profiles(history)
    fig = Figure(figsize=(7.0, 3.6), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.11, 0.14, 0.54, 0.72))
    for phase, (colour, label) in PHASE_STYLE.items():
        rows = data[data["phase"] == phase]
        if rows.empty:
            continue
        step = int(rows["step"].iloc[0])
        t = rows["time_step"]
        ax.plot(t, rows["delta_rms"], "o-", ms=2, color=colour, label=f"{label} (step {step})")
        if rows["bound"].notna().any():
            ax.plot(t, rows["bound"], "--", lw=1, color=colour, label="  its bound")
        if rows["delta_c_rms"].notna().any():
            ax.plot(t, rows["delta_c_rms"], ":", lw=1.5, color=colour, label="  cell error c_t")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step t (T = last, where the cost is)")
    ax.set_ylabel("rms ‖δ_t‖ over samples")
    ax.grid(True, which="major", alpha=0.3)
    suffix = " (diverged: no final profile)" if diverged else ""
    fig.text(0.38, 0.97, f"{title}{suffix}\nerror against time step, log scale",
             ha="center", va="top", fontsize=9)  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
