"""Figure 7: the order-to-chaos phase diagram, measured against predicted.

:func:`phase_grid` averages the probe runs' fitted slopes per (σ_w², σ_b²) cell
and computes the critical line χ₁ = 1 from :mod:`gradlab.theory` (pure);
:func:`plot_phase_diagram` draws both as heatmaps with the line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gradlab import names, theory
from gradlab.report.frames import ACT, KIND, SIGMA_B2, NoDataError, probe_setup, require
from gradlab.report.style import new_figure, wrap
from gradlab.theory.ensemble import log_slope


def transient_slopes(profiles: pd.DataFrame) -> pd.Series:
    """Per run_id, the slope the transient-aware prediction has on the fitted layers.

    :func:`gradlab.theory.ensemble.log_slope` of the logged ``delta_sq_profile``
    (E‖δ^l‖² ∝ Π_{k≥l} χ(q^k)) over the layers with ``in_fit`` = 1, the same fit
    the measured ``log_slope`` comes from.
    """
    need = ("run_id", "layer", names.PROBE_DELTA_SQ_PROFILE, "in_fit")
    profiles = require(profiles, need, "probe profiles")
    out = {}
    for run_id, p in profiles.sort_values("layer").groupby("run_id", sort=False):
        fit = p.loc[p["in_fit"] > 0, "layer"]
        if len(fit) < 2:
            continue
        line = p[names.PROBE_DELTA_SQ_PROFILE].to_numpy(dtype=float)  # (L,), l = 1..L
        out[run_id] = log_slope(line, int(fit.min()), int(fit.max()))
    return pd.Series(out, dtype=float)


def phase_grid(
    probes: pd.DataFrame, profiles: pd.DataFrame | None = None, n_curve: int = 25
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(activation, grid, critical line) of the delta probe runs of the commonest activation.

    grid: one row per (``sigma_w2``, ``sigma_b2``) cell with ``log_slope`` (mean
    over seeds), ``ln_chi1``, ``n_runs``, ``run_ids``; ``phase`` from ln χ₁
    ('ordered', 'critical' within :data:`gradlab.theory.criticality.CRITICAL_TOLERANCE`,
    'chaotic'); ``measured_phase`` from the sign of the slope ('ordered' | 'chaotic');
    ``transient_slope`` (mean over seeds of :func:`transient_slopes`, NaN without
    ``profiles``); ``predicted_slope``, the prediction that applies: ln χ₁ off the
    critical line, where the fitted layers sit at the fixed point, and the
    transient-aware slope on it, where q^l approaches q* only algebraically.
    line: ``n_curve`` points (``sigma_b2``, ``sigma_w2``) of χ₁ = 1 over the
    grid's σ_b² range.
    """
    need = (ACT, names.SIGMA_W2, SIGMA_B2, names.LOG_SLOPE, names.LN_CHI1)
    probes = require(probes, need, "probe runs", empty_ok=False)
    probes = probes[probes[KIND] == "delta"] if KIND in probes else probes
    acts = probes[ACT].value_counts()
    if len(acts) == 0:
        raise NoDataError("there are no delta probe runs")
    activation = str(acts.index[0])
    probes = probes[probes[ACT] == activation]
    slopes = transient_slopes(profiles) if profiles is not None else pd.Series(dtype=float)
    probes = probes.assign(_transient=probes["run_id"].map(slopes).astype(float))
    grid = (
        probes.groupby([names.SIGMA_W2, SIGMA_B2])
        .agg(
            log_slope=(names.LOG_SLOPE, "mean"),
            transient_slope=("_transient", "mean"),
            ln_chi1=(names.LN_CHI1, "first"),
            n_runs=("run_id", "count"),
            run_ids=("run_id", lambda s: ",".join(sorted(s))),
        )
        .reset_index()
        .rename(columns={names.SIGMA_W2: "sigma_w2", SIGMA_B2: "sigma_b2"})
    )
    grid["phase"] = theory.phase_of(grid["ln_chi1"])
    grid["measured_phase"] = np.where(grid["log_slope"] < 0, "ordered", "chaotic")
    critical = grid["phase"] == "critical"
    grid["predicted_slope"] = grid["transient_slope"].where(critical, grid["ln_chi1"])
    b = np.linspace(grid["sigma_b2"].min(), grid["sigma_b2"].max(), n_curve)
    line = pd.DataFrame({"sigma_b2": b, "sigma_w2": theory.critical_curve(activation, b)})
    return activation, grid, line


def plot_phase_diagram(
    probes: pd.DataFrame,
    profiles: pd.DataFrame | None = None,
    *,
    n_curve: int = 25,
    title: str | None = None,
) -> tuple[pd.DataFrame, Figure]:
    """Measured per-layer growth rate of E‖δ^l‖² over (σ_w², σ_b²), with the χ₁ = 1 line.

    Left: the measured slope s (mean over seeds; ln of the per-layer factor,
    < 0 vanishing, > 0 exploding) as a heatmap on a diverging scale centred at
    0; right: the predicted ln χ₁ on the same scale.  Cells on the critical
    line (``phase`` 'critical') are framed.  Both carry the critical
    line χ₁ = 1 computed from theory (Schoenholz et al. 2017, fig. 1), which
    separates the ordered phase (gradients vanish) from the chaotic one
    (gradients explode).

    Returns
    -------
    data : DataFrame
        Rows ``kind='grid'``: the grid of :func:`phase_grid`; rows
        ``kind='critical'``: the line, ``sigma_b2`` and ``sigma_w2``.
    fig : Figure
    """
    activation, grid, line = phase_grid(probes, profiles, n_curve)
    used = probes[probes["run_id"].isin(",".join(grid["run_ids"]).split(","))]
    measured = grid.pivot(index="sigma_b2", columns="sigma_w2", values="log_slope")
    predicted = grid.pivot(index="sigma_b2", columns="sigma_w2", values="ln_chi1")
    both = np.concatenate([measured.to_numpy(dtype=float), predicted.to_numpy(dtype=float)])
    # each side of 0 spans its own range: the sign (the phase) reads at a glance
    lo, hi = min(float(np.nanmin(both)), -1e-3), max(float(np.nanmax(both)), 1e-3)
    norm = TwoSlopeNorm(0.0, lo, hi)
    fig = new_figure(11.5, 5.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, frame, what in (
        (axes[0], measured, r"measured slope of $\ln E\,\|\delta^l\|^2$ per layer"),
        (axes[1], predicted, "predicted ln χ₁"),
    ):
        mesh = ax.pcolormesh(
            frame.columns.to_numpy(dtype=float),
            frame.index.to_numpy(dtype=float),
            np.ma.masked_invalid(frame.to_numpy(dtype=float)),
            shading="nearest",
            cmap="RdBu_r",
            norm=norm,
        )
        for (sb, sw), value in np.ndenumerate(frame.to_numpy(dtype=float)):
            if np.isfinite(value):
                x, y = frame.columns[sw], frame.index[sb]
                ax.text(x, y, f"{value:+.2f}", ha="center", va="center", fontsize=6.5)
        ax.plot(line["sigma_w2"], line["sigma_b2"], color="k", lw=2.2, label="χ₁ = 1 (theory)")
        _label_phases(ax, line)
        _frame_critical(ax, grid, frame)
        ax.set_xlabel(r"$\sigma_w^2$  ($n\cdot\mathrm{Var}[W]$)")
        ax.set_title(what, fontsize=10)
        ax.set_xlim(frame.columns.min() - 0.3, frame.columns.max() + 0.3)
    axes[0].set_ylabel(r"$\sigma_b^2$  ($\mathrm{Var}[b]$)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=8)
    label = r"ln of the per-layer factor of $E\,\|\delta^l\|^2$  (< 0: vanishing)"
    fig.colorbar(mesh, ax=axes, label=label)
    setup = probe_setup(used)
    fig.suptitle(
        wrap(
            (title or f"Order-to-chaos phase diagram of {activation} networks") + f"\n{setup}", 11
        ),
        fontsize=11,
    )
    data = pd.concat([grid.assign(kind="grid"), line.assign(kind="critical")], ignore_index=True)
    return data, fig


def _frame_critical(ax, grid: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Outline each cell on the critical line (``phase`` 'critical')."""
    crit = grid[grid["phase"] == "critical"]
    dx = float(np.diff(frame.columns.to_numpy(dtype=float)).min()) if frame.shape[1] > 1 else 1.0
    dy = float(np.diff(frame.index.to_numpy(dtype=float)).min()) if frame.shape[0] > 1 else 1.0
    for i, (_, c) in enumerate(crit.iterrows()):
        corner = (c["sigma_w2"] - dx / 2, c["sigma_b2"] - dy / 2)
        label = "critical cell: χ₁ = 1" if i == 0 else None
        ax.add_patch(Rectangle(corner, dx, dy, fill=False, ec="k", lw=2.0, label=label))


def _label_phases(ax, line: pd.DataFrame) -> None:
    """Name the phase on each side of the critical line, halfway up it.

    For tanh (and every activation here) χ₁ grows with σ_w², so the ordered
    phase lies at smaller σ_w² (left of the line) and the chaotic one right.
    """
    mid = line.iloc[len(line) // 2]
    box = {"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 1.5}
    for dx, ha, text in (
        (-0.12, "right", "ordered:\ngradients vanish ←"),
        (0.12, "left", "→ chaotic:\ngradients explode"),
    ):
        ax.text(
            mid["sigma_w2"] + dx,
            mid["sigma_b2"],
            text,
            ha=ha,
            va="center",
            fontsize=8.5,
            fontweight="bold",
            bbox=box,
        )
