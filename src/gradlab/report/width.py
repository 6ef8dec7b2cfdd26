"""The `width_vs_depth` figure: the spread of ln‖δ^1‖² against β = Σ_j 1/n_j (Hanin 2018).

:func:`width_points` (pure) takes the probe runs of the ``width_vs_depth`` preset
to one point per (depth, width) with the median over seeds of Var[ln‖δ^1‖²] and
β; :func:`plot_width_vs_depth` draws the points against β, one marker per width
and one colour per depth, so that networks of equal β and different shape can
be seen to land together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names
from gradlab.report.frames import ACT, PDEPTH, WIDTH, NoDataError, require
from gradlab.report.style import new_figure, wrap

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def width_points(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (``depth``, ``width``) of the delta probe runs.

    Columns: ``depth`` (L), ``width`` (n), ``beta`` (β = (L − 1)/n for equal
    widths, as logged), ``var`` (median over seeds of Var[ln‖δ^1‖²]),
    ``var_min``, ``var_max``, ``n_runs``, ``run_ids``, and ``spread_at_beta``:
    (max − min)/median of ``var`` over the points of the same β (NaN where β
    is shared by no other point).
    """
    need = (PDEPTH, WIDTH, names.WIDTH_BETA, names.LN_DELTA1_SQ_VAR)
    probes = require(probes, need, "width probe runs", empty_ok=False)
    probes = probes[np.isfinite(pd.to_numeric(probes[names.LN_DELTA1_SQ_VAR], errors="coerce"))]
    if len(probes) == 0:
        raise NoDataError(f"no probe run has a finite {names.LN_DELTA1_SQ_VAR}")
    points = (
        probes.assign(depth=probes[PDEPTH].astype(int), width=probes[WIDTH].astype(int))
        .groupby(["depth", "width"])
        .agg(
            beta=(names.WIDTH_BETA, "first"),
            var=(names.LN_DELTA1_SQ_VAR, "median"),
            var_min=(names.LN_DELTA1_SQ_VAR, "min"),
            var_max=(names.LN_DELTA1_SQ_VAR, "max"),
            n_runs=("run_id", "count"),
            run_ids=("run_id", lambda s: ",".join(sorted(s))),
        )
        .reset_index()
    )
    key = points["beta"].round(12)
    by_beta = points.groupby(key)["var"]
    spread = (by_beta.transform("max") - by_beta.transform("min")) / by_beta.transform("median")
    points["spread_at_beta"] = spread.where(by_beta.transform("count") > 1)
    return points.sort_values(["beta", "depth"]).reset_index(drop=True)


def plot_width_vs_depth(
    probes: pd.DataFrame, *, title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """Var[ln‖δ^1‖²] against β, a marker per width and a colour per depth (log–log).

    Each point is the median over seeds, with a min–max bar; the grey line
    joins the medians of the points of each β, so a shape that falls off the
    common curve stands out.

    Returns
    -------
    data : DataFrame
        :func:`width_points`.
    fig : Figure
    """
    points = width_points(probes)
    act = str(probes[ACT].iloc[0]) if ACT in probes else "?"
    fig = new_figure(7.0, 5.0)
    ax = fig.subplots()
    common = points.groupby(points["beta"].round(12))["var"].median()
    ax.plot(common.index, common.to_numpy(), color="0.6", lw=1.2, zorder=1,
            label="median of equal-β points")  # fmt: skip
    depths = sorted(points["depth"].unique())
    widths = sorted(points["width"].unique())
    colours = dict(zip(depths, ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7"], strict=False))
    markers = dict(zip(widths, _MARKERS, strict=False))
    for _, p in points.iterrows():
        err = [[p["var"] - p["var_min"]], [p["var_max"] - p["var"]]]
        ax.errorbar(p["beta"], p["var"], yerr=err, fmt=markers.get(p["width"], "o"),
                    color=colours.get(p["depth"], "k"), ms=6, capsize=2, zorder=2)  # fmt: skip
    for d in depths:
        ax.plot([], [], "s", color=colours.get(d, "k"), label=f"L = {d} ({d - 1} hidden layers)")
    for w in widths:
        ax.plot([], [], markers.get(w, "o"), color="k", mfc="none", label=f"n = {w}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\beta = \sum_j 1/n_j$  (hidden layers)")
    ax.set_ylabel(r"$\mathrm{Var}[\ln\|\delta^1\|^2]$  over networks and inputs")
    ax.legend(fontsize=7.5, ncol=2, loc="upper left")
    fig.suptitle(
        wrap(title or f"Finite-width fluctuations of {act} gradients at initialisation", 7.0),
        fontsize=11,
    )
    return points, fig


def width_text(data: pd.DataFrame) -> str:
    """How well equal-β networks agree, and how the spread grows with β."""
    if len(data) == 0:
        raise NoDataError("the width figure has no points")
    shared = data.dropna(subset=["spread_at_beta"])
    lines = []
    for b, grp in shared.groupby(shared["beta"].round(12)):
        shapes = ", ".join(
            f"L={int(r.depth)}/n={int(r.width)}: {r.var:.3g}" for r in grp.itertuples()
        )
        spread = grp["spread_at_beta"].iloc[0]
        lines.append(f"- β = {b:.4g}: {shapes}; (max − min)/median = {spread:.2f}")
    lo, hi = data.loc[data["beta"].idxmin()], data.loc[data["beta"].idxmax()]
    head = (
        f"Var[ln‖δ^1‖²] grows from {lo['var']:.3g} at β = {lo['beta']:.3g} "
        f"(L = {int(lo['depth'])}, n = {int(lo['width'])}) to {hi['var']:.3g} at β = "
        f"{hi['beta']:.3g} (L = {int(hi['depth'])}, n = {int(hi['width'])}).  Networks of "
        "equal β and different shape:\n\n"
    )
    return head + "\n".join(lines) + "\n"
