"""The words of the report: ``index.md``'s header, notes, sections and tables.

Every function here turns frames (or the tidy data a figure drew) into
Markdown; nothing draws, and nothing reads MLflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.report.frames import (
    ACTIVATION,
    DEPTH,
    INIT,
    KIND,
    PDEPTH,
    PINIT,
    SEED,
    format_value,
    natural_init_runs,
    short_key,
    sort_runs,
)
from gradlab.report.load import SWEEP_ALL, Sweep
from gradlab.report.nielsen import NIELSEN_SOURCE
from gradlab.theory.criticality import CRITICAL_TOLERANCE


def md(text) -> str:
    """``text`` fit for a Markdown table cell or line: pipes escaped, one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value, fmt: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if np.isnan(v) else format(v, fmt)


def accuracy_table(runs: pd.DataFrame) -> str:
    """Test accuracy per activation (its natural init) × depth: median over seeds (min–max).

    Empty when the runs have no test accuracy (data without labels).
    """
    if names.TEST_ACCURACY not in runs or runs[names.TEST_ACCURACY].isna().all():
        return ""
    chosen = sort_runs(natural_init_runs(runs))  # activations in the story's order
    acc = chosen.groupby([ACTIVATION, INIT, DEPTH], sort=False)[names.TEST_ACCURACY]
    stats = acc.agg(["median", "min", "max"]).reset_index()
    depths = sorted(stats[DEPTH].unique())
    head = ["activation (init)", *[f"depth {d}" for d in depths]]
    rows = []
    for (act, init), grp in stats.groupby([ACTIVATION, INIT], sort=False):
        by_depth = grp.set_index(DEPTH)
        cells = []
        for d in depths:
            if d not in by_depth.index:
                cells.append("–")
                continue
            r = by_depth.loc[d]
            spread = "" if r["min"] == r["max"] else f" ({r['min']:.2f}–{r['max']:.2f})"
            cells.append(f"{r['median']:.2f}{spread}")
        rows.append([f"{md(act)} ({md(init)})", *cells])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def summary_table(runs: pd.DataFrame) -> str:
    """Figure 5: one markdown row per run."""
    setup = [k for k in (ACTIVATION, INIT, DEPTH, "model.width", "train.lr", SEED) if k in runs]
    head = ["run", *[short_key(k) for k in setup], "status", names.VANISH_RATIO]
    head += [names.DECAY_PER_LAYER, names.TRAIN_LOSS, names.TEST_ACCURACY, names.DIVERGED]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in runs.iterrows():
        div = "no"
        if r["diverged"]:
            where = [
                f"{w} {_num(r.get(m), '.0f')}"
                for w, m in (("step", names.DIVERGED_STEP), ("layer", names.DIVERGED_LAYER))
                if _num(r.get(m), ".0f") != "–"
            ]
            div = "**yes**" + (f" ({', '.join(where)})" if where else "")
        cells = [f"`{md(r['run_name'])}`", *[md(format_value(r[k])) for k in setup]]
        cells += [md(r["status"]), _num(r.get(names.VANISH_RATIO), ".3e")]
        cells += [_num(r.get(names.DECAY_PER_LAYER), ".3g"), _num(r.get(names.TRAIN_LOSS), ".4g")]
        cells += [_num(r.get(names.TEST_ACCURACY), ".3f"), div]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def no_training_text(reason: str, experiment, store: str) -> str:
    """The header of ``index.md`` when figures 1–5 have no training sweep to show."""
    return (
        "# gradlab report\n\n"
        f"Experiment `{md(experiment)}` in {md(store)}.  \n"
        f"Figures 1–5 are not drawn: {md(reason)}.\n"
    )


def theory_text(sections: list[str]) -> str:
    """The theory part of ``index.md``: its heading, then the sections of figures 6 onward."""
    return (
        "\n# Theory and classic results\n\n"
        "Figures 6 onward come from the latest sweep of each preset named below "
        f"({', '.join(f'`{p}`' for p in names.THEORY_PRESETS)}; "
        "in `conf/train/experiment/` and `conf/probe/experiment/`).\n\n" + "\n".join(sections)
    )


def index_text(runs, history, sweep: Sweep, experiment, store: str, sections) -> str:
    """``index.md`` down to figure 5: the header, notes on partial runs, ``sections`` of
    figures 1–4, then the sweep summary table."""
    n = len(runs)
    notes = []
    missing = runs.loc[~runs["run_id"].isin(history["run_id"]), "run_name"].tolist()
    if missing:
        notes.append(
            f"- {len(missing)} run(s) have no `{names.ARTIFACT_HISTORY}` and appear only in "
            f"figure 2 and the table: {', '.join(f'`{md(m)}`' for m in missing)}"
        )
    if sweep.superseded:
        notes.append(
            f"- {sweep.superseded} older attempt(s) of a config were superseded by a later "
            "run of the same config and are left out"
        )
    bad = runs[runs["status"] != "FINISHED"]
    if len(bad):
        states = ", ".join(
            f"`{md(a)}` {b}" for a, b in zip(bad["run_name"], bad["status"], strict=True)
        )
        notes.append(f"- {len(bad)} run(s) did not finish: {states}")
    div = runs.loc[runs["diverged"], "run_name"].tolist()
    if div:
        notes.append(
            f"- {len(div)} run(s) diverged (marked ✕ in the figures): "
            + ", ".join(f"`{md(d)}`" for d in div)
        )
    sweep_arg = "" if sweep.sweep_id == SWEEP_ALL else f" --sweep {sweep.sweep_id}"
    head = (
        "# gradlab report\n\n"
        f"Runs: {sweep.label}, {n} training run{'s' if n != 1 else ''} of experiment "
        f"`{md(experiment)}` in {md(store)}, {sweep.date}.  \n"
        f"Regenerate with `make report` (latest sweep) or "
        f"`python reports/make_report.py{md(sweep_arg)}`.\n"
    )
    if notes:
        head += "\n" + "\n".join(notes) + "\n"
    table = (
        "## Figure 5. Sweep summary\n\n"
        "One row per training run: set-up, ‖∇b^1‖/‖∇b^L‖ and the geometric-mean layer-to-layer "
        "ratio at initialisation, final train loss and test accuracy, divergence.  \n"
        f"*Runs: {sweep.label}; {n} runs; {sweep.date}.*\n\n"
    )
    accuracy = accuracy_table(runs)
    if accuracy:
        table += (
            "Test accuracy after training, per activation with its natural init and depth "
            "(median over seeds, min–max in brackets; chance is about 0.1 on ten classes), "
            "beside the gradients of figure 1.\n\n" + accuracy + "\n\n"
        )
    table += summary_table(runs) + "\n"
    return head + "\n" + "\n".join(sections) + "\n" + table


def _pct(x) -> str:
    return "–" if pd.isna(x) else f"{100 * x:+.1f} %"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def mean_field_text(data: pd.DataFrame) -> str:
    cases = data.drop_duplicates("case")
    rows = []
    for _, c in cases[cases[KIND] == "delta"].iterrows():
        spread = f"{c['chi1_measured_min']:.4g} – {c['chi1_measured_max']:.4g}"
        rows.append(
            [
                c["case"],
                f"{c['chi1']:.4g}",
                f"{c['chi1_measured']:.4g}",
                spread,
                _pct(c["rel_error"]),
                "yes" if c["within"] else "**no**",
                str(int(c["n_runs"])),
            ]
        )
    text = "How close each case came: the per-layer factor exp(s) of E‖δ^l‖², fitted on the "
    text += "shaded layers, against χ₁ (acceptance: within 10 %).\n\n"
    text += _table(
        [
            "case",
            "χ₁ (theory)",
            "measured exp(s), mean",
            "seeds min – max",
            "error",
            "within 10 %",
            "runs",
        ],
        rows,
    )
    chain = cases[cases[KIND] == "nielsen"]
    for _, c in chain.iterrows():
        text += (
            f"\n\nNielsen's chain (w = {format_value(c.get('probe.nielsen_w', 100))}, every "
            f"z^l = 0): measured ‖δ^l‖/‖δ^(l+1)‖ = {c['nielsen_ratio_min']:.15g} to "
            f"{c['nielsen_ratio_max']:.15g} over {int(c['n_runs'])} run(s), predicted "
            f"w·σ′(0) = {c['nielsen_ratio_predicted']:.15g}."
        )
    return text


def phase_text(data: pd.DataFrame) -> str:
    """Figure 7: phase agreement off the critical line, the critical cells, the largest gap."""
    grid = data[data["kind"] == "grid"]
    off = grid[grid["phase"] != "critical"]
    agree = int((off["phase"] == off["measured_phase"]).sum())
    text = (
        f"The measured phase (sign of the slope) matches the predicted one in {agree} of "
        f"{len(off)} grid cells off the critical line."
    )
    for _, c in grid[grid["phase"] == "critical"].iterrows():
        text += (
            f"  The cell σ_w² = {c['sigma_w2']:g}, σ_b² = {c['sigma_b2']:g} lies on it "
            f"(|ln χ₁| ≤ {CRITICAL_TOLERANCE:g}), so it is counted as critical: there q^l "
            "approaches q* only slowly, the fitted layers are still in the forward transient, "
            f"and the slope to expect is the transient-aware {c['predicted_slope']:+.3f} rather "
            f"than ln χ₁ = 0; measured {c['log_slope']:+.3f}."
        )
    err = (grid["log_slope"] - grid["predicted_slope"]).abs()
    if err.notna().any():
        worst = grid.loc[err.idxmax()]
        text += (
            f"  The largest gap between the measured slope s and the prediction that applies "
            f"(ln χ₁ off the line, the transient-aware slope on it) is {err.max():.3f} at "
            f"σ_w² = {worst['sigma_w2']:g}, σ_b² = {worst['sigma_b2']:g} (median gap "
            f"{err.median():.3f})."
        )
    return text


#: s_max/s_min beyond 1/ε of float64: the SVD resolves s_min only down to about ε·s_max.
CONDITION_FLOOR = 1.0 / np.finfo(np.float64).eps


def _condition(value: float) -> str:
    if value >= CONDITION_FLOOR:
        return f"≥ {CONDITION_FLOOR:.2g} (numerical floor)"
    return f"{value:.3g}"


def jacobian_text(data: pd.DataFrame) -> str:
    """Figure 8: E[s²] against χ₁^L per depth and init, and what a large miss is."""
    s = data.drop_duplicates([PDEPTH, PINIT]).sort_values([PDEPTH, PINIT])
    rows = [
        [
            format_value(r[PDEPTH]),
            r[PINIT],
            f"{r['mean_s2']:.4g}",
            f"{r['predicted']:.4g}",
            f"{r['spread']:.4g}",
            _condition(r["condition"]),
            str(int(r["n_runs"])),
        ]
        for _, r in s.iterrows()
    ]
    text = "Mean squared singular value against χ₁^L, and the spread Var[s²]/E[s²]².\n\n"
    text += _table(
        ["L", "init", "E[s²] measured", "χ₁^L", "spread", "median s_max/s_min", "runs"], rows
    )
    if (s["condition"] >= CONDITION_FLOOR).any():
        text += (
            f"\n\ns_max/s_min at or above {CONDITION_FLOOR:.2g} = 1/ε of float64 is the numerical "
            "floor: the SVD resolves singular values only down to about ε·s_max, so the true "
            "ratio is at least that and may be far larger."
        )
    off = s[(s["mean_s2"] / s["predicted"] - 1.0).abs() > 0.1]
    for _, r in off.iterrows():
        text += (
            f"\n\nAt L = {format_value(r[PDEPTH])} the {r[PINIT]} E[s²] = {r['mean_s2']:.3g} "
            f"against χ₁^L = {r['predicted']:.3g} is a finite-width fluctuation: E[s²] of the "
            f"{int(r['n_networks'])} single networks ranges from {r['net_mean_s2_min']:.3g} to "
            f"{r['net_mean_s2_max']:.3g} (median {r['net_mean_s2_median']:.3g}): χ₁^L is the "
            "expectation over networks, and a mean over this few of them scatters that widely "
            "around it."
        )
    return text


def nielsen_text(data: pd.DataFrame) -> str:
    ours = data[(data["source"] == "gradlab") & (data["step"] == 0)]
    his = data[data["source"] == "nielsen_mnist"]
    rows = []
    for depth in sorted(ours[DEPTH].unique()):
        o = ours[ours[DEPTH] == depth].sort_values("layer")["value"].to_numpy()
        h = his[his[DEPTH] == depth].sort_values("layer")["value"].to_numpy()
        mnist = ", ".join(f"{v:.3g}" for v in h) if len(h) else "–"
        ratio = f"{o[0] / o[-1]:.3g}" if len(o) > 1 else "–"
        his_ratio = f"{h[0] / h[-1]:.3g}" if len(h) > 1 else "–"
        rows.append(
            [format_value(depth), ", ".join(f"{v:.3g}" for v in o), mnist, ratio, his_ratio]
        )
    return (
        "‖∇b^l‖ of hidden layers l = 1, 2, … at initialisation (his table), ours on the 8×8 "
        "digits (median over seeds) beside Nielsen's on MNIST.\n\n"
        + _table(
            [
                "hidden layers",
                "gradlab ‖∇b^l‖",
                "Nielsen (MNIST) ‖δ^l‖",
                "first/last (ours)",
                "first/last (his)",
            ],
            rows,
        )
        + f"\n\nSource: M. Nielsen, *Neural Networks and Deep Learning* (2015), ch. 5, "
        f'<{NIELSEN_SOURCE}>: "we find ‖δ¹‖ = 0.07… and ‖δ²‖ = 0.31…" for '
        '[784, 30, 30, 10]; "0.012, 0.060, and 0.283" for three and "0.003, 0.017, 0.070, '
        'and 0.285" for four hidden layers.  His ‖δ^l‖ is the length of ∂C/∂b^l averaged '
        "over the first 1000 training images (his `fig/generate_gradient.py`), as our "
        "‖∇b^l‖ on the probe batch; his training curves use batch gradient descent on "
        "those 1000 images with λ = 5, ours mini-batch SGD as the preset says.  Inputs "
        "differ (784 MNIST pixels against 64 digit pixels), so agree in pattern, not value."
    )


def exploding_text(data: pd.DataFrame) -> str:
    parts = []
    chain = data[data["part"] == "nielsen_chain"].sort_values("layer")
    if len(chain) > 1:
        v = chain["value"].to_numpy()
        r = v[:-1] / v[1:]
        parts.append(
            f"Nielsen's chain: measured ‖δ^l‖/‖δ^(l+1)‖ from {r.min():.15g} to {r.max():.15g} "
            f"over {len(r)} layer pairs (exactly 25 = 100·¼ predicted)."
        )
    relu = data[data["part"] == "relu"]
    for line, grp in relu.groupby("line", sort=False):
        r = grp.iloc[0]
        state = (
            f"diverged at SGD step {format_value(r['diverged_step'])} "
            f"(layer {format_value(r['diverged_layer'])})"
            if r["diverged"]
            else "did not diverge"
        )
        parts.append(f"ReLU {line}: {state}.")
    return "\n".join(f"- {p}" for p in parts)


def figure_section(title: str, name: str, caption: str, runs: str, text: str | None = None) -> str:
    """One drawn figure: heading, image, caption, which runs, links to SVG and data, text."""
    out = (
        f"## {title}\n\n![{title}](figures/{name}.png)\n\n"
        f"*{caption}*  \n*Runs: {runs}.* "
        f"[SVG](figures/{name}.svg) · [data](figures/{name}.csv)\n"
    )
    return out if text is None else f"{out}\n{text}\n"


def missing_section(title: str, reason) -> str:
    """A figure the data do not allow, with the reason."""
    return f"## {title}\n\nNot drawn: {reason}.\n"
