"""Figure 6: measured E‖δ^l‖² at initialisation against the mean-field prediction.

:func:`mean_field_cases` summarises the probe runs per case (seed statistics
of the fitted per-layer factor against χ₁), :func:`delta_profiles` gives the
per-layer medians of each case (both pure); :func:`plot_measured_vs_predicted`
draws one panel per case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gradlab import names
from gradlab.report.frames import (
    ACT,
    KIND,
    PDEPTH,
    PINIT,
    SIGMA_B2,
    WIDTH,
    NoDataError,
    activation_order,
    format_value,
    require,
)
from gradlab.report.style import (
    LAYER_AXIS,
    OKABE_ITO,
    corner_note,
    log_y,
    new_figure,
    positive,
    wrap,
)

INIT = PINIT
#: What makes two probe runs one case (seeds are repeats).
CASE_KEYS = (KIND, ACT, INIT, names.SIGMA_W2, SIGMA_B2, PDEPTH, WIDTH)
#: Acceptance: the measured per-layer factor within 10 % of χ₁.
TOLERANCE = 0.10


def _case_label(row) -> str:
    """'tanh, lecun_normal, σ_w² = 1.76, σ_b² = 0.05' or 'Nielsen's chain, w = 100'."""
    if row[KIND] == "nielsen":
        return f"Nielsen's chain: sigmoid, w = {format_value(row.get('probe.nielsen_w', 100))}"
    return (
        f"{row[ACT]}, {row[INIT]}, σ_w² = {row[names.SIGMA_W2]:.3g}, "
        f"σ_b² = {format_value(row[SIGMA_B2])}"
    )


def mean_field_cases(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per case (:data:`CASE_KEYS`), in the order first seen, with seed statistics.

    Columns: the case keys, ``case`` (label), ``n_runs``, ``run_ids``, ``chi1``,
    ``chi1_measured`` (mean over seeds of exp(slope)), ``chi1_measured_min``,
    ``chi1_measured_max``, ``rel_error`` (of the mean), ``within`` (|rel_error| ≤
    10 %), ``nielsen_ratio``, ``nielsen_ratio_predicted``.
    """
    probes = require(probes, (*CASE_KEYS, "run_id"), "probe runs", empty_ok=False)
    rank = {a: i for i, a in enumerate(activation_order(probes[ACT]))}
    probes = probes.assign(_k=probes[KIND] == "nielsen", _a=probes[ACT].map(rank))
    probes = probes.sort_values(["_k", "_a", INIT, names.SIGMA_W2, SIGMA_B2, PDEPTH, "run_id"])
    for key in (
        names.CHI1,
        names.CHI1_MEASURED,
        names.NIELSEN_RATIO,
        names.NIELSEN_RATIO_PREDICTED,
    ):
        if key not in probes:
            probes[key] = np.nan
    keys = list(CASE_KEYS)
    grouped = probes.groupby(keys, sort=False, dropna=False)
    cases = grouped.agg(
        n_runs=("run_id", "count"),
        run_ids=("run_id", lambda s: ",".join(sorted(s))),
        chi1=(names.CHI1, "first"),
        chi1_measured=(names.CHI1_MEASURED, "mean"),
        chi1_measured_min=(names.CHI1_MEASURED, "min"),
        chi1_measured_max=(names.CHI1_MEASURED, "max"),
        nielsen_ratio=(names.NIELSEN_RATIO, "mean"),
        nielsen_ratio_min=(names.NIELSEN_RATIO, "min"),
        nielsen_ratio_max=(names.NIELSEN_RATIO, "max"),
        nielsen_ratio_predicted=(names.NIELSEN_RATIO_PREDICTED, "first"),
    ).reset_index()
    extra = probes.groupby(keys, sort=False, dropna=False)
    if "probe.nielsen_w" in probes:
        cases["probe.nielsen_w"] = extra["probe.nielsen_w"].first().to_numpy()
    cases["rel_error"] = cases["chi1_measured"] / cases["chi1"] - 1.0
    cases["within"] = cases["rel_error"].abs() <= TOLERANCE
    cases["case"] = [_case_label(row) for _, row in cases.iterrows()]
    return cases


def delta_profiles(cases: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
    """One row per case × layer: medians over the case's seeds of the logged profiles.

    Columns: those of ``cases``, ``layer``, ``value`` (median of
    ``probe/delta_sq``), ``lo``/``hi`` (smallest/largest single network),
    ``chi1_line`` and ``profile_line`` (medians of the two predictions), ``in_fit``.
    """
    profiles = require(profiles, ("run_id", *names.PROBE_COLUMNS), "probe profiles", empty_ok=False)
    rows = []
    for _, case in cases.iterrows():
        prof = profiles[profiles["run_id"].isin(case["run_ids"].split(","))]
        if len(prof) == 0:
            continue
        per_layer = prof.groupby("layer").agg(
            value=(names.PROBE_DELTA_SQ, "median"),
            lo=("delta_sq_min", "min"),
            hi=("delta_sq_max", "max"),
            chi1_line=(names.PROBE_DELTA_SQ_CHI1, "median"),
            profile_line=(names.PROBE_DELTA_SQ_PROFILE, "median"),
            in_fit=("in_fit", "max"),
        )
        rows.append(per_layer.reset_index().assign(**case.to_dict()))
    if not rows:
        raise NoDataError(f"no probe run has its {names.ARTIFACT_PROBE}")
    return pd.concat(rows, ignore_index=True)


def plot_measured_vs_predicted(
    probes: pd.DataFrame, profiles: pd.DataFrame, *, title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """E‖δ^l‖² against layer l, measured and predicted, one panel per case.

    Each panel: the median over seeds of the measured E‖δ^l‖² (mean over the
    members and samples of a run; band: smallest to largest single network),
    the fixed-point prediction n E[φ′(√q* z)²] χ₁^{L−l} (solid black) and the
    transient-aware n E[φ′(√q^L z)²] Π_{k≥l} χ(q^k) (dashed), on a log axis; the
    layers of the slope fit are shaded.  Nielsen's chain is drawn the same way
    with its exact (w/4)^{2(L−l)} line.

    Returns
    -------
    data : DataFrame
        One row per case × layer: the case columns of :func:`mean_field_cases`,
        ``layer``, ``value`` (median over seeds of ``probe/delta_sq``), ``lo``,
        ``hi``, ``chi1_line``, ``profile_line`` (medians over seeds of the two
        predictions), ``in_fit``.
    fig : Figure
    """
    data = delta_profiles(mean_field_cases(probes), profiles)
    order = list(dict.fromkeys(data["case"]))
    n_cols = min(3, len(order))
    n_rows = -(-len(order) // n_cols)
    fig = new_figure(4.4 * n_cols + 0.4, 3.6 * n_rows + 1.6)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(order) :]:
        ax.set_visible(False)
    for i, (ax, label) in enumerate(zip(axes, order, strict=False)):
        _draw_case(ax, data[data["case"] == label].sort_values("layer"), OKABE_ITO[i % 7])
    fig.legend(handles=_legend(), loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(
        title
        or r"Measured against predicted $E\,\|\delta^l\|^2$ at initialisation "
        "(mean-field theory)",
        fontsize=11,
    )
    keep = ["case", *CASE_KEYS, "layer", "value", "lo", "hi", "chi1_line", "profile_line"]
    keep += ["in_fit", "n_runs", "run_ids", "chi1", "chi1_measured", "chi1_measured_min"]
    keep += ["chi1_measured_max", "rel_error", "within", "nielsen_ratio"]
    keep += ["nielsen_ratio_min", "nielsen_ratio_max", "nielsen_ratio_predicted"]
    return data[keep], fig


def _draw_case(ax, d: pd.DataFrame, colour: str) -> None:
    """One case: measured medians with their band, both predictions, the fit layers shaded."""
    x = d["layer"].to_numpy(dtype=float)
    fit = d.loc[d["in_fit"] > 0, "layer"]
    if len(fit):
        ax.axvspan(fit.min() - 0.5, fit.max() + 0.5, color="0.92", lw=0)
    ax.fill_between(x, positive(d["lo"]), positive(d["hi"]), color=colour, alpha=0.2, lw=0)
    ax.plot(x, positive(d["value"]), "o-", ms=3.5, color=colour)
    ax.plot(x, positive(d["chi1_line"]), color="k", lw=1.1)
    ax.plot(x, positive(d["profile_line"]), color="k", ls="--", lw=1.1)
    log_y(ax)
    ax.set_title(wrap(d["case"].iloc[0], 4.0), fontsize=9)
    ax.set_xlabel(LAYER_AXIS)
    ax.set_ylabel(r"$E\,\|\delta^l\|^2$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)
    # the note goes in the upper corner the curve leaves free
    rising = d["value"].iloc[-1] >= d["value"].iloc[0]
    corner_note(ax, _agreement_text(d.iloc[0]), left=bool(rising))


def _legend() -> list[Line2D]:
    return [
        Line2D([], [], color="0.3", marker="o", ms=3.5, label="measured (median over seeds)"),
        Line2D([], [], color="0.3", lw=6, alpha=0.2, label="band: single networks, min–max"),
        Line2D(
            [], [], color="k", lw=1.1, label=r"predicted at the fixed point: $\propto\chi_1^{L-l}$"
        ),
        Line2D(
            [],
            [],
            color="k",
            ls="--",
            lw=1.1,
            label=r"predicted with the forward transient: $\propto\prod_{k\geq l}\chi(q^k)$",
        ),
        Line2D([], [], color="0.92", lw=6, label="layers of the slope fit"),
    ]


def _agreement_text(case) -> str:
    if case[KIND] == "nielsen":
        return (
            f"‖δ^l‖/‖δ^(l+1)‖ = {case['nielsen_ratio']:.15g}\n"
            f"predicted w·σ′(0) = {case['nielsen_ratio_predicted']:.15g}"
        )
    return (
        f"χ₁ = {case['chi1']:.4g}\nmeasured {case['chi1_measured']:.4g} "
        f"({100 * case['rel_error']:+.1f} %, {int(case['n_runs'])} run(s))"
    )
