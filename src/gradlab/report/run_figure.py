"""The small figure every training run carries as an artifact: its gradient against layer.

The report's figure 1 compares many runs (medians over seeds, bands, one panel
per activation and phase); one run needs one panel, and it is drawn once per
sweep point, so its cost counts against the training it describes.  This
figure is that panel alone: ‖∇b^l‖ against layer l on a log axis at
initialisation and after training, with the run's rigorous σ′ bound dashed,
plain-text labels (no mathtext parsing) and a fixed layout (no layout engine),
rendered by the Agg canvas straight into PNG bytes.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, NullLocator

from gradlab import names

#: Colours of the two phases (Okabe–Ito blue and vermillion: colour-blind safe).
PHASE_STYLE = {names.PHASE_INIT: ("#0072B2", "at initialisation"),
               names.PHASE_FINAL: ("#D55E00", "after training")}  # fmt: skip
#: Screen resolution: the report renders the print copies of figure 1.
DPI = 100


def run_profiles(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``history`` the figure draws: the init and final layer tables.

    Returns the columns phase, step, layer, grad_b_norm, bound; a diverged run
    has no final rows, and non-positive values (log axis) are dropped.
    """
    keep = history[history["phase"].isin(list(PHASE_STYLE))]
    keep = keep[["phase", "step", "layer", "grad_b_norm", "bound"]]
    positive = np.isfinite(keep["grad_b_norm"]) & (keep["grad_b_norm"] > 0)
    return keep[positive].reset_index(drop=True)


def draw_run_figure(history: pd.DataFrame, title: str, diverged: bool = False) -> bytes:
    """PNG bytes of one run's ‖∇b^l‖ against layer l (see the module docstring).

    Parameters
    ----------
    history : DataFrame
        The run's history table (``names.HISTORY_COLUMNS``).
    title : str
        First line of the title, e.g. the run name.
    diverged : bool
        Adds "(diverged: no final profile)" to the title.
    """
    data = run_profiles(history)
    fig = Figure(figsize=(7.0, 3.6), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.11, 0.14, 0.54, 0.72))
    for phase, (colour, label) in PHASE_STYLE.items():
        rows = data[data["phase"] == phase]
        if rows.empty:
            continue
        step = int(rows["step"].iloc[0])
        ax.plot(rows["layer"], rows["grad_b_norm"], "o-", ms=3, color=colour,
                label=f"{label} (step {step})")  # fmt: skip
        bound = rows["bound"].where(rows["bound"] > 0)
        ax.plot(rows["layer"], bound, "--", lw=1, color=colour, label="  its σ′ bound")
    ax.set_yscale("log")
    # plain "1e-05" labels and no minor ticks: the default 10^{k} labels go through
    # mathtext and the minor ticks are ~80 Tick objects, together most of the cost
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("layer l (1 = next to the input, L = output)")
    ax.set_ylabel("‖∇b‖₂ of layer l")
    ax.grid(True, which="major", alpha=0.3)
    suffix = " (diverged: no final profile)" if diverged else ""
    # a figure text, not ax.set_title: placing an axes title measures every tick label
    fig.text(0.38, 0.97, f"{title}{suffix}\ngradient against layer, log scale",
             ha="center", va="top", fontsize=9)  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
