"""The report's theory figures: what gradients do at initialisation against what they should do.

Like :mod:`gradlab.report.plotting`, every ``plot_*`` function takes pandas frames and
returns ``(data, fig)``: the tidy frame it draws and a pyplot-free figure.
Nothing here reads MLflow; :mod:`gradlab.report.theory_sections` loads the frames.

Frames
------
probes
    One row per probe run (``experiments/probe.py``): ``run_id``, ``run_name``,
    the params ``probe.kind``, ``probe.activation``, ``probe.init``,
    ``probe.depth``, ``probe.width``, ``probe.sigma_b2``, ``seed`` (typed) and
    the summary metrics of ``names.PROBE_SUMMARY_METRICS`` (``sigma_w2`` is the
    σ_w² used, a number also when the config said ``critical``).
profiles
    Rows of ``names.PROBE_COLUMNS`` (one per run × layer) plus ``run_id``.
singular
    Rows of ``names.SINGULAR_VALUE_COLUMNS`` plus ``run_id``.
runs, history
    Training runs and their history tables, as in :mod:`gradlab.report.plotting`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gradlab import names, theory
from gradlab.report.plotting import (
    DEPTH,
    OKABE_ITO,
    SEED,
    NoDataError,
    activation_order,
    format_value,
    log_y,
    new_figure,
    positive,
    wrap,
)

KIND, ACT, INIT = "probe.kind", "probe.activation", "probe.init"
PDEPTH, WIDTH, SIGMA_B2 = "probe.depth", "probe.width", "probe.sigma_b2"
GAIN = "model.gain"
#: Probe params and their types; every other param stays a string.
PROBE_PARAM_TYPES: dict[str, type] = {
    PDEPTH: int,
    WIDTH: int,
    SIGMA_B2: float,
    "probe.members": int,
    "probe.batch": int,
    "probe.nielsen_w": float,
    SEED: int,
}
#: What makes two probe runs one case (seeds are repeats).
CASE_KEYS = (KIND, ACT, INIT, names.SIGMA_W2, SIGMA_B2, PDEPTH, WIDTH)
#: Acceptance of issue 5: the measured factor within 10 % of χ₁.
TOLERANCE = 0.10

#: Nielsen (2015), "Neural Networks and Deep Learning", ch. 5, section "The vanishing
#: gradient problem": ‖δ^l‖ = ‖∂C/∂b^l‖ of each hidden layer at initialisation, averaged over
#: the first 1000 MNIST training images ([784, 30, …, 30, 10] sigmoid networks, N(0, 1/n_in)
#: weights, N(0, 1) biases, cross-entropy).  The book prints the two-layer values as
#: "0.07…" and "0.31…".
NIELSEN_MNIST = {2: (0.07, 0.31), 3: (0.012, 0.060, 0.283), 4: (0.003, 0.017, 0.070, 0.285)}
NIELSEN_SOURCE = (
    "http://neuralnetworksanddeeplearning.com/chap5.html#the_vanishing_gradient_problem"
)


def coerce_probe_params(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert the string params of :data:`PROBE_PARAM_TYPES` to numbers (copy)."""
    out = frame.copy()
    for key, typ in PROBE_PARAM_TYPES.items():
        if key in out:
            num = pd.to_numeric(out[key], errors="coerce")
            out[key] = num.where(num == num.round()).astype("Int64") if typ is int else num
    return out


def _require(frame: pd.DataFrame | None, columns, what: str) -> pd.DataFrame:
    if frame is None or len(frame) == 0:
        raise NoDataError(f"there are no {what}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NoDataError(f"the {what} frame needs column(s) {', '.join(missing)}")
    return frame


def _case_label(row) -> str:
    """'tanh, lecun_normal, σ_w² = 1.76, σ_b² = 0.05' or 'Nielsen's chain, w = 100'."""
    if row[KIND] == "nielsen":
        return f"Nielsen's chain: sigmoid, w = {format_value(row.get('probe.nielsen_w', 100))}"
    return (
        f"{row[ACT]}, {row[INIT]}, σ_w² = {row[names.SIGMA_W2]:.3g}, "
        f"σ_b² = {format_value(row[SIGMA_B2])}"
    )


# ---- measured against predicted E‖δ^l‖² -------------------------------------------


def mean_field_cases(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per case (:data:`CASE_KEYS`), in the order first seen, with seed statistics.

    Columns: the case keys, ``case`` (label), ``n_runs``, ``run_ids``, ``chi1``,
    ``chi1_measured`` (mean over seeds of exp(slope)), ``chi1_measured_min``,
    ``chi1_measured_max``, ``rel_error`` (of the mean), ``within`` (|rel_error| ≤
    10 %), ``nielsen_ratio``, ``nielsen_ratio_predicted``.
    """
    probes = _require(probes, (*CASE_KEYS, "run_id"), "probe runs")
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
    cases = mean_field_cases(probes)
    profiles = _require(profiles, ("run_id", *names.PROBE_COLUMNS), "probe profiles")
    rows = []
    for _, case in cases.iterrows():
        ids = case["run_ids"].split(",")
        prof = profiles[profiles["run_id"].isin(ids)]
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
    data = pd.concat(rows, ignore_index=True)
    order = list(dict.fromkeys(data["case"]))
    n = len(order)
    n_cols = min(3, n)
    n_rows = -(-n // n_cols)
    fig = new_figure(4.4 * n_cols + 0.4, 3.6 * n_rows + 1.6)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for i, (ax, label) in enumerate(zip(axes, order, strict=False)):
        d = data[data["case"] == label].sort_values("layer")
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        x = d["layer"].to_numpy(dtype=float)
        fit = d.loc[d["in_fit"] > 0, "layer"]
        if len(fit):
            ax.axvspan(fit.min() - 0.5, fit.max() + 0.5, color="0.92", lw=0)
        ax.fill_between(x, positive(d["lo"]), positive(d["hi"]), color=colour, alpha=0.2, lw=0)
        ax.plot(x, positive(d["value"]), "o-", ms=3.5, color=colour)
        ax.plot(x, positive(d["chi1_line"]), color="k", lw=1.1)
        ax.plot(x, positive(d["profile_line"]), color="k", ls="--", lw=1.1)
        log_y(ax)
        ax.set_title(wrap(label, 4.0), fontsize=9)
        ax.set_xlabel(r"layer $l$  (1 = next to the input)")
        ax.set_ylabel(r"$E\,\|\delta^l\|^2$")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
        # the note goes in the upper corner the curve leaves free
        rising = d["value"].iloc[-1] >= d["value"].iloc[0]
        ax.text(
            0.03 if rising else 0.97,
            0.97,
            _agreement_text(d.iloc[0]),
            transform=ax.transAxes,
            fontsize=8,
            va="top",
            ha="left" if rising else "right",
            bbox={"facecolor": "white", "alpha": 0.85, "lw": 0},
        )
    handles = [
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
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(
        title or "Measured against predicted E‖δ^l‖² at initialisation (mean-field theory)",
        fontsize=11,
    )
    keep = ["case", *CASE_KEYS, "layer", "value", "lo", "hi", "chi1_line", "profile_line"]
    keep += ["in_fit", "n_runs", "run_ids", "chi1", "chi1_measured", "chi1_measured_min"]
    keep += ["chi1_measured_max", "rel_error", "within", "nielsen_ratio"]
    keep += ["nielsen_ratio_min", "nielsen_ratio_max", "nielsen_ratio_predicted"]
    return data[keep], fig


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


# ---- the phase diagram -------------------------------------------------------------


def critical_curve(activation: str, sigma_b2: np.ndarray) -> np.ndarray:
    """σ_w² on the χ₁ = 1 line for each σ_b² (:func:`gradlab.theory.critical_sigma_w2`)."""
    return np.array([theory.critical_sigma_w2(activation, float(b)) for b in sigma_b2])


def plot_phase_diagram(
    probes: pd.DataFrame, *, n_curve: int = 25, title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """Measured per-layer growth rate of E‖δ^l‖² over (σ_w², σ_b²), with the χ₁ = 1 line.

    Left: the measured slope s (mean over seeds; ln of the per-layer factor,
    < 0 vanishing, > 0 exploding) as a heatmap on a diverging scale centred at
    0; right: the predicted ln χ₁ on the same scale.  Both carry the critical
    line χ₁ = 1 computed from theory (Schoenholz et al. 2017, fig. 1), which
    separates the ordered phase (gradients vanish) from the chaotic one
    (gradients explode).

    Returns
    -------
    data : DataFrame
        Rows ``kind='grid'``: ``sigma_w2``, ``sigma_b2``, ``log_slope`` (mean
        over seeds), ``ln_chi1``, ``n_runs``, ``run_ids``, ``phase`` and
        ``measured_phase`` ('ordered' | 'chaotic'); rows ``kind='critical'``:
        the line, ``sigma_b2`` and ``sigma_w2``.
    fig : Figure
    """
    probes = _require(
        probes, (ACT, names.SIGMA_W2, SIGMA_B2, names.LOG_SLOPE, names.LN_CHI1), "probe runs"
    )
    probes = probes[probes[KIND] == "delta"] if KIND in probes else probes
    acts = probes[ACT].value_counts()
    if len(acts) == 0:
        raise NoDataError("there are no delta probe runs")
    activation = str(acts.index[0])
    probes = probes[probes[ACT] == activation]
    grid = (
        probes.groupby([names.SIGMA_W2, SIGMA_B2])
        .agg(
            log_slope=(names.LOG_SLOPE, "mean"),
            ln_chi1=(names.LN_CHI1, "first"),
            n_runs=("run_id", "count"),
            run_ids=("run_id", lambda s: ",".join(sorted(s))),
        )
        .reset_index()
        .rename(columns={names.SIGMA_W2: "sigma_w2", SIGMA_B2: "sigma_b2"})
    )
    grid["phase"] = np.where(grid["ln_chi1"] < 0, "ordered", "chaotic")
    grid["measured_phase"] = np.where(grid["log_slope"] < 0, "ordered", "chaotic")
    b = np.linspace(grid["sigma_b2"].min(), grid["sigma_b2"].max(), n_curve)
    line = pd.DataFrame({"sigma_b2": b, "sigma_w2": critical_curve(activation, b)})
    measured = grid.pivot(index="sigma_b2", columns="sigma_w2", values="log_slope")
    predicted = grid.pivot(index="sigma_b2", columns="sigma_w2", values="ln_chi1")
    both = np.concatenate([measured.to_numpy(dtype=float), predicted.to_numpy(dtype=float)])
    # each side of 0 spans its own range: the sign (the phase) reads at a glance
    lo, hi = min(float(np.nanmin(both)), -1e-3), max(float(np.nanmax(both)), 1e-3)
    norm = TwoSlopeNorm(0.0, lo, hi)
    fig = new_figure(11.5, 5.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, frame, what in (
        (axes[0], measured, "measured slope of ln E‖δ^l‖² per layer"),
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
        ax.set_xlabel(r"$\sigma_w^2$  ($n\cdot\mathrm{Var}[W]$)")
        ax.set_title(what, fontsize=10)
        ax.set_xlim(frame.columns.min() - 0.3, frame.columns.max() + 0.3)
    axes[0].set_ylabel(r"$\sigma_b^2$  ($\mathrm{Var}[b]$)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=8)
    fig.colorbar(mesh, ax=axes, label="ln of the per-layer factor of E‖δ^l‖²  (< 0: vanishing)")
    setup = _probe_setup(probes)
    fig.suptitle(
        wrap(
            (title or f"Order-to-chaos phase diagram of {activation} networks") + f"\n{setup}", 11
        ),
        fontsize=11,
    )
    data = pd.concat([grid.assign(kind="grid"), line.assign(kind="critical")], ignore_index=True)
    return data, fig


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


def _probe_setup(probes: pd.DataFrame) -> str:
    parts = []
    for key, label in ((PDEPTH, "L"), (WIDTH, "width"), ("probe.members", "networks per run")):
        if key in probes and probes[key].nunique() == 1:
            parts.append(f"{label} {format_value(probes[key].iloc[0])}")
    if SEED in probes:
        parts.append(f"{probes[SEED].nunique()} seed(s)")
    return ", ".join(parts)


# ---- Jacobian spectra ----------------------------------------------------------------

#: log10 of the singular values: bins from 1e-6 to 10^1.5 (smaller values go in the first bin).
LOG10_S_RANGE = (-6.0, 1.5)


def jacobian_summary(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (depth, init): mean s², χ₁^L, spread and condition (mean over seeds)."""
    need = (INIT, PDEPTH, names.JACOBIAN_MEAN_S2, names.JACOBIAN_MEAN_S2_PREDICTED)
    probes = _require(
        probes, (*need, names.JACOBIAN_S2_SPREAD, names.JACOBIAN_CONDITION), "Jacobian probe runs"
    )
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
    summary = jacobian_summary(probes)
    singular = _require(singular, ("run_id", "s"), "singular values")
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
    depths = sorted(data[PDEPTH].unique())
    inits = sorted(data[INIT].unique(), key=lambda i: (i == "orthogonal", i))
    fig = new_figure(max(9.0, 3.3 * len(depths) + 0.6), 4.6)
    axes = fig.subplots(1, len(depths), squeeze=False, sharey=True)[0]
    for ax, depth in zip(axes, depths, strict=True):
        notes = []
        for j, init in enumerate(inits):
            d = data[(data[PDEPTH] == depth) & (data[INIT] == init)]
            if len(d) == 0:
                continue
            colour = OKABE_ITO[j % len(OKABE_ITO)]
            label = "orthogonal" if init == "orthogonal" else f"Gaussian ({init})"
            ax.stairs(
                d["density"],
                np.append(d["bin_lo"], d["bin_hi"].iloc[-1]),
                color=colour,
                fill=True,
                alpha=0.35,
                label=label,
            )
            ax.stairs(d["density"], np.append(d["bin_lo"], d["bin_hi"].iloc[-1]), color=colour)
            r = d.iloc[0]
            notes.append(
                f"{label.split(' ')[0]}: E[s²] {r['mean_s2']:.3g}, spread {r['spread']:.3g}"
            )
        ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
        predicted = data.loc[data[PDEPTH] == depth, "predicted"].iloc[0]
        ax.set_title(f"L = {depth}   ($\\chi_1^L$ = {predicted:.3g})", fontsize=10)
        ticks = np.arange(np.ceil(edges[0]), edges[-1] + 1e-9, 2.0)
        ax.set_xticks(ticks, [f"≤{t:g}" if t == edges[0] else f"{t:g}" for t in ticks])
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
    axes[0].set_ylabel("density per unit log10 s")
    axes[0].set_ylim(0.0, 1.08 * float(data["density"].max()))  # shared: the highest bar fits
    axes[0].legend(loc="center left", fontsize=8)
    setup = ""
    if len(probes):
        p = probes.iloc[0]
        setup = (
            f"{p[ACT]}, σ_w² = {p[names.SIGMA_W2]:.4g}, σ_b² = {format_value(p[SIGMA_B2])}, "
            f"χ₁ = {p[names.CHI1]:.4g}; " + _probe_setup(probes)
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


# ---- Nielsen, chapter 5 ---------------------------------------------------------------


def nielsen_table(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """‖∇b^l‖ of every hidden layer at initialisation, ours beside Nielsen's MNIST numbers.

    One row per hidden layer l of each depth (hidden layers = ``model.depth``):
    ``model.depth``, ``layer``, ``gradlab`` (median over seeds of the history's
    ``grad_b_norm`` at step 0), ``n_runs``, ``nielsen_mnist`` (NaN where he
    gives no number, e.g. one hidden layer).
    """
    runs = _require(runs, ("run_id", DEPTH), "training runs")
    history = _require(history, ("run_id", "phase", "layer", "grad_b_norm"), "history")
    init = history[history["phase"] == names.PHASE_INIT].merge(runs[["run_id", DEPTH]], on="run_id")
    init = init[init["layer"] <= init[DEPTH]]  # hidden layers only: l = 1..depth
    if len(init) == 0:
        raise NoDataError("no run has its gradients at initialisation")
    table = (
        init.groupby([DEPTH, "layer"])
        .agg(gradlab=("grad_b_norm", "median"), n_runs=("run_id", "nunique"))
        .reset_index()
    )
    table["nielsen_mnist"] = [
        NIELSEN_MNIST.get(int(d), ())[int(l) - 1]
        if int(l) <= len(NIELSEN_MNIST.get(int(d), ()))
        else np.nan
        for d, l in zip(table[DEPTH], table["layer"], strict=True)
    ]
    return table


def plot_nielsen_ch5(runs: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """Nielsen's speed of learning (ch. 5): ‖∇b^l‖ of each hidden layer, at init and in training.

    First panel (his table): ‖∇b^l‖ at initialisation against hidden layer l,
    one line per number of hidden layers, ours (filled, solid) beside his MNIST
    numbers (hollow, dashed).  Then one panel per network with 2, 3 and 4 hidden
    layers (his figures): ‖∇b^l‖ of every hidden layer against the SGD step,
    median over seeds.

    Returns
    -------
    data : DataFrame
        ``source`` ('gradlab' | 'nielsen_mnist'), ``model.depth``, ``layer``,
        ``step``, ``value``; Nielsen's rows are at step 0.
    fig : Figure
    """
    table = nielsen_table(runs, history)
    h = history.merge(runs[["run_id", DEPTH]], on="run_id")
    h = h[h["layer"] <= h[DEPTH]]
    # 'final' repeats the last step: one value per run, step and layer
    h = h.drop_duplicates(["run_id", "step", "layer"], keep="last")
    ours = h.groupby([DEPTH, "layer", "step"])["grad_b_norm"].median().rename("value")
    ours = ours.reset_index().assign(source="gradlab")
    his = table.dropna(subset=["nielsen_mnist"])[[DEPTH, "layer", "nielsen_mnist"]]
    his = his.rename(columns={"nielsen_mnist": "value"}).assign(step=0, source="nielsen_mnist")
    data = pd.concat([ours, his], ignore_index=True)[["source", DEPTH, "layer", "step", "value"]]
    depths = sorted(int(d) for d in table[DEPTH].unique())
    trained = [d for d in depths if d >= 2]
    fig = new_figure(3.6 * (1 + len(trained)) + 0.6, 4.6)
    axes = fig.subplots(1, 1 + len(trained), squeeze=False)[0]
    ax = axes[0]
    for i, depth in enumerate(depths):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        t = table[table[DEPTH] == depth]
        ax.plot(t["layer"], t["gradlab"], "o-", color=colour, label=f"{depth} hidden: gradlab")
        if t["nielsen_mnist"].notna().any():
            ax.plot(
                t["layer"],
                t["nielsen_mnist"],
                "o--",
                mfc="none",
                color=colour,
                label=f"{depth} hidden: Nielsen (MNIST)",
            )
    log_y(ax)
    ax.set_title("at initialisation (his table)", fontsize=10)
    ax.set_xlabel(r"hidden layer $l$")
    ax.set_ylabel(r"speed of learning $\|\nabla b^l\|$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    for ax, depth in zip(axes[1:], trained, strict=True):
        d = ours[ours[DEPTH] == depth]
        for layer, grp in d.groupby("layer"):
            ax.plot(
                grp["step"],
                positive(grp["value"]),
                color=OKABE_ITO[(int(layer) - 1) % 7],
                label=f"hidden layer {layer}",
            )
        log_y(ax)
        ax.set_title(f"{depth} hidden layers, during training (his figure)", fontsize=10)
        ax.set_xlabel("SGD step (mini-batches of 10)")
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    setup = _train_setup(runs)
    fig.suptitle(
        wrap(
            "Speed of learning of each hidden layer (Nielsen, ch. 5), ours on 8×8 digits, "
            f"his on MNIST\n{setup}",
            fig.get_figwidth(),
        ),
        fontsize=11,
    )
    return data, fig


def _train_setup(runs: pd.DataFrame) -> str:
    keys = (
        ("model.activation", ""),
        ("model.width", "width "),
        ("model.init", ""),
        ("model.bias_std", "bias std "),
        ("train.cost", ""),
        ("train.lr", "η = "),
        ("train.batch_size", "batch "),
        ("train.epochs", "epochs "),
        ("data.name", "data "),
    )
    parts = [
        f"{label}{format_value(runs[k].iloc[0])}"
        for k, label in keys
        if k in runs and runs[k].astype(str).nunique() == 1
    ]
    if SEED in runs:
        parts.append(f"{runs[SEED].nunique()} seed(s)")
    return ", ".join(parts)


# ---- exploding gradients ----------------------------------------------------------------


def plot_exploding(
    runs: pd.DataFrame | None,
    history: pd.DataFrame | None,
    probes: pd.DataFrame | None,
    profiles: pd.DataFrame | None,
) -> tuple[pd.DataFrame, Figure]:
    """Exploding gradients: Nielsen's chain, and ReLU trained above σ_w² = 2.

    Left: ‖δ^l‖ of Nielsen's chain (kind ``nielsen`` probe runs) against layer
    l, with the exact (w/4)^{L−l} ‖δ^L‖.  Right: the training runs (preset
    ``exploding``) at initialisation, rms_k ‖δ^l_k‖ against layer l with the
    mean-field √χ₁^{L−l} (χ₁ = σ_w²/2 = gain² for ReLU with He weights) from
    layer L; a ✕ and the legend mark each run that diverged in training, with
    the SGD step and layer where a value first overflowed.

    Returns
    -------
    data : DataFrame
        ``part`` ('nielsen_chain' | 'relu'), ``run_id``, ``line``, ``layer``,
        ``value``, ``predicted``, ``diverged``, ``diverged_step``, ``diverged_layer``.
    fig : Figure
    """
    parts = []
    chain = _nielsen_chain(probes, profiles)
    if chain is not None:
        parts.append(chain)
    relu = _relu_growth(runs, history)
    if relu is not None:
        parts.append(relu)
    if not parts:
        raise NoDataError("there is neither a Nielsen chain probe nor an exploding training run")
    data = pd.concat(parts, ignore_index=True)
    fig = new_figure(12.0, 5.4)
    axes = fig.subplots(1, 2)
    for ax, part, what in (
        (axes[0], "nielsen_chain", "Nielsen's chain: w = 100, z = 0 in every layer"),
        (axes[1], "relu", "ReLU, He weights × gain > 1, at initialisation"),
    ):
        d = data[data["part"] == part]
        ax.set_title(what, fontsize=10)
        ax.set_xlabel(r"layer $l$  (1 = next to the input)")
        ax.grid(True, which="major", alpha=0.3)
        if len(d) == 0:
            ax.text(
                0.5, 0.5, "no run of this kind in the store", ha="center", transform=ax.transAxes
            )
            continue
        for i, (line, grp) in enumerate(d.groupby("line", sort=False)):
            colour = OKABE_ITO[i % len(OKABE_ITO)]
            grp = grp.sort_values("layer")
            r = grp.iloc[0]
            label = line
            if r["diverged"]:
                label += (
                    f"\n✕ diverged in training: step {format_value(r['diverged_step'])}, "
                    f"layer {format_value(r['diverged_layer'])}"
                )
            ax.plot(grp["layer"], positive(grp["value"]), "o-", ms=3.5, color=colour, label=label)
            ax.plot(grp["layer"], positive(grp["predicted"]), "--", color=colour, lw=1)
            if r["diverged"]:
                first = grp.iloc[0]
                ax.plot(first["layer"], first["value"], "x", color="k", ms=10, mew=2)
        log_y(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, loc="upper right", framealpha=0.9)
    axes[0].set_ylabel(r"$\|\delta^l\|$  (one input)")
    axes[1].set_ylabel(r"rms$_k\,\|\delta^l_k\|$ at initialisation")
    dashed = [
        Line2D(
            [],
            [],
            color="0.3",
            ls="--",
            lw=1,
            label=r"dashed: predicted, $(w/4)^{L-l}\,\|\delta^L\|$ "
            "(left), $\\chi_1^{(L-l)/2}$ from layer $L$ with $\\chi_1 = \\sigma_w^2/2$ (right)",
        )
    ]
    fig.legend(handles=dashed, loc="outside lower center", fontsize=8)
    fig.suptitle(
        "Exploding gradients: each layer multiplies the gradient by a factor > 1", fontsize=11
    )
    return data, fig


def _nielsen_chain(probes, profiles) -> pd.DataFrame | None:
    if probes is None or profiles is None or KIND not in probes:
        return None
    chain = probes[probes[KIND] == "nielsen"]
    if len(chain) == 0:
        return None
    first = chain.sort_values([SEED, "run_id"]).iloc[0]  # one chain: the smallest seed
    p = profiles[profiles["run_id"] == first["run_id"]].sort_values("layer")
    if len(p) == 0:
        return None
    w = format_value(first.get("probe.nielsen_w", 100))
    return pd.DataFrame(
        {
            "part": "nielsen_chain",
            "run_id": first["run_id"],
            "line": f"sigmoid, w = {w}, width {format_value(first[WIDTH])}, seed {first[SEED]}",
            "layer": p["layer"].to_numpy(),
            "value": np.sqrt(p[names.PROBE_DELTA_SQ].to_numpy()),
            "predicted": np.sqrt(p[names.PROBE_DELTA_SQ_CHI1].to_numpy()),
            "diverged": False,
            "diverged_step": np.nan,
            "diverged_layer": np.nan,
        }
    )


def _relu_growth(runs, history) -> pd.DataFrame | None:
    if runs is None or history is None or len(runs) == 0 or len(history) == 0:
        return None
    h = history[history["phase"] == names.PHASE_INIT]
    out = []
    for _, r in runs.iterrows():
        hh = h[h["run_id"] == r["run_id"]].sort_values("layer")
        if len(hh) == 0:
            continue
        n = int(r.get("model.width", 1))
        sw2 = theory.sigma_w2_of(str(r["model.init"]), float(r.get(GAIN, 1.0)), n, n)
        sb2 = float(r.get("model.bias_std", 0.0)) ** 2
        chi1 = theory.chi1(str(r["model.activation"]), sw2, sb2)
        value = hh["delta_rms"].to_numpy(dtype=float)
        L = int(hh["layer"].max())
        predicted = value[-1] * np.sqrt(chi1) ** (L - hh["layer"].to_numpy(dtype=float))
        out.append(
            pd.DataFrame(
                {
                    "part": "relu",
                    "run_id": r["run_id"],
                    "line": f"σ_w² = {sw2:.3g} (χ₁ = {chi1:.3g}), depth {format_value(r[DEPTH])}",
                    "layer": hh["layer"].to_numpy(),
                    "value": value,
                    "predicted": predicted,
                    "diverged": bool(r.get("diverged", False)),
                    "diverged_step": r.get(names.DIVERGED_STEP, np.nan),
                    "diverged_layer": r.get(names.DIVERGED_LAYER, np.nan),
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else None
