"""The look shared by every figure: colours, markers, log axes, axis labels, titles.

Figures are built without pyplot (:func:`new_figure`), so no global figure
state leaks between calls.  Colours follow Okabe & Ito (2008), "Color Universal
Design", readable with every common colour-vision deficiency; layer-coloured
figures use viridis.
"""

from __future__ import annotations

import textwrap

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullLocator

#: Okabe–Ito, reordered so that the first colours are the most distinct on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P")
#: Axis labels of the per-layer quantities, in the notation of the derivation notes.
YLABELS = {
    "grad_b_norm": r"$\|\nabla b^l\|_2$",
    "delta_rms": r"rms$_k\,\|\delta^l_k\|_2$",
    "grad_w_norm": r"$\|\nabla W^l\|_F$",
}
LAYER_AXIS = r"layer $l$  (1 = next to the input)"


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas: no pyplot, no global state, no window."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def log_y(ax) -> None:
    """Log y axis with few tick labels: spans of tens of decades stay legible and fast."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=8))
    if np.log10(hi / lo) > 4:
        ax.yaxis.set_minor_locator(NullLocator())


def wrap(text: str, width_in: float) -> str:
    """Wrap a title to the figure width (about 12 characters per inch at 10–11 pt)."""
    return "\n".join(textwrap.fill(line, max(40, int(12 * width_in))) for line in text.splitlines())


def positive(values) -> np.ndarray:
    """Values for a log axis: non-positive and non-finite become NaN (gaps)."""
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def layer_colours(L: int):
    """(colormap, norm) giving each layer l = 1..L its own viridis colour."""
    cmap = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, L)))
    return cmap, BoundaryNorm(np.arange(0.5, L + 1.5), L)


def layer_ticks(L: int) -> list[int]:
    """At most about nine layer ticks, always 1 and L."""
    return sorted({1, L, *range(1, L + 1, max(1, L // 8))})


def line_styles(runs: pd.DataFrame, line: str, hue: str, variant: str) -> dict:
    """line label -> (Okabe–Ito colour of its hue, marker of its variant)."""
    hues = list(dict.fromkeys(runs[hue]))
    variants = list(dict.fromkeys(runs[variant]))
    out = {}
    for lab, h, v in runs[[line, hue, variant]].drop_duplicates().itertuples(index=False):
        i, j = hues.index(h), variants.index(v)
        # past 7 hues the colours repeat, so the marker changes with them
        out[lab] = (
            OKABE_ITO[i % len(OKABE_ITO)],
            MARKERS[(j + i // len(OKABE_ITO)) % len(MARKERS)],
        )
    return out


def corner_note(ax, text: str, *, left: bool = True, fontsize: float = 8) -> None:
    """A boxed note in the upper left (or right) corner of ``ax``."""
    ax.text(
        0.03 if left else 0.97,
        0.97,
        text,
        transform=ax.transAxes,
        fontsize=fontsize,
        va="top",
        ha="left" if left else "right",
        bbox={"facecolor": "white", "alpha": 0.85, "lw": 0},
    )
