"""The `trainability` figure: which networks train, against ξ_c (Schoenholz et al. 2017, fig. 4).

:func:`trainability_grid` (pure) turns the training runs of the ``trainability``
preset into one cell per (σ_w², L) with the median test accuracy over seeds, the
verdict trainable/untrainable and the prediction L < 6 ξ_c from
:func:`gradlab.theory.xi_c`; :func:`plot_trainability` draws the cells as a
heatmap with the curve L = 6 ξ_c and the critical σ_w² (χ₁ = 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names, theory
from gradlab.report.frames import ACTIVATION, DEPTH, INIT, NoDataError, require
from gradlab.report.style import new_figure, wrap

GAIN, BIAS_STD = "model.gain", "model.bias_std"
#: A cell is trainable when its median test accuracy reaches this (chance is 1/10).
TRAINABLE_ACCURACY = 0.5
#: Schoenholz et al. (2017) find networks of depth L ≲ 6 ξ_c trainable.
XI_MULTIPLE = 6.0
#: Multiples k of ξ_c tried for the best-fitting boundary L = k ξ_c.
MULTIPLES = np.round(np.arange(0.25, 12.01, 0.25), 2)


def sigma_w2_of_runs(runs: pd.DataFrame) -> pd.Series:
    """σ_w² of each run from its init and gain (σ_w² = gain² for lecun_normal).

    Rounded to 6 decimals, so that a gain written to 7 significant digits lands
    on the σ_w² it was chosen for.
    """
    pairs = zip(runs[INIT], runs[GAIN], strict=True)
    sw2 = [theory.sigma_w2_of(str(i), float(g), 1, 1) for i, g in pairs]
    return pd.Series(np.round(sw2, 6), index=runs.index, dtype=float)


def trainability_grid(
    runs: pd.DataFrame, n_curve: int = 121
) -> tuple[str, float, pd.DataFrame, pd.DataFrame]:
    """(activation, σ_b², cells, curve) of the trainability runs.

    Parameters
    ----------
    runs : DataFrame
        Training runs (see :mod:`gradlab.report.frames`) with ``model.activation``,
        ``model.init``, ``model.gain``, ``model.bias_std``, ``model.depth`` and
        ``test_accuracy``; the commonest activation and bias std are used.
    n_curve : int
        Points of the theory curve over the grid's σ_w² range.

    Returns
    -------
    activation : str
    sigma_b2 : float
        bias_std².
    cells : DataFrame
        One row per (``sigma_w2``, ``depth``): ``accuracy`` (median over seeds),
        ``accuracy_min``, ``accuracy_max``, ``n_runs``, ``run_ids``; ``six_xi_c``
        = 6 ξ_c(σ_w², σ_b²); ``trainable`` (accuracy ≥ :data:`TRAINABLE_ACCURACY`),
        ``predicted`` (depth < 6 ξ_c) and ``agree``.  A run without a finite
        accuracy (diverged) counts as chance, 0.1.
    curve : DataFrame
        ``sigma_w2``, ``xi_c``, ``six_xi_c`` on ``n_curve`` points, and the row
        ``kind='critical'`` with the critical ``sigma_w2`` (χ₁ = 1).
    """
    need = (ACTIVATION, INIT, GAIN, BIAS_STD, DEPTH, names.TEST_ACCURACY)
    runs = require(runs, need, "trainability runs", empty_ok=False)
    activation = str(runs[ACTIVATION].value_counts().index[0])
    runs = runs[runs[ACTIVATION] == activation]
    bias_std = float(runs[BIAS_STD].astype(float).value_counts().index[0])
    runs = runs[runs[BIAS_STD].astype(float) == bias_std]
    sigma_b2 = round(bias_std**2, 6)
    accuracy = pd.to_numeric(runs[names.TEST_ACCURACY], errors="coerce").fillna(0.1)
    runs = runs.assign(sigma_w2=sigma_w2_of_runs(runs), depth=runs[DEPTH].astype(int), acc=accuracy)
    cells = (
        runs.groupby(["sigma_w2", "depth"])
        .agg(
            accuracy=("acc", "median"),
            accuracy_min=("acc", "min"),
            accuracy_max=("acc", "max"),
            n_runs=("run_id", "count"),
            run_ids=("run_id", lambda s: ",".join(sorted(s))),
        )
        .reset_index()
    )
    xi = {s: theory.xi_c(activation, s, sigma_b2) for s in cells["sigma_w2"].unique()}
    cells["six_xi_c"] = XI_MULTIPLE * cells["sigma_w2"].map(xi)
    cells["trainable"] = cells["accuracy"] >= TRAINABLE_ACCURACY
    cells["predicted"] = cells["depth"] < cells["six_xi_c"]
    cells["agree"] = cells["trainable"] == cells["predicted"]
    s = np.linspace(cells["sigma_w2"].min(), cells["sigma_w2"].max(), n_curve)
    xi_line = np.array([theory.xi_c(activation, float(v), sigma_b2) for v in s])
    curve = pd.DataFrame(
        {"kind": "xi_c", "sigma_w2": s, "xi_c": xi_line, "six_xi_c": XI_MULTIPLE * xi_line}
    )
    crit = pd.DataFrame(
        {"kind": ["critical"], "sigma_w2": [theory.critical_sigma_w2(activation, sigma_b2)]}
    )
    return activation, sigma_b2, cells, pd.concat([curve, crit], ignore_index=True)


def boundary_agreement(cells: pd.DataFrame, multiples=MULTIPLES) -> pd.DataFrame:
    """Share of cells whose verdict matches L < k ξ_c, for each multiple k.

    ``cells`` as from :func:`trainability_grid` (``six_xi_c`` = 6 ξ_c).

    Returns
    -------
    DataFrame
        ``multiple`` k and ``agreement`` (fraction of cells in [0, 1]).
    """
    cells = require(cells, ("depth", "six_xi_c", "trainable"), "cells", empty_ok=False)
    xi = cells["six_xi_c"].to_numpy(dtype=float) / XI_MULTIPLE  # (cells,)
    depth = cells["depth"].to_numpy(dtype=float)
    ok = cells["trainable"].to_numpy(dtype=bool)
    k = np.asarray(multiples, dtype=float)  # (K,)
    agree = ((depth[None, :] < k[:, None] * xi[None, :]) == ok[None, :]).mean(axis=1)
    return pd.DataFrame({"multiple": k, "agreement": agree})


def _edges(values: np.ndarray, log: bool = False) -> np.ndarray:
    """Cell edges halfway between sorted centres (geometric halfway when ``log``)."""
    v = np.log(values) if log else values.astype(float)
    mid = (v[1:] + v[:-1]) / 2 if v.size > 1 else np.array([])
    step = np.diff(v).min() if v.size > 1 else 1.0
    edges = np.concatenate([[v[0] - step / 2], mid, [v[-1] + step / 2]])
    return np.exp(edges) if log else edges


def plot_trainability(
    runs: pd.DataFrame, *, title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """Test accuracy over (σ_w², L) with the predicted boundary L = 6 ξ_c.

    The heatmap is the median test accuracy of each cell; a dot marks a cell
    whose verdict (accuracy ≥ :data:`TRAINABLE_ACCURACY`) differs from the
    prediction L < 6 ξ_c.  The solid curve is L = 6 ξ_c, the dotted one L = k ξ_c
    for the k of :func:`boundary_agreement` that agrees best, the dashed vertical
    line the critical σ_w², where ξ_c diverges (Schoenholz et al. 2017, fig. 4).

    Returns
    -------
    data : DataFrame
        Rows ``kind='cell'`` (the cells of :func:`trainability_grid`), ``kind='xi_c'``
        (the curve) and ``kind='critical'``.
    fig : Figure
    """
    activation, sigma_b2, cells, curve = trainability_grid(runs)
    acc = cells.pivot(index="depth", columns="sigma_w2", values="accuracy")
    sw, depth = acc.columns.to_numpy(dtype=float), acc.index.to_numpy(dtype=float)
    fig = new_figure(8.0, 5.6)
    ax = fig.subplots()
    mesh = ax.pcolormesh(
        _edges(sw), _edges(depth, log=True), np.ma.masked_invalid(acc.to_numpy(dtype=float)),
        cmap="viridis", vmin=0.0, vmax=1.0,
    )  # fmt: skip
    line = curve[curve["kind"] == "xi_c"]
    ax.plot(line["sigma_w2"], line["six_xi_c"], color="w", lw=2.2, label="L = 6 ξ_c (theory)")
    fit = boundary_agreement(cells)
    k = float(fit.loc[fit["agreement"].idxmax(), "multiple"])
    ax.plot(line["sigma_w2"], k * line["xi_c"], color="w", ls=":", lw=2.0,
            label=f"L = {k:g} ξ_c (best-fitting multiple)")  # fmt: skip
    crit = float(curve.loc[curve["kind"] == "critical", "sigma_w2"].iloc[0])
    ax.axvline(crit, color="w", ls="--", lw=1.4, label=f"critical σ_w² = {crit:.3f} (χ₁ = 1)")
    miss = cells[~cells["agree"]]
    ax.plot(miss["sigma_w2"], miss["depth"], "o", ms=4, mfc="r", mec="k", mew=0.5,
            label="verdict differs from L < 6 ξ_c")  # fmt: skip
    ax.set_yscale("log")
    ax.set_yticks(depth, [str(int(d)) for d in depth])
    ax.minorticks_off()
    ax.set_ylim(_edges(depth, log=True)[[0, -1]])
    ax.set_xlim(_edges(sw)[[0, -1]])
    ax.set_xlabel(r"$\sigma_w^2$  ($n\cdot\mathrm{Var}[W]$)")
    ax.set_ylabel("depth L (hidden layers)")
    fig.colorbar(mesh, ax=ax, label="test accuracy (median over seeds; chance 0.1)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
    share = cells["agree"].mean()
    fig.suptitle(
        wrap(
            (title or f"Which {activation} networks train (σ_b² = {sigma_b2:g})")
            + f": {100 * share:.0f} % of cells follow L < 6 ξ_c",
            8.0,
        ),
        fontsize=11,
    )
    data = pd.concat([cells.assign(kind="cell"), curve], ignore_index=True)
    return data, fig


def trainability_text(data: pd.DataFrame) -> str:
    """How well the measured boundary follows L = 6 ξ_c (the figure's ``data``)."""
    cells = data[data["kind"] == "cell"]
    if len(cells) == 0:
        raise NoDataError("the trainability figure has no cells")
    fit = boundary_agreement(cells)
    best = fit.loc[fit["agreement"].idxmax()]
    n, agree = len(cells), int(cells["agree"].sum())
    trainable = int(cells["trainable"].sum())
    return (
        f"A cell is trainable when its median test accuracy reaches {TRAINABLE_ACCURACY:g} "
        f"(chance 0.1); {trainable} of {n} cells are.  **{agree} of {n} cells "
        f"({100 * agree / n:.0f} %) have the verdict of L < 6 ξ_c**; the multiple k of ξ_c "
        f"whose boundary L = k ξ_c agrees best is k = {best['multiple']:g} "
        f"({100 * best['agreement']:.0f} % of cells).  A k below 6 means the budget of SGD "
        "steps trains less deep than the long training of Schoenholz et al. (2017).\n"
    )
