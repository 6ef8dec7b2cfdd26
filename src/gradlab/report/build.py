"""The report: read what MLflow recorded and regenerate every figure.

:func:`make_report` draws the figures of :mod:`gradlab.report.catalog` (1–4 from
the latest training sweep, :mod:`gradlab.report.load`; 6–12 from the latest
sweep of each theory preset, :mod:`gradlab.report.presets`) and writes

    <out>/figures/<name>.png   (200 dpi), .svg, .csv (the data drawn)
    <out>/index.md             every figure with a two-line caption, the
                               sweep summary table (figure 5) and, for the
                               theory figures, how close measurement and
                               prediction came
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gradlab.report import markdown
from gradlab.report.catalog import FIGURE_NAMES, FIGURES, THEORY_FIGURE_NAMES, THEORY_FIGURES
from gradlab.report.frames import NoDataError
from gradlab.report.html import index_html
from gradlab.report.load import (
    DEFAULT_EXPERIMENT,
    SWEEP_ALL,
    ReportError,
    Sweep,
    experiment_id,
    load_history,
    load_runs,
    open_store,
)
from gradlab.report.presets import Inputs, PresetSweep, load_theory
from gradlab.track.client import redact, store_label

__all__ = [
    "DEFAULT_EXPERIMENT",
    "FIGURE_NAMES",
    "SWEEP_ALL",
    "THEORY_FIGURE_NAMES",
    "ReportError",
    "load_history",
    "load_runs",
    "make_report",
    "redact",
]

DPI = 200  # print resolution of the PNGs
SUFFIXES = (".png", ".svg", ".csv")


def make_report(
    tracking_uri: str,
    experiment: str = DEFAULT_EXPERIMENT,
    sweep: str | None = None,
    out_dir: str | Path = "reports",
    filter: str | None = None,
    root: str | Path | None = None,
) -> list[Path]:
    """Regenerate every figure, ``index.md`` and ``index.html`` from the runs MLflow recorded.

    ``root``: the repository; a SQLite store inside it is named by its relative
    path in the report (:func:`gradlab.track.client.store_label`).

    Figures the data do not allow (e.g. no run has its history table) are left
    out with the reason in ``index.md``; their old files are removed so that
    the folder never shows a figure of another sweep.

    Returns
    -------
    list of Path
        Every file written, all inside ``out_dir``.

    Figures 1–5 show the latest training sweep (``sweep``, ``filter``);
    figures 6 onward the latest sweep of each preset of ``names.THEORY_PRESETS``.
    Without training runs but with a theory preset, only the theory figures
    are drawn.

    Raises
    ------
    ReportError
        No store or experiment, or neither a training run nor a theory preset
        to report on (nothing is written).
    """
    client = open_store(tracking_uri)
    store = store_label(tracking_uri, None if root is None else Path(root))
    theory = load_theory(client, experiment_id(client, experiment, tracking_uri))
    try:
        runs = load_runs(tracking_uri, experiment, sweep, filter)
    except ReportError as err:
        if not any(theory.values()):
            raise
        runs, history = None, None
        head = markdown.no_training_text(str(err), experiment, store)
    else:
        history = load_history(client, runs)
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    written, sections = _training_sections(runs, history, fig_dir)
    more, theory_sections = _theory_sections(client, theory, fig_dir)
    if runs is not None:
        sweep_info = runs.attrs["sweep"]
        head = markdown.index_text(runs, history, sweep_info, experiment, store, sections)
    text = head + markdown.theory_text(theory_sections)
    index, page = out / "index.md", out / "index.html"
    index.write_text(text)
    page.write_text(index_html(text))
    return [*written, *more, index, page]


def _save(fig, data: pd.DataFrame, fig_dir: Path, name: str) -> list[Path]:
    paths = [fig_dir / f"{name}{suffix}" for suffix in SUFFIXES]
    # lay out once, then freeze: each savefig would otherwise redo the constrained
    # layout (text extents of every tick label), the slowest step of the report
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    fig.savefig(paths[0], dpi=DPI)
    fig.savefig(paths[1], metadata={"Date": None})  # no timestamp: regenerating is diffable
    data.to_csv(paths[2], index=False)
    return paths


def _remove(fig_dir: Path, name: str) -> None:
    for suffix in SUFFIXES:
        (fig_dir / f"{name}{suffix}").unlink(missing_ok=True)


def _training_sections(runs, history, fig_dir: Path) -> tuple[list[Path], list[str]]:
    """Figures 1–4 of the training sweep; without one, none (and their old files removed)."""
    written: list[Path] = []
    sections: list[str] = []
    if runs is None:
        for spec in FIGURES:
            _remove(fig_dir, spec.name)
        return written, sections
    sweep_info: Sweep = runs.attrs["sweep"]
    for spec in FIGURES:
        try:
            chosen = spec.select(runs, history)
            data, fig = spec.draw(chosen, history)
        except NoDataError as err:
            _remove(fig_dir, spec.name)
            sections.append(markdown.missing_section(spec.title, err))
            continue
        written += _save(fig, data, fig_dir, spec.name)
        used = f"{sweep_info.label}; {len(chosen)} of {len(runs)} runs; {sweep_info.date}"
        sections.append(markdown.figure_section(spec.title, spec.name, spec.caption, used))
    return written, sections


def _theory_sections(
    client, sweeps: dict[str, PresetSweep | None], fig_dir: Path
) -> tuple[list[Path], list[str]]:
    """Every theory figure the store allows; the files written and the Markdown sections.

    A figure that cannot be drawn gets "Not drawn: <reason>" and its old files
    are removed.
    """
    inp = Inputs(client, sweeps)
    written, sections = [], []
    for spec in THEORY_FIGURES:
        try:
            data, fig = spec.draw(inp)
        except NoDataError as err:
            _remove(fig_dir, spec.name)
            sections.append(markdown.missing_section(spec.title, err))
            continue
        written += _save(fig, data, fig_dir, spec.name)
        used = [sweeps[p] for p in spec.presets if sweeps.get(p) is not None]
        runs = "; ".join(f"{s.label}, {len(s.runs)} runs" for s in used)
        left = sum(s.left_out for s in used)
        if left:
            runs += f"; {left} unfinished or superseded run(s) left out"
        text = spec.text(data)
        sections.append(markdown.figure_section(spec.title, spec.name, spec.caption, runs, text))
    return written, sections
