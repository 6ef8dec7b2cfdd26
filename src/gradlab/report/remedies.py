"""The remedies figures: what each remedy does to the gradients, the accuracy and the updates.

From the runs of preset ``remedies`` (depth × remedy × activation × seed on the
digits): :func:`remedy_gradient_data` gives ‖∇b^l‖ against layer at
initialisation and after training, :func:`remedy_accuracy_data` the test
accuracy against depth, :func:`update_ratio_data` the per-layer relative update
size ‖ΔW^l‖/‖W^l‖ of SGD and Adam; each is pure (tables in, table out) and has a
thin ``plot_*`` beside it.  Seeds are repeats: every value is the median over
seeds with the min–max band.  A remedy that replaces the activation (SELU) is
drawn in the panel of every activation the sweep crossed it with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from gradlab import names
from gradlab.report.frames import ACTIVATION, DEPTH, SEED, NoDataError, activation_order, require
from gradlab.report.style import LAYER_AXIS, OKABE_ITO, log_y, new_figure, positive, wrap

REMEDY = "remedy"
PLAIN = "plain"
SELU = "selu"
#: Labels of the remedies in the order of the figures (combinations follow, A–Z).
REMEDY_ORDER = (
    PLAIN,
    "residual",
    "layer norm",
    "batch norm",
    "SELU",
    "LSUV",
    "Adam",
    "momentum",
    "clipping",
)
#: The optimisers compared in the update-size figure: plain SGD against Adam, same network.
UPDATE_REMEDIES = (PLAIN, "Adam")
STATS = ("median", "lo", "hi", "n_seeds")


def remedy_label(run: pd.Series) -> str:
    """The remedies a run's config uses, e.g. ``'residual + layer norm'``; ``'plain'`` if none.

    Read from the logged params: ``model.activation=selu`` (SELU),
    ``model.init=lsuv`` (LSUV), ``model.residual``, ``model.norm``,
    ``train.optimizer`` (Adam, momentum) and ``train.clip_norm`` (clipping).
    """
    parts = []
    if run.get(ACTIVATION) == SELU:
        parts.append("SELU")
    if run.get("model.init") == "lsuv":
        parts.append("LSUV")
    if str(run.get("model.residual")) == "True":
        parts.append("residual")
    if run.get("model.norm") in ("layer", "batch"):
        parts.append(f"{run['model.norm']} norm")
    parts += {"adam": ["Adam"], "momentum": ["momentum"]}.get(run.get("train.optimizer"), [])
    clip = pd.to_numeric(run.get("train.clip_norm"), errors="coerce")
    if pd.notna(clip):
        parts.append("clipping")
    return " + ".join(parts) or PLAIN


def remedy_order(labels) -> list[str]:
    present = list(dict.fromkeys(labels))
    return [r for r in REMEDY_ORDER if r in present] + sorted(
        r for r in present if r not in REMEDY_ORDER
    )


def labelled_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with a ``remedy`` column and a ``panel`` activation column.

    A SELU run goes to the panel of every other activation present (it replaced
    that activation in the sweep); runs with identical configs (the same SELU
    point reached from two activations) count once per panel.
    """
    if runs is None or len(runs) == 0:
        raise NoDataError("there are no runs of the remedies preset")
    require(runs, ("run_id", ACTIVATION, DEPTH, SEED), "runs")
    runs = runs.assign(**{REMEDY: [remedy_label(r) for _, r in runs.iterrows()]})
    swept = [a for a in activation_order(runs[ACTIVATION]) if a != SELU] or [SELU]
    parts = []
    for act in swept:
        mine = runs[(runs[ACTIVATION] == act) | (runs[ACTIVATION] == SELU)]
        parts.append(mine.assign(panel=act).drop_duplicates([REMEDY, DEPTH, SEED]))
    return pd.concat(parts, ignore_index=True)


def middle_depth(depths) -> int:
    """The middle of the sweep's depths (the upper one of two middles): 20 of 5, 20, 50."""
    ordered = sorted(set(depths))
    return int(ordered[len(ordered) // 2])


def _spread(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Median, min and max of ``value`` over seeds for every group of ``by``."""
    g = frame.groupby(by, sort=False)[value]
    out = g.agg(median="median", lo="min", hi="max", n_seeds="count").reset_index()
    return out


def remedy_gradient_data(
    runs: pd.DataFrame, history: pd.DataFrame, depth: int | None = None
) -> pd.DataFrame:
    """``panel``, ``remedy``, ``phase`` (init | final), ``layer``, ``median``, ``lo``, ``hi``,
    ``n_seeds``: ‖∇b^l‖ on the probe batch at initialisation and after the last step.

    ``depth`` defaults to :func:`middle_depth` of the sweep.  Runs that diverged
    have no final row.
    """
    runs = labelled_runs(runs)
    depth = middle_depth(runs[DEPTH]) if depth is None else depth
    runs = runs[runs[DEPTH] == depth]
    h = history[history["phase"].isin([names.PHASE_INIT, names.PHASE_FINAL])]
    h = h.merge(runs[["run_id", "panel", REMEDY]], on="run_id")
    if len(h) == 0:
        raise NoDataError(f"no run of depth {depth} has a per-layer history")
    out = _spread(h, ["panel", REMEDY, "phase", "layer"], "grad_b_norm")
    return out.assign(depth=depth)


def remedy_accuracy_data(runs: pd.DataFrame) -> pd.DataFrame:
    """``panel``, ``remedy``, ``depth``, ``median``, ``lo``, ``hi``, ``n_seeds``: test accuracy
    after training; a run that diverged counts as chance, 1/10 on the digits."""
    runs = labelled_runs(runs)
    require(runs, (names.TEST_ACCURACY,), "runs")
    acc = runs[names.TEST_ACCURACY].astype(float)
    runs = runs.assign(accuracy=acc.where(~runs.get("diverged", False) & acc.notna(), 0.1))
    return _spread(runs, ["panel", REMEDY, DEPTH], "accuracy").sort_values(
        ["panel", REMEDY, DEPTH], kind="stable"
    )


def update_ratio_data(
    runs: pd.DataFrame, history: pd.DataFrame, depth: int | None = None
) -> pd.DataFrame:
    """``panel``, ``remedy`` (plain SGD | Adam), ``layer``, ``median``, ``lo``, ``hi``,
    ``n_seeds``: ‖ΔW^l‖/‖W^l‖ averaged over the logged steps of each run, then over seeds.

    Each logged value is already the mean over the steps since the one before
    (``names.UPDATE_COLUMNS``); ``depth`` defaults to :func:`middle_depth`.
    """
    runs = labelled_runs(runs)
    runs = runs[runs[REMEDY].isin(UPDATE_REMEDIES)]
    depth = middle_depth(runs[DEPTH]) if depth is None else depth
    runs = runs[runs[DEPTH] == depth]
    h = history[history["phase"] != names.PHASE_INIT]
    per_run = h.groupby(["run_id", "layer"])["update_ratio"].mean().reset_index()
    per_run = per_run.merge(runs[["run_id", "panel", REMEDY]], on="run_id")
    if len(per_run) == 0:
        raise NoDataError(f"no SGD or Adam run of depth {depth} has update sizes in its history")
    return _spread(per_run, ["panel", REMEDY, "layer"], "update_ratio").assign(depth=depth)


# ---- drawing ----------------------------------------------------------------------


def _colours(labels) -> dict[str, str]:
    order = [r for r in remedy_order(labels) if r != PLAIN]
    return {r: OKABE_ITO[i % len(OKABE_ITO)] for i, r in enumerate(order)} | {PLAIN: "0.55"}


def plot_remedy_gradients(runs, history) -> tuple[pd.DataFrame, Figure]:
    """‖∇b^l‖ against layer, one panel per activation × remedy, plain network in grey.

    Dashed: at initialisation; solid: after training; median over seeds, band
    min–max.

    Returns
    -------
    data : DataFrame
        :func:`remedy_gradient_data`.
    fig : Figure
    """
    data = remedy_gradient_data(runs, history)
    panels = activation_order(data["panel"])
    remedies = [r for r in remedy_order(data[REMEDY]) if r != PLAIN] or [PLAIN]
    colours = _colours(data[REMEDY])
    fig = new_figure(2.3 * len(remedies) + 0.6, 2.6 * len(panels) + 0.9)
    axes = np.atleast_2d(fig.subplots(len(panels), len(remedies), sharey="row", squeeze=False))
    for row, act in zip(axes, panels, strict=True):
        for ax, remedy in zip(row, remedies, strict=True):
            mine = data[(data["panel"] == act) & (data[REMEDY] == remedy)]
            note = "" if (mine["phase"] == names.PHASE_FINAL).any() else "\n(diverged: no final)"
            if "batch norm" in remedy:
                note += "\n(" + r"$\nabla b^l = 0$" + " in normed layers: μ cancels b)"
            ax.set_title(f"{act}: {remedy}{note}", fontsize=8)
            for who, colour in ((PLAIN, colours[PLAIN]), (remedy, colours[remedy])):
                for phase, ls in ((names.PHASE_INIT, "--"), (names.PHASE_FINAL, "-")):
                    d = data[(data["panel"] == act) & (data[REMEDY] == who)]
                    d = d[d["phase"] == phase].sort_values("layer")
                    if len(d) == 0:
                        continue
                    ax.plot(d["layer"], positive(d["median"]), ls, color=colour, lw=1.3)
                    ax.fill_between(
                        d["layer"], positive(d["lo"]), positive(d["hi"]), color=colour, alpha=0.15
                    )
            ax.grid(True, alpha=0.3)
            log_y(ax)
        row[0].set_ylabel(r"$\|\nabla b^l\|_2$")
    for ax in axes[-1]:
        ax.set_xlabel(LAYER_AXIS, fontsize=7)
    depth = int(data["depth"].iloc[0])
    fig.suptitle(
        f"Depth {depth}: " + r"$\|\nabla b^l\|_2$" + " at initialisation (dashed) and after "
        "training (solid); grey: the plain network",
        fontsize=10,
    )
    return data, fig


def plot_remedy_accuracy(runs) -> tuple[pd.DataFrame, Figure]:
    """Test accuracy against depth, one panel per activation, one line per remedy.

    Returns
    -------
    data : DataFrame
        :func:`remedy_accuracy_data`.
    fig : Figure
    """
    data = remedy_accuracy_data(runs)
    panels = activation_order(data["panel"])
    colours = _colours(data[REMEDY])
    fig = new_figure(5.2 * len(panels) + 1.8, 4.4)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)[0])
    for ax, act in zip(axes, panels, strict=True):
        for i, remedy in enumerate(remedy_order(data[REMEDY])):
            d = data[(data["panel"] == act) & (data[REMEDY] == remedy)].sort_values(DEPTH)
            if len(d) == 0:
                continue
            c = colours[remedy]
            lw = 2.2 if remedy == PLAIN else 1.3
            marker = "os^Dv<>PX"[i % 9]
            ls = "--" if i > len(OKABE_ITO) else "-"  # past 7 colours they repeat: dash the line
            ax.plot(d[DEPTH], d["median"], ls, marker=marker, ms=4, color=c, lw=lw, label=remedy)
            ax.fill_between(d[DEPTH], d["lo"], d["hi"], color=c, alpha=0.12)
        ax.axhline(0.1, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(sorted(data[DEPTH].unique()), [str(v) for v in sorted(data[DEPTH].unique())])
        ax.set_title(act, fontsize=10)
        ax.set_xlabel("depth (hidden layers)")
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("test accuracy (median, band min–max over seeds)")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("Which remedies let a deep network learn the digits (dotted: chance)", fontsize=10)
    return data, fig


def plot_update_ratio(runs, history) -> tuple[pd.DataFrame, Figure]:
    """Per-layer ‖ΔW^l‖/‖W^l‖ of plain SGD and Adam, one panel per activation.

    Returns
    -------
    data : DataFrame
        :func:`update_ratio_data`.
    fig : Figure
    """
    data = update_ratio_data(runs, history)
    panels = activation_order(data["panel"])
    colours = _colours(data[REMEDY])
    fig = new_figure(5.0 * len(panels), 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)[0])
    for ax, act in zip(axes, panels, strict=True):
        for remedy in UPDATE_REMEDIES:
            d = data[(data["panel"] == act) & (data[REMEDY] == remedy)].sort_values("layer")
            if len(d) == 0:
                continue
            label = "SGD" if remedy == PLAIN else remedy
            c = "k" if remedy == PLAIN else colours[remedy]
            ax.plot(d["layer"], positive(d["median"]), "o-", ms=3, color=c, label=label)
            ax.fill_between(d["layer"], positive(d["lo"]), positive(d["hi"]), color=c, alpha=0.15)
        ax.set_title(act, fontsize=10)
        ax.set_xlabel(LAYER_AXIS)
        ax.grid(True, alpha=0.3)
        log_y(ax)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(r"$\|\Delta W^l\|_F / \|W^l\|_F$ per step")
    title = (
        f"Depth {int(data['depth'].iloc[0])}: relative size of the weight update each layer "
        "receives, mean over training"
    )
    fig.suptitle(wrap(title, 5.0 * len(panels)), fontsize=10)
    return data, fig


def accuracy_text(data: pd.DataFrame, depth: int = 20) -> str:
    """Markdown bullets: at ``depth`` (else :func:`middle_depth`), each remedy's median test
    accuracy beside the plain network's, per activation panel."""
    depths = sorted(data[DEPTH].unique())
    if not depths:
        return ""
    if depth not in depths:
        depth = middle_depth(depths)
    lines = []
    for act in activation_order(data["panel"]):
        d = data[(data["panel"] == act) & (data[DEPTH] == depth)].set_index(REMEDY)
        if len(d) == 0:
            continue
        plain = d["median"].get(PLAIN, np.nan)
        items = [
            f"{r} {d.loc[r, 'median']:.3f} ({d.loc[r, 'lo']:.3f}–{d.loc[r, 'hi']:.3f})"
            for r in remedy_order(d.index)
            if r != PLAIN
        ]
        lines.append(
            f"- {act}, depth {depth}, median test accuracy over {int(d['n_seeds'].max())} "
            f"seed(s) (min–max): plain {plain:.3f}; " + "; ".join(items) + "."
        )
    return "\n".join(lines)
