"""Figure 8: the singular values of the input–output Jacobian, Gaussian against orthogonal.

:func:`jacobian_summary` and :func:`spectrum_histograms` turn the probe runs and
their singular values into per-(depth, init) statistics and log10 histograms
(pure); :func:`plot_jacobian_spectrum` draws one panel per depth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names
from gradlab.report.frames import (
    ACT,
    PDEPTH,
    PINIT,
    SIGMA_B2,
    NoDataError,
    format_value,
    probe_setup,
    require,
)
from gradlab.report.style import OKABE_ITO, new_figure, wrap

INIT = PINIT
#: log10 of the singular values: bins from 1e-6 to 10^1.5 (smaller values go in the first bin).
LOG10_S_RANGE = (-6.0, 1.5)


def jacobian_summary(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (depth, init): mean s², χ₁^L, spread and condition (mean over seeds)."""
    need = (INIT, PDEPTH, names.JACOBIAN_MEAN_S2, names.JACOBIAN_MEAN_S2_PREDICTED)
    need = (*need, names.JACOBIAN_S2_SPREAD, names.JACOBIAN_CONDITION)
    probes = require(probes, need, "Jacobian probe runs", empty_ok=False)
    return (
        probes.groupby([PDEPTH, INIT], sort=True)
        .agg(
            mean_s2=(names.JACOBIAN_MEAN_S2, "mean"),
            predicted=(names.JACOBIAN_MEAN_S2_PREDICTED, "first"),
            spread=(names.JACOBIAN_S2_SPREAD, "mean"),
            condition=(names.JACOBIAN_CONDITION, "median"),
            chi1=(names.CHI1, "first"),
            n_runs=("run_id", "count"),
            run_ids=("run_id", lambda s: ",".join(sorted(s))),
        )
        .reset_index()
    )


def spectrum_histograms(probes: pd.DataFrame, singular: pd.DataFrame, bins: int) -> pd.DataFrame:
    """One row per depth × init × bin of log10 s: ``bin_lo``, ``bin_hi``, ``count``,
    ``density`` (per unit log10 s; values below 1e-6, zero included, count in the
    first bin), and the columns of :func:`jacobian_summary` and :func:`network_spread`."""
    summary = jacobian_summary(probes)
    singular = require(singular, ("run_id", "s"), "singular values", empty_ok=False)
    meta = probes.set_index("run_id")[[PDEPTH, INIT]]
    s = singular.join(meta, on="run_id", how="inner")
    if len(s) == 0:
        raise NoDataError(f"no Jacobian probe run has its {names.ARTIFACT_SINGULAR_VALUES}")
    edges = np.linspace(*LOG10_S_RANGE, bins + 1)
    width = edges[1] - edges[0]
    rows = []
    for (depth, init), grp in s.groupby([PDEPTH, INIT], sort=True):
        with np.errstate(divide="ignore"):
            v = np.log10(grp["s"].to_numpy(dtype=float))
        v = np.clip(np.nan_to_num(v, neginf=edges[0]), edges[0], edges[-1])
        count, _ = np.histogram(v, edges)
        rows.append(
            pd.DataFrame(
                {
                    PDEPTH: depth,
                    INIT: init,
                    "bin_lo": edges[:-1],
                    "bin_hi": edges[1:],
                    "count": count,
                    "density": count / (count.sum() * width),
                }
            )
        )
    data = pd.concat(rows, ignore_index=True).merge(summary, on=[PDEPTH, INIT], how="left")
    return data.merge(network_spread(s), on=[PDEPTH, INIT], how="left")


def network_spread(singular: pd.DataFrame) -> pd.DataFrame:
    """E[s²] of every single network, summarised per (depth, init).

    ``singular`` holds ``names.SINGULAR_VALUE_COLUMNS`` plus ``run_id``, depth and
    init; a network is one (run, member), its E[s²] the mean of s² over its
    samples and singular values.  Columns: ``n_networks``, ``net_mean_s2_min``,
    ``net_mean_s2_median``, ``net_mean_s2_max``.
    """
    s2 = singular.assign(s2=singular["s"].to_numpy(dtype=float) ** 2)
    per_net = s2.groupby([PDEPTH, INIT, "run_id", "member"])["s2"].mean().reset_index()
    return (
        per_net.groupby([PDEPTH, INIT])["s2"]
        .agg(
            n_networks="count",
            net_mean_s2_min="min",
            net_mean_s2_median="median",
            net_mean_s2_max="max",
        )
        .reset_index()
    )


def plot_jacobian_spectrum(
    probes: pd.DataFrame, singular: pd.DataFrame, *, bins: int = 60, title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """Histograms of the singular values of J = ∂a^L/∂a^0, one panel per depth.

    Gaussian and orthogonal weights of the same σ_w², σ_b² (so the same χ₁)
    overlaid on a log10 s axis (density per unit log10 s; values below 1e-6
    are counted in the first bin).  Each panel notes E[s²] against χ₁^L and the
    spread Var[s²]/E[s²]² (0 for an isometry) (Pennington et al. 2017).

    Returns
    -------
    data : DataFrame
        One row per depth × init × bin: ``probe.depth``, ``probe.init``,
        ``bin_lo``, ``bin_hi`` (log10 s), ``count``, ``density``, and the
        columns of :func:`jacobian_summary`.
    fig : Figure
    """
    data = spectrum_histograms(probes, singular, bins)
    depths = sorted(data[PDEPTH].unique())
    inits = sorted(data[INIT].unique(), key=lambda i: (i == "orthogonal", i))
    fig = new_figure(max(9.0, 3.3 * len(depths) + 0.6), 4.6)
    axes = fig.subplots(1, len(depths), squeeze=False, sharey=True)[0]
    for ax, depth in zip(axes, depths, strict=True):
        _draw_depth(ax, data[data[PDEPTH] == depth], inits)
    axes[0].set_ylabel("density per unit log10 s")
    axes[0].set_ylim(0.0, 1.08 * float(data["density"].max()))  # shared: the highest bar fits
    axes[0].legend(loc="center left", fontsize=8)
    setup = ""
    if len(probes):
        p = probes.iloc[0]
        setup = (
            f"{p[ACT]}, σ_w² = {p[names.SIGMA_W2]:.4g}, σ_b² = {format_value(p[SIGMA_B2])}, "
            f"χ₁ = {p[names.CHI1]:.4g}; " + probe_setup(probes)
        )
    fig.suptitle(
        wrap(
            (title or "Input–output Jacobian spectrum: Gaussian against orthogonal weights")
            + f"\n{setup}",
            fig.get_figwidth(),
        ),
        fontsize=11,
    )
    return data, fig


def _draw_depth(ax, data: pd.DataFrame, inits: list) -> None:
    """One depth: a filled histogram per init, with E[s²] and the spread noted."""
    notes = []
    for j, init in enumerate(inits):
        d = data[data[INIT] == init]
        if len(d) == 0:
            continue
        colour = OKABE_ITO[j % len(OKABE_ITO)]
        label = "orthogonal" if init == "orthogonal" else f"Gaussian ({init})"
        edges = np.append(d["bin_lo"], d["bin_hi"].iloc[-1])
        ax.stairs(d["density"], edges, color=colour, fill=True, alpha=0.35, label=label)
        ax.stairs(d["density"], edges, color=colour)
        r = d.iloc[0]
        notes.append(f"{label.split(' ')[0]}: E[s²] {r['mean_s2']:.3g}, spread {r['spread']:.3g}")
    ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
    depth, predicted = data[PDEPTH].iloc[0], data["predicted"].iloc[0]
    ax.set_title(f"L = {depth}   ($\\chi_1^L$ = {predicted:.3g})", fontsize=10)
    ticks = np.arange(np.ceil(LOG10_S_RANGE[0]), LOG10_S_RANGE[1] + 1e-9, 2.0)
    ax.set_xticks(ticks, [f"≤{t:g}" if t == LOG10_S_RANGE[0] else f"{t:g}" for t in ticks])
    ax.set_xlabel(r"$\log_{10}$ singular value $s$ of $\partial a^L/\partial a^0$")
    ax.text(
        0.03,
        0.97,
        "\n".join(notes),
        transform=ax.transAxes,
        fontsize=7.5,
        va="top",
        bbox={"facecolor": "white", "alpha": 0.85, "lw": 0},
    )
    ax.grid(True, alpha=0.3)
