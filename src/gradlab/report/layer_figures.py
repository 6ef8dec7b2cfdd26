"""Figures 1, 1b and 4, the drawing: a per-layer quantity against layer l.

One panel per activation (columns) and phase (rows); the data come from
:func:`gradlab.report.layer_data.layer_profiles`.  Every ``plot_*`` function
returns ``(data, fig)``: the tidy frame it draws and a pyplot-free figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from gradlab import names
from gradlab.engine.diagnostics import SATURATION_THRESHOLD
from gradlab.errors import check_choice
from gradlab.report.frames import (
    ACTIVATION,
    DEPTH,
    INIT,
    NoDataError,
    activation_order,
    constant_text,
    format_value,
    prepare,
    setup_text,
    short_key,
)
from gradlab.report.layer_data import layer_profiles
from gradlab.report.style import YLABELS, log_y, new_figure, positive, wrap

_BOUND_LABEL = (
    r"rigorous bound $\mathrm{rms}_k\|\delta^L_k\|\,\prod_{m>l}\mathrm{sup}|\varphi'|\,"
    r"\|W^m\|_2$ (dashed)"
)
_ENVELOPE_LABEL = r"Nielsen's sigmoid heuristic $(1/4)^{L-l}\,\|\nabla b^L\|$ (dotted, not a bound)"


def _phase_text(phase: str, data: pd.DataFrame, history: pd.DataFrame) -> str:
    if phase == names.PHASE_INIT:
        return "at initialisation"
    steps = history.loc[history["phase"] == phase, "step"]
    if phase == names.PHASE_FINAL and steps.nunique() == 1:
        return f"after training (step {format_value(steps.iloc[0])})"
    return "after training" if phase == names.PHASE_FINAL else "during training"


def _profile_grid(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    *,
    quantity: str,
    line_by: str,
    band: str,
    phases,
    log: bool,
    with_bound: bool,
    ylabel: str,
    title: str,
) -> tuple[pd.DataFrame, Figure]:
    runs, history = prepare(runs, history, need=(ACTIVATION, line_by))
    # a phase nobody logged (epochs = 0 has no 'final') gets no row of panels;
    # diverged runs stop before 'final' but are drawn there at their last finite step
    present = set(history["phase"])
    phases = tuple(
        p
        for p in phases
        if p in present or (p == names.PHASE_FINAL and bool(runs["diverged"].any()))
    )
    if not phases:
        raise NoDataError(f"the history has no rows of phase(s) {', '.join(present) or 'any'}")
    data, lines, styles, skipped = layer_profiles(
        runs, history, quantity, phases, line_by, band, with_bound
    )
    panels = activation_order(runs[ACTIVATION])
    # rows = phases, columns = activations; a single activation puts its phases side by side
    n_rows, n_cols = (1, len(phases)) if len(panels) == 1 else (len(phases), len(panels))
    width = max(9.0, 4.2 * n_cols + 0.6)
    fig = new_figure(width, 3.4 * n_rows + 1.4)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for c, act in enumerate(panels):
        in_panel = runs[runs[ACTIVATION] == act]
        shared = [k for k in (INIT, DEPTH) if k != line_by]
        detail = constant_text(in_panel, shared)
        for r, phase in enumerate(phases):
            ax = axes[0][r] if len(panels) == 1 else axes[r][c]
            _draw_profiles(ax, data, act, phase, lines, styles, log, with_bound)
            ax.set_title(f"{act}{' · ' + detail if detail else ''}", fontsize=10)
            ax.set_xlabel(r"layer $l$  (1 = next to the input, $L$ = output)")
            ax.set_ylabel(f"{ylabel}\n{_phase_text(phase, data, history)}")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, which="major", alpha=0.3)
    setup = setup_text(runs, exclude=(line_by,))
    if len(runs) == 1:
        setup = f"run {runs['run_name'].iloc[0]}: {setup}"
    fig.suptitle(wrap(f"{title}\n{setup}", width), fontsize=11)
    several = bool((data["n_runs"] > 1).any())
    measured = "measured (median over seeds)" if several else "measured"
    style = [Line2D([], [], color="0.3", marker="o", ms=3, label=measured)]
    if several:
        what = "min–max" if band == "minmax" else "interquartile range"
        style.append(Patch(color="0.3", alpha=0.2, label=f"band: {what} over seeds"))
    if with_bound:
        style.append(Line2D([], [], color="0.3", ls="--", label=_BOUND_LABEL))
    if log and data["envelope"].notna().any():
        style.append(Line2D([], [], color="0.3", ls=":", label=_ENVELOPE_LABEL))
    if (data["kind"] == "diverged").any():
        style.append(
            Line2D(
                [],
                [],
                color="0.3",
                ls="-.",
                marker="x",
                mew=1.5,
                label="diverged run: last finite values",
            )
        )
    fig.legend(handles=style, loc="outside lower center", ncols=min(len(style), 3), fontsize=8)
    if skipped:
        shown = ", ".join(skipped[:6]) + (" …" if len(skipped) > 6 else "")
        fig.text(0.01, 0.005, f"not drawn: {shown}", fontsize=7, color="0.4")
    return data, fig


def _draw_profiles(ax, data, act, phase, lines, styles, log, with_bound) -> None:
    sel = data[(data[ACTIVATION] == act) & (data["phase"] == phase)]
    tf = positive if log else (lambda v: np.asarray(v, dtype=float))
    limits = _median_limits(sel) if log else None
    for line in lines:
        part = sel[sel["line"] == line]
        if len(part) == 0:
            continue
        colour, marker = styles[line]
        med = part[part["kind"] == "median"].sort_values("layer")
        if len(med):
            n_div, n_all = int(med["line_diverged"].iloc[0]), int(med["line_runs"].iloc[0])
            label = line + (f" ({n_div} of {n_all} diverged)" if n_div else "")
            x = med["layer"].to_numpy(dtype=float)
            ax.plot(x, tf(med["value"]), marker=marker, ms=4, color=colour, label=label)
            if (med["n_runs"] > 1).any():
                ax.fill_between(x, tf(med["lo"]), tf(med["hi"]), color=colour, alpha=0.2, lw=0)
            if with_bound:
                ax.plot(x, tf(med["bound"]), ls="--", lw=1.0, color=colour)
            if log and med["envelope"].notna().any():
                ax.plot(x, tf(med["envelope"]), ls=":", lw=1.2, color=colour)
        for _, div in part[part["kind"] == "diverged"].groupby("run_ids", sort=False):
            div = div.sort_values("layer")
            _draw_diverged(ax, div, tf, limits, colour, line)
    finite = tf(sel[["value", "bound", "envelope"]].to_numpy().ravel())
    if log and np.isfinite(finite).any():
        log_y(ax)
        if limits is not None:
            ax.set_ylim(*limits)
    elif log:
        ax.text(0.5, 0.5, "no positive finite values", transform=ax.transAxes, ha="center")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


def _median_limits(sel: pd.DataFrame) -> tuple[float, float] | None:
    """Log-axis limits that fit the median lines, if a diverged curve would dwarf them."""
    med = sel[sel["kind"] == "median"]
    ref = positive(med[["value", "lo", "hi", "bound", "envelope"]].to_numpy().ravel())
    div = positive(sel.loc[sel["kind"] == "diverged", "value"])
    ref, div = ref[np.isfinite(ref)], div[np.isfinite(div)]
    if ref.size == 0 or div.size == 0:
        return None
    lo, hi = ref.min() / 3, ref.max() * 3
    return (lo, hi) if (div.min() < lo or div.max() > hi) else None


def _draw_diverged(ax, div: pd.DataFrame, tf, limits, colour: str, line: str) -> None:
    """A diverged run's last finite profile: ✕ markers, off-scale points as ▲/▼ at the edge."""
    x, y = div["layer"].to_numpy(dtype=float), tf(div["value"])
    label = f"{line}\n(diverged; last finite step {format_value(div['step'].iloc[0])})"
    if limits is None:
        ax.plot(x, y, ls="-.", lw=0.8, marker="x", ms=7, mew=1.5, color=colour, label=label)
        return
    lo, hi = limits
    inside = (y >= lo) & (y <= hi)
    off = np.isfinite(y) & ~inside
    if off.any():
        label += f"\n▲▼ off scale: {np.nanmin(y[off]):.0e} to {np.nanmax(y[off]):.0e}"
    ax.plot(x, np.clip(y, lo, hi), ls="-.", lw=0.8, color=colour)
    ax.plot(x[inside], y[inside], "x", ms=7, mew=1.5, color=colour, label=label)
    for mask, edge, mark in ((y > hi, hi, "^"), (y < lo, lo, "v")):
        if mask.any():
            ax.plot(x[mask], np.full(mask.sum(), edge), mark, ms=7, color=colour, clip_on=False)


def plot_gradient_vs_layer(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    *,
    quantity: str = "grad_b_norm",
    line_by: str = DEPTH,
    band: str = "minmax",
    phases=(names.PHASE_INIT, names.PHASE_FINAL),
    title: str | None = None,
) -> tuple[pd.DataFrame, Figure]:
    """Figure 1: ‖∇b^l‖ (or δ rms) against layer l, with the σ′ bound.

    One panel per activation (columns) and per phase (rows: at initialisation,
    after training); one line per ``line_by`` value (depth or init).  Each line
    is the median over seeds with a min–max (or IQR) band, the rigorous bound
    rms_k ‖δ^L_k‖ Π_{m>l} sup|φ′|‖W^m‖₂ (history column ``bound``, dashed, same
    colour) and, for the sigmoid, Nielsen's (ch. 5) heuristic envelope (1/4)^{L−l}
    anchored at the measured value of the output layer L (dotted): a reference
    slope, not a bound, since ‖W^l‖₂ > 1 at the usual inits.  Since
    ‖∇b^l‖ = ‖(1/n)Σ_k δ^l_k‖ ≤ rms_k ‖δ^l_k‖ ≤ bound^l for every run, and the
    median is monotone, the median bound is never below the median curve.
    Diverged runs are drawn one by one at their last finite profile with ✕
    markers and "(diverged …)" in the legend.

    Parameters
    ----------
    runs : DataFrame
        One row per run (see module docstring); a single row draws that run alone.
    history : DataFrame
        Rows of ``names.HISTORY_COLUMNS`` (+ ``run_id``).
    quantity : {'grad_b_norm', 'delta_rms'}
        What to draw on the log axis.
    line_by : str
        Config key whose values are the lines (``'model.depth'`` or ``'model.init'``).
    band : {'minmax', 'iqr'}
        Spread over seeds drawn around the median.
    phases : tuple of str
        History phases, one row of panels each.

    Returns
    -------
    data : DataFrame
        One row per drawn point: ``model.activation``, ``phase``, ``line``,
        ``kind`` ('median' | 'diverged'), ``run_ids`` (the runs behind the
        point, comma-separated), ``step`` (diverged rows: the last finite
        step), ``layer``, ``value``, ``lo``, ``hi``, ``bound``, ``envelope``,
        ``n_runs`` (runs in the median), ``line_runs``, ``line_diverged``.
    fig : Figure
    """
    check_choice("quantity", quantity, ("grad_b_norm", "delta_rms"))
    symbol = YLABELS[quantity]
    return _profile_grid(
        runs,
        history,
        quantity=quantity,
        line_by=line_by,
        band=band,
        phases=tuple(phases),
        log=True,
        with_bound=True,
        ylabel=YLABELS[quantity],
        title=title
        or f"Gradient magnitude {symbol} against layer l, one line per {short_key(line_by)}",
    )


def plot_saturation(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    *,
    line_by: str = DEPTH,
    band: str = "minmax",
    phases=(names.PHASE_INIT, names.PHASE_FINAL),
    title: str | None = None,
) -> tuple[pd.DataFrame, Figure]:
    """Figure 4: saturated (sigmoid, tanh) or dead (ReLU) fraction of units per layer.

    A unit j of layer l counts when its batch-mean φ′(z^l_j) is below
    ``SATURATION_THRESHOLD`` · sup|φ′| (history column ``saturated_frac``).
    Panels and lines as in :func:`plot_gradient_vs_layer`, on a linear axis.

    Returns
    -------
    data : DataFrame
        As :func:`plot_gradient_vs_layer` (``bound`` and ``envelope`` empty).
    fig : Figure
    """
    data, fig = _profile_grid(
        runs,
        history,
        quantity="saturated_frac",
        line_by=line_by,
        band=band,
        phases=tuple(phases),
        log=False,
        with_bound=False,
        ylabel="saturated / dead fraction",
        title=title
        or (
            "Saturated (sigmoid, tanh) or dead (ReLU) units per layer: "
            f"batch-mean φ′ < {SATURATION_THRESHOLD:g}·sup|φ′|"
        ),
    )
    for ax in fig.axes:
        ax.set_ylim(-0.03, 1.03)
    return data, fig
