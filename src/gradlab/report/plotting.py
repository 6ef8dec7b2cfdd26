"""The report's figures: gradient magnitude against layer, depth and SGD step.

Every ``plot_*`` function takes pandas frames and returns ``(data, fig)``: the
tidy frame it draws (one row per plotted point, so tests and readers can check
the numbers) and a :class:`matplotlib.figure.Figure` built without pyplot, so no
global figure state leaks between calls.  Nothing here reads MLflow or files;
:mod:`gradlab.report.build` is the edge that loads the frames and saves the figures.

Frames
------
runs
    One row per training run: ``run_id``, ``run_name``, a bool ``diverged``,
    the summary metrics of :mod:`gradlab.names` (e.g. ``vanish_ratio``) and the
    config keys of :data:`PARAM_TYPES` as typed columns (``model.depth`` int …).
    :func:`run_frame` builds it for one run from its flattened config.
history
    ``names.HISTORY_COLUMNS`` (step, epoch, phase, then every column of
    :data:`gradlab.names.COLUMNS`, one row per logged step × layer l = 1..L)
    plus ``run_id``; a single run's table may omit ``run_id``.

Colours follow Okabe & Ito (2008), "Color Universal Design", readable with
every common colour-vision deficiency; layer-coloured figures use viridis.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from gradlab import names
from gradlab.engine.diagnostics import SATURATION_THRESHOLD
from gradlab.errors import check_choice

# ---- config keys the figures group by (flattened, as logged as MLflow params) ----
ACTIVATION, DEPTH, INIT, SEED = "model.activation", "model.depth", "model.init", "seed"
#: Typed config keys; every other param stays a string.
PARAM_TYPES: dict[str, type] = {
    "model.depth": int,
    "model.width": int,
    "model.gain": float,
    "model.bias_std": float,
    "train.lr": float,
    "train.batch_size": int,
    "train.epochs": int,
    "train.weight_decay": float,
    "train.log_every": int,
    "seed": int,
}
#: Keys that make two runs different experiments (seeds are repeats: aggregated).
SETUP_KEYS = (
    "model.activation",
    "model.depth",
    "model.init",
    "model.width",
    "model.gain",
    "model.bias_std",
    "model.output_activation",
    "model.dtype",
    "data.name",
    "train.cost",
    "train.lr",
    "train.batch_size",
    "train.epochs",
    "train.weight_decay",
)
_SHORT = {"model.output_activation": "output", "model.bias_std": "bias std", "data.name": "data"}

#: Okabe–Ito, reordered so that the first colours are the most distinct on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P")
#: Activations in the order the story is told; others follow alphabetically.
_ACT_ORDER = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "linear")
#: The initialisation each activation was designed with (panel default in the report).
NATURAL_INIT = {
    "sigmoid": "lecun_normal",  # Nielsen ch. 3: N(0, 1/n_in)
    "tanh": "xavier_normal",  # Glorot & Bengio 2010
    "relu": "he_normal",  # He et al. 2015
    "leaky_relu": "he_normal",
    "softplus": "he_normal",
    "linear": "lecun_normal",
}
BANDS = ("minmax", "iqr")
#: σ′ ≤ 1/4: the notes' per-layer factor for the sigmoid.
SIGMOID_FACTOR = 0.25

_YLABELS = {
    "grad_b_norm": r"$\|\nabla b^l\|_2$",
    "delta_rms": r"rms$_k\,\|\delta^l_k\|_2$",
    "grad_w_norm": r"$\|\nabla W^l\|_F$",
}
_BOUND_LABEL = r"rigorous bound $\|\delta^L\|\prod_{k>l}\mathrm{sup}|\varphi'|\,\|W^k\|_2$ (dashed)"
_ENVELOPE_LABEL = r"sigmoid heuristic $(1/4)^{L-l}\,\|\nabla b^L\|$ (dotted)"


class NoDataError(ValueError):
    """The frames hold nothing this figure can draw (the message says what is missing)."""


# ---- frames ------------------------------------------------------------------------


def coerce_params(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert the string params of :data:`PARAM_TYPES` to numbers (copy).

    Integers become pandas' nullable ``Int64``; a value that does not parse
    (``'None'``) becomes missing rather than raising.
    """
    out = frame.copy()
    for key, typ in PARAM_TYPES.items():
        if key not in out:
            continue
        num = pd.to_numeric(out[key], errors="coerce")
        if typ is int:
            num = num.where(num == num.round()).astype("Int64")
        out[key] = num
    out["diverged"] = (
        pd.to_numeric(out["diverged"], errors="coerce").fillna(0).astype(float) > 0
        if "diverged" in out
        else False
    )
    return out


def run_frame(
    params: Mapping[str, object],
    *,
    run_id: str = "run",
    run_name: str = "",
    diverged: bool = False,
) -> pd.DataFrame:
    """The one-row ``runs`` frame of a single run, from its flattened config.

    ``params`` maps dotted keys (``'model.depth'``) to values, as logged to
    MLflow; this is what a training run needs to draw its own figure 1.
    """
    row = {"run_id": run_id, "run_name": run_name or run_id, **params, "diverged": diverged}
    return coerce_params(
        pd.DataFrame([{k: str(v) if k in PARAM_TYPES else v for k, v in row.items()}])
    )


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NoDataError(f"{what} needs column(s) {', '.join(missing)}; they are missing")


def _prepare(runs: pd.DataFrame, history: pd.DataFrame | None, need: tuple[str, ...]):
    """Check columns; give a single run's history its run_id; keep runs with history."""
    if runs is None or len(runs) == 0:
        raise NoDataError("there are no runs to plot")
    _require(runs, ("run_id", *need), "the runs frame")
    runs = runs.copy()
    if "diverged" not in runs:
        runs["diverged"] = False
    if "run_name" not in runs:
        runs["run_name"] = runs["run_id"]
    if history is None:
        return runs, None
    if "run_id" not in history:
        if len(runs) != 1:
            raise NoDataError("history without a run_id column only works for a single run")
        history = history.assign(run_id=runs["run_id"].iloc[0])
    _require(history, ("run_id", "step", "phase", "layer"), "the history frame")
    history = history[history["run_id"].isin(runs["run_id"])]
    if len(history) == 0:
        raise NoDataError("no run has a per-layer history table")
    return runs, history


def format_value(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "?"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def short_key(key: str) -> str:
    return _SHORT.get(key, key.rsplit(".", 1)[-1])


def _varying(frame: pd.DataFrame, exclude) -> list[str]:
    """Set-up keys that take more than one value in ``frame``."""
    return [
        k
        for k in SETUP_KEYS
        if k in frame and k not in exclude and frame[k].astype(str).nunique() > 1
    ]


def _constant_text(frame: pd.DataFrame, keys) -> str:
    parts = [
        f"{short_key(k)} {format_value(frame[k].iloc[0])}"
        for k in keys
        if k in frame and frame[k].astype(str).nunique() == 1
    ]
    return ", ".join(parts)


def _setup_text(runs: pd.DataFrame, exclude=()) -> str:
    """The set-up shared by every run, e.g. 'data digits, width 30, …, 3 seeds'."""
    keys = [k for k in SETUP_KEYS if k not in exclude and k != ACTIVATION]
    text = _constant_text(runs, keys)
    if SEED in runs:
        n = runs[SEED].nunique()
        text += f"{', ' if text else ''}{n} seed{'s' if n != 1 else ''}"
    return text


def activation_order(values) -> list:
    """The distinct activations in ``values``: sigmoid, tanh, relu, … then the rest A–Z."""
    present = list(dict.fromkeys(values))
    ranked = [a for a in _ACT_ORDER if a in present]
    return ranked + sorted(a for a in present if a not in ranked)


def _with_lines(
    runs: pd.DataFrame, panel_key: str, line_by: str
) -> tuple[pd.DataFrame, list[str], dict[str, tuple[str, str]]]:
    """Label each run's line; return the labels in plotting order and their styles.

    A line is every run of a panel that shares ``line_by`` and every other set-up
    key that varies within the panel; only seeds are aggregated, never set-ups.
    The colour follows the ``line_by`` value (the same depth has the same colour
    in every panel); the marker tells apart the other keys ("variant").
    """
    sort_keys = [k for k in (line_by, *SETUP_KEYS) if k in runs]
    runs = runs.sort_values(sort_keys, kind="stable", na_position="last").copy()
    runs["line"], runs["_variant"] = "", ""
    for _, panel in runs.groupby(panel_key, sort=False, dropna=False):
        keys = [line_by, *_varying(panel, exclude=(line_by, panel_key))]
        parts = [
            [f"{short_key(k)}={format_value(v)}" for k, v in zip(keys, row, strict=True)]
            for row in panel[keys].itertuples(index=False)
        ]
        runs.loc[panel.index, "line"] = [", ".join(p) for p in parts]
        runs.loc[panel.index, "_variant"] = [", ".join(p[1:]) for p in parts]
    runs["_hue"] = runs[line_by].map(format_value)
    return runs, list(dict.fromkeys(runs["line"])), _styles(runs, "line", "_hue", "_variant")


def _styles(runs: pd.DataFrame, line: str, hue: str, variant: str) -> dict[str, tuple[str, str]]:
    """line label -> (Okabe–Ito colour of its hue, marker of its variant)."""
    hues = list(dict.fromkeys(runs[hue]))
    variants = list(dict.fromkeys(runs[variant]))
    out = {}
    for lab, h, v in runs[[line, hue, variant]].drop_duplicates().itertuples(index=False):
        i, j = hues.index(h), variants.index(v)
        # past 7 hues the colours repeat, so the marker changes with them
        out[lab] = (
            OKABE_ITO[i % len(OKABE_ITO)],
            _MARKERS[(j + i // len(OKABE_ITO)) % len(_MARKERS)],
        )
    return out


def positive(values) -> np.ndarray:
    """Values for a log axis: non-positive and non-finite become NaN (gaps)."""
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def _last_finite(h: pd.DataFrame, quantity: str, upto: float) -> pd.DataFrame:
    """Rows of the latest logged step ≤ ``upto`` whose ``quantity`` is finite at every layer."""
    ok = np.isfinite(h[quantity].to_numpy(dtype=float))
    good = h.assign(_ok=ok).groupby("step")["_ok"].all()
    steps = good.index[good.to_numpy() & (good.index <= upto)]
    if len(steps) == 0:
        return h.iloc[0:0]
    return h[h["step"] == steps.max()].drop_duplicates("layer", keep="last")


def _run_curves(
    runs: pd.DataFrame, history: pd.DataFrame, quantity: str, phases, extra=()
) -> tuple[pd.DataFrame, list[str]]:
    """One row per (run, phase, layer): the curve each run contributes.

    ``kind`` is ``'run'``, or ``'diverged'`` when the run diverged (phase final)
    or the phase holds non-finite values; a diverged curve is the run's last
    profile that is finite at every layer (its "last finite point").
    """
    meta = runs.set_index("run_id")
    curves, skipped = [], []
    for run_id, h in history.groupby("run_id", sort=False):
        diverged = bool(meta.at[run_id, "diverged"])
        for phase in phases:
            sel = h[h["phase"] == phase]
            if len(sel):
                sel = sel[sel["step"] == sel["step"].max()].drop_duplicates("layer", keep="last")
            finite = np.isfinite(sel[quantity].to_numpy(dtype=float)).all()
            kind = "run"
            if (phase == names.PHASE_FINAL and diverged) or not finite:
                kind = "diverged"
                upto = sel["step"].max() if len(sel) else h["step"].max()
                sel = _last_finite(h, quantity, upto)
            if len(sel) == 0:
                why = "no finite values" if kind == "diverged" else f"no '{phase}' rows"
                skipped.append(f"{meta.at[run_id, 'run_name']} ({why})")
                continue
            part = sel[["step", "layer", quantity, *extra]].rename(columns={quantity: "value"})
            curves.append(part.assign(run_id=run_id, phase=phase, kind=kind))
    if not curves:
        raise NoDataError(f"no run has finite {quantity} values in phase(s) {', '.join(phases)}")
    return pd.concat(curves, ignore_index=True), skipped


def _band(series: pd.Series, band: str, lower: bool) -> float:
    if band == "iqr":
        return float(series.quantile(0.25 if lower else 0.75))
    return float(series.min() if lower else series.max())


def _profiles(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    quantity: str,
    phases,
    line_by: str,
    band: str,
    with_bound: bool,
) -> tuple[pd.DataFrame, list, list[str]]:
    """The data of a layer-profile grid: seed medians plus each diverged run's curve."""
    check_choice("band", band, BANDS)
    for phase in phases:
        check_choice("phase", phase, (names.PHASE_INIT, names.PHASE_TRAIN, names.PHASE_FINAL))
    runs, lines, styles = _with_lines(runs, ACTIVATION, line_by)
    extra = ("bound",) if with_bound else ()
    _require(history, (quantity, *extra), "the history frame")
    curves, skipped = _run_curves(runs, history, quantity, phases, extra)
    if not with_bound:
        curves["bound"] = np.nan
    curves = curves.merge(runs[["run_id", ACTIVATION, "line"]], on="run_id")
    counts = (
        runs.groupby([ACTIVATION, "line"], sort=False)
        .agg(line_runs=("run_id", "count"), line_diverged=("diverged", "sum"))
        .reset_index()
    )
    keys = [ACTIVATION, "line", "phase", "layer"]
    ok = curves[curves["kind"] == "run"]
    med = (
        ok.groupby(keys, sort=False)
        .agg(
            value=("value", "median"),
            lo=("value", lambda s: _band(s, band, True)),
            hi=("value", lambda s: _band(s, band, False)),
            bound=("bound", "median"),
            n_runs=("run_id", "nunique"),
            run_ids=("run_id", lambda s: ",".join(sorted(set(s)))),
        )
        .reset_index()
        .assign(kind="median", step=np.nan)
    )
    div = curves[curves["kind"] == "diverged"].rename(columns={"run_id": "run_ids"})
    div = div.assign(lo=div["value"], hi=div["value"], n_runs=1)
    data = pd.concat([med, div], ignore_index=True)
    data["envelope"] = np.nan
    is_sig = (data[ACTIVATION] == "sigmoid") & (data["kind"] == "median")
    for _, grp in data[is_sig].groupby(["line", "phase"], sort=False):
        top = grp.loc[grp["layer"].idxmax()]  # anchor: the output layer L
        data.loc[grp.index, "envelope"] = top["value"] * SIGMOID_FACTOR ** (
            top["layer"] - grp["layer"]
        )
    data = data.merge(counts, on=[ACTIVATION, "line"], how="left")
    data["line_diverged"] = data["line_diverged"].astype(int)
    orders = {
        "phase": {p: i for i, p in enumerate(phases)},
        ACTIVATION: {a: i for i, a in enumerate(activation_order(runs[ACTIVATION]))},
        "line": {name: i for i, name in enumerate(lines)},
    }
    data = data.sort_values(
        ["phase", ACTIVATION, "line", "kind", "run_ids", "layer"],
        key=lambda s: s.map(orders[s.name]) if s.name in orders else s,
        kind="stable",
    ).reset_index(drop=True)
    cols = [ACTIVATION, "phase", "line", "kind", "run_ids", "step", "layer", "value", "lo", "hi"]
    cols += ["bound", "envelope", "n_runs", "line_runs", "line_diverged"]
    return data[cols], lines, styles, skipped


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


# ---- figure 1 and 4: a quantity against layer l -----------------------------------


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
    runs, history = _prepare(runs, history, need=(ACTIVATION, line_by))
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
    data, lines, styles, skipped = _profiles(
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
        detail = _constant_text(in_panel, shared)
        for r, phase in enumerate(phases):
            ax = axes[0][r] if len(panels) == 1 else axes[r][c]
            _draw_profiles(ax, data, act, phase, lines, styles, log, with_bound)
            ax.set_title(f"{act}{' · ' + detail if detail else ''}", fontsize=10)
            ax.set_xlabel(r"layer $l$  (1 = next to the input, $L$ = output)")
            ax.set_ylabel(f"{ylabel}\n{_phase_text(phase, data, history)}")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, which="major", alpha=0.3)
    setup = _setup_text(runs, exclude=(line_by,))
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
    ‖δ^L‖ Π_{k>l} sup|φ′|‖W^k‖₂ (history column ``bound``, dashed, same colour)
    and, for the sigmoid, the notes' heuristic envelope (1/4)^{L−l} anchored at
    the measured value of the output layer L (dotted).  Since
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
    symbol = _YLABELS[quantity]
    return _profile_grid(
        runs,
        history,
        quantity=quantity,
        line_by=line_by,
        band=band,
        phases=tuple(phases),
        log=True,
        with_bound=True,
        ylabel=_YLABELS[quantity],
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


# ---- figure 2: vanishing factor against depth --------------------------------------


def plot_vanishing_vs_depth(
    runs: pd.DataFrame, *, band: str = "minmax", title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """Figure 2: ‖∇b^1‖/‖∇b^L‖ at initialisation against depth.

    One line per activation × init (colour = activation, line style and marker
    = init), median over seeds with a min–max (or IQR) band, on a log axis,
    with the reference (1/4)^{depth}: the product of depth sigmoid factors
    σ′ ≤ 1/4 between layer L and layer 1 when ‖W^l‖₂ ≈ 1 (notes, eq. 4).
    Set-ups with a run that later diverged get a black ✕ over their point.

    Returns
    -------
    data : DataFrame
        One row per point: ``line``, ``model.activation``, ``model.init``,
        ``model.depth``, ``value`` (median vanish_ratio), ``lo``, ``hi``,
        ``n_runs``, ``n_diverged``, ``reference`` = 0.25**depth.
    fig : Figure
    """
    check_choice("band", band, BANDS)
    runs, _ = _prepare(runs, None, need=(ACTIVATION, INIT, DEPTH, names.VANISH_RATIO))
    runs = runs[runs[DEPTH].notna()].copy()
    runs["_ratio"] = pd.to_numeric(runs[names.VANISH_RATIO], errors="coerce")
    if not np.isfinite(positive(runs["_ratio"])).any():
        raise NoDataError(f"no run has a positive finite {names.VANISH_RATIO}")
    runs["_act_rank"] = runs[ACTIVATION].map(
        {a: i for i, a in enumerate(activation_order(runs[ACTIVATION]))}
    )
    runs = runs.sort_values(["_act_rank", INIT, DEPTH], kind="stable")
    extra = _varying(runs, exclude=(ACTIVATION, INIT, DEPTH))
    keys = [ACTIVATION, INIT, *extra]
    # colour = activation; line style and marker = init and any other varying key
    runs["_variant"] = [
        ", ".join(
            [
                format_value(r[0]),
                *(f"{short_key(k)}={format_value(v)}" for k, v in zip(extra, r[1:], strict=True)),
            ]
        )
        for r in runs[keys[1:]].itertuples(index=False)
    ]
    runs["line"] = runs[ACTIVATION].map(format_value) + ", " + runs["_variant"]
    good = runs[np.isfinite(positive(runs["_ratio"]))]
    data = (
        good.groupby(["line", ACTIVATION, INIT, DEPTH], sort=False)
        .agg(
            value=("_ratio", "median"),
            lo=("_ratio", lambda s: _band(s, band, True)),
            hi=("_ratio", lambda s: _band(s, band, False)),
            n_runs=("run_id", "count"),
        )
        .reset_index()
    )
    n_div = runs.groupby(["line", DEPTH], sort=False)["diverged"].sum().rename("n_diverged")
    data = data.merge(n_div.reset_index(), on=["line", DEPTH], how="left")
    data["n_diverged"] = data["n_diverged"].astype(int)
    data["reference"] = SIGMOID_FACTOR ** data[DEPTH].astype(float)

    fig = new_figure(9.0, 6.5)
    ax = fig.subplots()
    styles = _styles(runs, "line", ACTIVATION, "_variant")
    variants = list(dict.fromkeys(runs["_variant"]))
    for line, d in data.groupby("line", sort=False):
        d = d.sort_values(DEPTH)
        x = d[DEPTH].to_numpy(dtype=float)
        colour, marker = styles[line]
        ls = _LINESTYLES[variants.index(runs.loc[runs["line"] == line, "_variant"].iloc[0]) % 4]
        ax.plot(x, d["value"], ls=ls, marker=marker, color=colour, label=line)
        if (d["n_runs"] > 1).any():
            ax.fill_between(x, d["lo"], d["hi"], color=colour, alpha=0.15, lw=0)
        hit = d[d["n_diverged"] > 0]
        if len(hit):
            ax.plot(hit[DEPTH].astype(float), hit["value"], "x", color="k", ms=9, mew=2)
    depths = np.sort(runs[DEPTH].dropna().unique().astype(float))
    grid = np.linspace(depths.min(), depths.max(), 50) if len(depths) > 1 else depths
    ax.plot(
        grid, SIGMOID_FACTOR**grid, color="k", ls="--", lw=1.2, label=r"$(1/4)^{\mathrm{depth}}$"
    )
    ax.axhline(1.0, color="0.5", lw=0.8, label="no vanishing (ratio 1)")
    if (data["n_diverged"] > 0).any():
        ax.plot(
            [], [], "x", color="k", ms=9, mew=2, label="a run of this set-up diverged in training"
        )
    log_y(ax)
    ax.set_xticks(depths)
    ax.set_xticklabels([format_value(d) for d in depths])
    ax.set_xlabel("depth = hidden layers  (L = depth + 1)")
    ax.set_ylabel(r"$\|\nabla b^1\|\,/\,\|\nabla b^L\|$ at initialisation")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    setup = _setup_text(runs, exclude=(DEPTH, INIT))
    head = title or "Vanishing factor against depth, one line per activation × init"
    fig.suptitle(wrap(head + (f"\n{setup}" if setup else ""), 9.0), fontsize=11)
    return data, fig


# ---- figure 3: speed of learning of every layer during training ---------------------


def pick_deep_run(runs: pd.DataFrame, activation: str = "sigmoid") -> str:
    """The run_id that best shows the speed-of-learning figure.

    Preference, in order: the given activation, a run that did not diverge, the
    activation's natural init, the largest depth, the smallest seed.
    """
    _require(runs, ("run_id",), "the runs frame")
    if len(runs) == 0:
        raise NoDataError("there are no runs to choose from")
    r = runs.copy()
    act = r[ACTIVATION] if ACTIVATION in r else pd.Series("", index=r.index)
    init = r[INIT] if INIT in r else pd.Series("", index=r.index)
    diverged = r["diverged"] if "diverged" in r else pd.Series(False, index=r.index)
    score = pd.DataFrame(
        {
            "act": act != activation,
            "div": diverged.astype(bool),
            "init": init != act.map(NATURAL_INIT),
            "depth": -pd.to_numeric(r.get(DEPTH, 0), errors="coerce").fillna(0),
            "seed": pd.to_numeric(r.get(SEED, 0), errors="coerce").fillna(0),
            "run_id": r["run_id"],
        }
    )
    return str(score.sort_values(list(score.columns)).iloc[0]["run_id"])


def _time_series(runs, history, run_id, quantity) -> tuple[pd.Series, pd.DataFrame]:
    runs, history = _prepare(runs, history, need=())
    if run_id is None:
        run_id = pick_deep_run(runs)
    if run_id not in set(runs["run_id"]):
        raise NoDataError(f"run_id={run_id!r} is not among the runs")
    _require(history, (quantity,), "the history frame")
    h = history[history["run_id"] == run_id]
    if len(h) == 0:
        raise NoDataError(f"run {run_id!r} has no history table")
    rank = {names.PHASE_INIT: 0, names.PHASE_TRAIN: 1, names.PHASE_FINAL: 2}
    h = h.assign(_rank=h["phase"].map(rank).fillna(1)).sort_values(["step", "_rank", "layer"])
    h = h.drop_duplicates(["step", "layer"], keep="last")  # 'final' may repeat the last step
    data = h[["step", "epoch", "phase", "layer", quantity]].rename(columns={quantity: "value"})
    return runs.set_index("run_id").loc[run_id], data.reset_index(drop=True)


def _run_title(run: pd.Series) -> str:
    parts = [format_value(run.get(ACTIVATION))]
    if DEPTH in run and pd.notna(run[DEPTH]):
        parts.append(f"depth {format_value(run[DEPTH])} (L = {int(run[DEPTH]) + 1})")
    for key in (INIT, "model.width", "train.lr", SEED):
        if key in run and pd.notna(run[key]):
            parts.append(f"{short_key(key)} {format_value(run[key])}")
    return ", ".join(parts) + f"  [{run.get('run_name', '')}]"


def _diverged_step(run: pd.Series, data: pd.DataFrame) -> float | None:
    if not bool(run.get("diverged", False)):
        return None
    step = pd.to_numeric(pd.Series([run.get(names.DIVERGED_STEP)]), errors="coerce").iloc[0]
    return float(step) if pd.notna(step) else float(data["step"].max())


def layer_colours(L: int):
    cmap = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, L)))
    return cmap, BoundaryNorm(np.arange(0.5, L + 1.5), L)


def plot_speed_of_learning(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    *,
    run_id: str | None = None,
    quantity: str = "grad_b_norm",
) -> tuple[pd.DataFrame, Figure]:
    """Figure 3a: ‖∇b^l‖ of every layer against the SGD step (Nielsen, ch. 5).

    One line per layer l = 1..L (viridis: dark = next to the input) for one run,
    by default :func:`pick_deep_run`.  A diverged run gets a vertical line at
    the step it diverged and ✕ at each layer's last finite value.

    Returns
    -------
    data : DataFrame
        ``step``, ``epoch``, ``phase``, ``layer``, ``value`` of that run, one
        row per logged step × layer.
    fig : Figure
    """
    run, data = _time_series(runs, history, run_id, quantity)
    L = int(data["layer"].max())
    cmap, norm = layer_colours(L)
    fig = new_figure(7.5, 4.8)
    ax = fig.subplots()
    for layer, d in data.groupby("layer"):
        ax.plot(d["step"], positive(d["value"]), color=cmap(norm(layer)), lw=1.4)
    stop = _diverged_step(run, data)
    if stop is not None:
        ax.axvline(stop, color="k", ls=":", lw=1, label=f"diverged at step {format_value(stop)}")
        fin = data[np.isfinite(positive(data["value"]))].groupby("layer").tail(1)
        ax.plot(fin["step"], fin["value"], "x", color="k", ms=7, mew=1.5, label="last finite value")
        ax.legend(fontsize=8)
    if np.isfinite(positive(data["value"])).any():
        log_y(ax)
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=r"layer $l$", ticks=_layer_ticks(L))
    ax.set_xlabel("SGD step (mini-batch updates)")
    ax.set_ylabel(_YLABELS.get(quantity, quantity) + " on the probe batch")
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(
        wrap(f"Speed of learning of each layer during training\n{_run_title(run)}", 6.5),
        fontsize=10,
    )
    return data, fig


def _layer_ticks(L: int) -> list[int]:
    return sorted({1, L, *range(1, L + 1, max(1, L // 8))})


def plot_gradient_heatmap(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    *,
    run_id: str | None = None,
    quantity: str = "grad_b_norm",
) -> tuple[pd.DataFrame, Figure]:
    """Figure 3b: heatmap of log10 ‖∇b^l‖ over layer l × SGD step for one run.

    Cells whose value is zero or non-finite are grey.  Run choice as in
    :func:`plot_speed_of_learning`.

    Returns
    -------
    data : DataFrame
        ``step``, ``epoch``, ``phase``, ``layer``, ``value``, ``log10_value``.
    fig : Figure
    """
    run, data = _time_series(runs, history, run_id, quantity)
    data = data.assign(log10_value=np.log10(positive(data["value"])))
    grid = data.pivot(index="layer", columns="step", values="log10_value")  # (L, n_steps)
    fig = new_figure(7.5, 4.8)
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.8")
    mesh = ax.pcolormesh(
        grid.columns.to_numpy(dtype=float),
        grid.index.to_numpy(dtype=float),
        np.ma.masked_invalid(grid.to_numpy(dtype=float)),
        shading="nearest",
        cmap=cmap,
    )
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10}$ " + _YLABELS.get(quantity, quantity))
    stop = _diverged_step(run, data)
    if stop is not None:
        ax.axvline(stop, color="w", ls=":", lw=1.5, label=f"diverged at step {format_value(stop)}")
        ax.legend(fontsize=8)
    ax.set_yticks(_layer_ticks(int(grid.index.max())))
    ax.set_xlabel("SGD step (mini-batch updates)")
    ax.set_ylabel(r"layer $l$  (1 = next to the input)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(
        wrap(f"Gradient magnitude per layer and step\n{_run_title(run)}", 6.5), fontsize=10
    )
    return data, fig


# ---- selections the report uses ---------------------------------------------------


def natural_init_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation, the runs with its :data:`NATURAL_INIT` (else its most common init)."""
    _require(runs, (ACTIVATION, INIT), "the runs frame")
    keep = []
    for act, grp in runs.groupby(ACTIVATION, sort=False):
        want = NATURAL_INIT.get(act)
        counts = grp[INIT].value_counts()
        # else the most common init, ties broken by name so the choice is stable
        init = want if want in counts else min(counts.index[counts == counts.max()])
        keep.append(grp[grp[INIT] == init])
    return pd.concat(keep) if keep else runs.iloc[0:0]


def deepest_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation, the runs of the largest depth."""
    _require(runs, (ACTIVATION, DEPTH), "the runs frame")
    top = runs.groupby(ACTIVATION)[DEPTH].transform("max")
    return runs[runs[DEPTH] == top]
