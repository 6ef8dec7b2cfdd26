"""The report's theory part: figures 6–10 from the latest sweep of each theory preset.

Each preset of ``names.THEORY_PRESETS`` is found by its parent run (tag
``gradlab.kind`` = ``sweep`` and ``gradlab.preset`` = the preset name); of its
children the newest run per config is used, FINISHED ones only.  Probe runs
(``experiments/probe.py``) bring their summary metrics and the
``probe_profile.csv`` / ``singular_values.csv`` artifacts, training runs their
``history.csv``.  :func:`draw_sections` draws :mod:`gradlab.report.theory_plots` and
returns the Markdown for ``index.md``, with a table of how close each
measurement came to its prediction; a preset that was never run is named with
the command that records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.jobs import sweep
from gradlab.report import theory_plots
from gradlab.report.build import latest_per_point, load_tables, runs_frame
from gradlab.report.plotting import DEPTH, NoDataError, format_value
from gradlab.report.theory_plots import INIT, KIND, PDEPTH

#: The script each preset runs with (its preset lives in conf/<script>/experiment/).
SCRIPTS = {
    names.PRESET_MEAN_FIELD: "probe.py",
    names.PRESET_PHASE_DIAGRAM: "probe.py",
    names.PRESET_JACOBIAN: "probe.py",
    names.PRESET_NIELSEN_CH5: "train.py",
    names.PRESET_EXPLODING: "train.py",
}


@dataclass(frozen=True)
class PresetSweep:
    """The runs of the latest sweep of one preset."""

    preset: str
    label: str  # "sweep `3f2a…` of preset `x` (parent run `…`, started …)"
    runs: pd.DataFrame  # one row per point: probe frame or training runs frame
    left_out: int  # runs of the sweep that did not finish (or were superseded)


def _stamp(ms) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def _probe_frame(found: list) -> pd.DataFrame:
    rows = []
    for run in found:
        row = {"run_id": run.info.run_id, "run_name": run.info.run_name, **run.data.params}
        row.update({m: run.data.metrics.get(m, np.nan) for m in names.PROBE_SUMMARY_METRICS})
        rows.append(row)
    return theory_plots.coerce_probe_params(pd.DataFrame(rows))


def load_preset(client, exp_id: str, preset: str) -> PresetSweep | None:
    """The latest sweep of ``preset`` and its finished runs, or None if there is none."""
    parents = client.search_runs(
        [exp_id],
        f"tags.`{names.TAG_KIND}` = 'sweep' AND tags.`{names.TAG_PRESET}` = '{preset}'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    if not parents:
        return None
    parent = parents[0]
    every = sweep.children(client, exp_id, parent.info.run_id)
    latest = sweep.latest_per_point(every)
    done = [r for r in latest if r.info.status == "FINISHED"]
    probes = [r for r in done if r.data.tags.get(names.TAG_KIND) == "probe"]
    trains = [r for r in done if r.data.tags.get(names.TAG_KIND) == "train"]
    if probes:
        runs = _probe_frame(probes)
    elif trains:
        runs = latest_per_point(runs_frame(trains))
    else:
        runs = pd.DataFrame(columns=["run_id"])
    label = (
        f"sweep `{parent.data.tags.get(names.TAG_SWEEP_ID, '?')}` of preset `{preset}` "
        f"(parent run `{parent.info.run_name}`, started {_stamp(parent.info.start_time)})"
    )
    return PresetSweep(preset, label, runs, left_out=len(every) - len(runs))


def load_theory(client, exp_id: str) -> dict[str, PresetSweep | None]:
    """:func:`load_preset` of every theory preset."""
    return {preset: load_preset(client, exp_id, preset) for preset in names.THEORY_PRESETS}


# ---- what each figure needs and how it is summarised -----------------------------------


class Inputs:
    """Lazy access to the runs and artifact tables of the loaded presets."""

    def __init__(self, client, sweeps: dict[str, PresetSweep | None]):
        self.client, self.sweeps, self._cache = client, sweeps, {}

    def runs(self, preset: str) -> pd.DataFrame:
        found = self.sweeps.get(preset)
        if found is None:
            raise NoDataError(
                f"no sweep of preset `{preset}` in this experiment; record it with "
                f"`python experiments/{SCRIPTS[preset]} -m +experiment={preset}`"
            )
        if len(found.runs) == 0:
            raise NoDataError(f"the latest sweep of preset `{preset}` has no finished run")
        return found.runs

    def table(self, preset: str, artifact: str, columns) -> pd.DataFrame:
        key = (preset, artifact)
        if key not in self._cache:
            ids = self.runs(preset)["run_id"]
            self._cache[key] = load_tables(self.client, ids, artifact, columns)
        return self._cache[key]

    def profiles(self, preset: str) -> pd.DataFrame:
        return self.table(preset, names.ARTIFACT_PROBE, names.PROBE_COLUMNS)

    def singular(self, preset: str) -> pd.DataFrame:
        return self.table(preset, names.ARTIFACT_SINGULAR_VALUES, names.SINGULAR_VALUE_COLUMNS)

    def history(self, preset: str) -> pd.DataFrame:
        return self.table(preset, names.ARTIFACT_HISTORY, names.HISTORY_COLUMNS)

    def optional(self, get: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
        try:
            return get()
        except NoDataError:
            return None


def _draw_mean_field(inp: Inputs):
    p = names.PRESET_MEAN_FIELD
    return theory_plots.plot_measured_vs_predicted(inp.runs(p), inp.profiles(p))


def _draw_phase(inp: Inputs):
    return theory_plots.plot_phase_diagram(inp.runs(names.PRESET_PHASE_DIAGRAM))


def _draw_jacobian(inp: Inputs):
    p = names.PRESET_JACOBIAN
    return theory_plots.plot_jacobian_spectrum(inp.runs(p), inp.singular(p))


def _draw_nielsen(inp: Inputs):
    p = names.PRESET_NIELSEN_CH5
    return theory_plots.plot_nielsen_ch5(inp.runs(p), inp.history(p))


def _draw_exploding(inp: Inputs):
    p, mf = names.PRESET_EXPLODING, names.PRESET_MEAN_FIELD
    if inp.sweeps.get(p) is None and inp.sweeps.get(mf) is None:
        raise NoDataError(
            f"no sweep of preset `{p}` (ReLU above σ_w² = 2) or `{mf}` (Nielsen's chain) in "
            f"this experiment; record them with `python experiments/{SCRIPTS[p]} -m "
            f"+experiment={p}` and `python experiments/{SCRIPTS[mf]} -m +experiment={mf}`"
        )
    return theory_plots.plot_exploding(
        inp.optional(lambda: inp.runs(p)),
        inp.optional(lambda: inp.history(p)),
        inp.optional(lambda: inp.runs(mf)),
        inp.optional(lambda: inp.profiles(mf)),
    )


def _pct(x) -> str:
    return "–" if pd.isna(x) else f"{100 * x:+.1f} %"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def _mean_field_table(data: pd.DataFrame) -> str:
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


def _phase_table(data: pd.DataFrame) -> str:
    grid = data[data["kind"] == "grid"]
    agree = int((grid["phase"] == grid["measured_phase"]).sum())
    err = (grid["log_slope"] - grid["ln_chi1"]).abs()
    worst = grid.loc[err.idxmax()]
    return (
        f"The measured phase (sign of the slope) matches the predicted one in {agree} of "
        f"{len(grid)} grid cells; the largest gap |s − ln χ₁| is {err.max():.3f} at "
        f"σ_w² = {worst['sigma_w2']:g}, σ_b² = {worst['sigma_b2']:g} (median gap "
        f"{err.median():.3f})."
    )


def _jacobian_table(data: pd.DataFrame) -> str:
    s = data.drop_duplicates([PDEPTH, INIT]).sort_values([PDEPTH, INIT])
    rows = [
        [
            format_value(r[PDEPTH]),
            r[INIT],
            f"{r['mean_s2']:.4g}",
            f"{r['predicted']:.4g}",
            f"{r['spread']:.4g}",
            f"{r['condition']:.3g}",
            str(int(r["n_runs"])),
        ]
        for _, r in s.iterrows()
    ]
    return "Mean squared singular value against χ₁^L, and the spread Var[s²]/E[s²]².\n\n" + _table(
        ["L", "init", "E[s²] measured", "χ₁^L", "spread", "median s_max/s_min", "runs"], rows
    )


def _nielsen_text(data: pd.DataFrame) -> str:
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
        f'<{theory_plots.NIELSEN_SOURCE}>: "we find ‖δ¹‖ = 0.07… and ‖δ²‖ = 0.31…" for '
        '[784, 30, 30, 10]; "0.012, 0.060, and 0.283" for three and "0.003, 0.017, 0.070, '
        'and 0.285" for four hidden layers.  His ‖δ^l‖ is the length of ∂C/∂b^l averaged '
        "over the first 1000 training images (his `fig/generate_gradient.py`), as our "
        "‖∇b^l‖ on the probe batch; his training curves use batch gradient descent on "
        "those 1000 images with λ = 5, ours mini-batch SGD as the preset says.  Inputs "
        "differ (784 MNIST pixels against 64 digit pixels), so agree in pattern, not value."
    )


def _exploding_text(data: pd.DataFrame) -> str:
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


@dataclass(frozen=True)
class TheoryFigure:
    """One theory figure: file name, caption, presets, how to draw and summarise it."""

    name: str
    title: str
    caption: str
    presets: tuple[str, ...]
    draw: Callable[[Inputs], tuple[pd.DataFrame, object]]
    text: Callable[[pd.DataFrame], str]


THEORY_FIGURES: tuple[TheoryFigure, ...] = (
    TheoryFigure(
        "theory_delta_vs_layer",
        "Figure 6. Measured against predicted E‖δ^l‖² at initialisation",
        "E‖δ^l‖² per layer (log axis) for wide networks at initialisation, median over seeds, "
        "beside the mean-field χ₁^{L−l} line (solid) and its transient-aware version (dashed); "
        "one panel per activation and init, and Nielsen's 25× chain.",
        (names.PRESET_MEAN_FIELD,),
        _draw_mean_field,
        _mean_field_table,
    ),
    TheoryFigure(
        "theory_phase_diagram",
        "Figure 7. Order-to-chaos phase diagram",
        "Measured per-layer growth rate of E‖δ^l‖² over σ_w² × σ_b² (left) and the predicted "
        "ln χ₁ (right), with the critical line χ₁ = 1: ordered phase (vanishing) on one "
        "side, chaotic phase (exploding) on the other.",
        (names.PRESET_PHASE_DIAGRAM,),
        _draw_phase,
        _phase_table,
    ),
    TheoryFigure(
        "theory_jacobian_spectrum",
        "Figure 8. Input–output Jacobian spectrum, Gaussian against orthogonal",
        "Histograms of the singular values of ∂a^L/∂a^0 at several depths for Gaussian and "
        "orthogonal weights with the same χ₁ = 1: orthogonal weights keep the spectrum "
        "narrow (dynamical isometry), Gaussian ones spread it over decades.",
        (names.PRESET_JACOBIAN,),
        _draw_jacobian,
        _jacobian_table,
    ),
    TheoryFigure(
        "nielsen_ch5_speed",
        "Figure 9. Nielsen, chapter 5: speed of learning of each hidden layer",
        "‖∇b^l‖ of each hidden layer at initialisation for 1 to 4 hidden layers, beside "
        "Nielsen's MNIST numbers (hollow), and during training for 2, 3 and 4 hidden layers.",
        (names.PRESET_NIELSEN_CH5,),
        _draw_nielsen,
        _nielsen_text,
    ),
    TheoryFigure(
        "exploding_gradients",
        "Figure 10. Exploding gradients",
        "Left: Nielsen's construction (w = 100, biases making every z = 0) multiplies the "
        "gradient by 25 per layer.  Right: ReLU above σ_w² = 2 at initialisation, growing by "
        "√χ₁ per layer towards the input (dashed); ✕ marks runs that overflowed in training.",
        (names.PRESET_EXPLODING, names.PRESET_MEAN_FIELD),
        _draw_exploding,
        _exploding_text,
    ),
)
THEORY_FIGURE_NAMES = tuple(f.name for f in THEORY_FIGURES)


def draw_sections(
    client,
    sweeps: dict[str, PresetSweep | None],
    fig_dir: Path,
    save: Callable[[object, pd.DataFrame, Path, str], list[Path]],
    suffixes: tuple[str, ...],
) -> tuple[list[Path], list[str]]:
    """Draw every theory figure the store allows; return the files and Markdown sections.

    A figure that cannot be drawn gets "Not drawn: <reason>" and its old
    files (``<name><suffix>``) are removed.
    """
    inp = Inputs(client, sweeps)
    written, sections = [], []
    for spec in THEORY_FIGURES:
        try:
            data, fig = spec.draw(inp)
        except NoDataError as err:
            for suffix in suffixes:
                (fig_dir / f"{spec.name}{suffix}").unlink(missing_ok=True)
            sections.append(f"## {spec.title}\n\nNot drawn: {err}.\n")
            continue
        written += save(fig, data, fig_dir, spec.name)
        used = [sweeps[p] for p in spec.presets if sweeps.get(p) is not None]
        runs = "; ".join(f"{s.label}, {len(s.runs)} runs" for s in used)
        left = sum(s.left_out for s in used)
        if left:
            runs += f"; {left} unfinished or superseded run(s) left out"
        sections.append(
            f"## {spec.title}\n\n![{spec.title}](figures/{spec.name}.png)\n\n"
            f"*{spec.caption}*  \n*Runs: {runs}.* "
            f"[SVG](figures/{spec.name}.svg) · [data](figures/{spec.name}.csv)\n\n"
            f"{spec.text(data)}\n"
        )
    return written, sections
