"""Figures 3a and 3b: the speed of learning of every layer of one run during training.

:func:`time_series` picks the run and returns its per-layer quantity against
the SGD step (pure); :func:`plot_speed_of_learning` draws it as lines,
:func:`plot_gradient_heatmap` as a layer × step heatmap.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gradlab import names
from gradlab.report.frames import (
    ACTIVATION,
    DEPTH,
    INIT,
    SEED,
    NoDataError,
    format_value,
    pick_deep_run,
    prepare,
    require,
    short_key,
)
from gradlab.report.style import (
    YLABELS,
    layer_colours,
    layer_ticks,
    log_y,
    new_figure,
    positive,
    wrap,
)


def time_series(runs, history, run_id, quantity) -> tuple[pd.Series, pd.DataFrame]:
    runs, history = prepare(runs, history, need=())
    if run_id is None:
        run_id = pick_deep_run(runs)
    if run_id not in set(runs["run_id"]):
        raise NoDataError(f"run_id={run_id!r} is not among the runs")
    require(history, (quantity,), "history")
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
    run, data = time_series(runs, history, run_id, quantity)
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
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=r"layer $l$", ticks=layer_ticks(L))
    ax.set_xlabel("SGD step (mini-batch updates)")
    ax.set_ylabel(YLABELS.get(quantity, quantity) + " on the probe batch")
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(
        wrap(f"Speed of learning of each layer during training\n{_run_title(run)}", 6.5),
        fontsize=10,
    )
    return data, fig


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
    run, data = time_series(runs, history, run_id, quantity)
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
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10}$ " + YLABELS.get(quantity, quantity))
    stop = _diverged_step(run, data)
    if stop is not None:
        ax.axvline(stop, color="w", ls=":", lw=1.5, label=f"diverged at step {format_value(stop)}")
        ax.legend(fontsize=8)
    ax.set_yticks(layer_ticks(int(grid.index.max())))
    ax.set_xlabel("SGD step (mini-batch updates)")
    ax.set_ylabel(r"layer $l$  (1 = next to the input)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(
        wrap(f"Gradient magnitude per layer and step\n{_run_title(run)}", 6.5), fontsize=10
    )
    return data, fig
