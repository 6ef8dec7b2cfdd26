"""The report: read what MLflow recorded and regenerate every figure.

This is the MLflow edge of the plotting code.  :func:`load_runs` turns the runs
of one sweep into a typed pandas frame (one row per training run),
:func:`load_history` downloads each run's ``history.csv`` artifact, and
:func:`make_report` draws the figures of :mod:`gradlab.report.plotting` (1–5, from
the latest training sweep) and of :mod:`gradlab.report.theory_sections` (6–10, from
the latest sweep of each theory preset) and writes

    <out>/figures/<name>.png   (200 dpi), .svg, .csv (the data drawn)
    <out>/index.md             every figure with a two-line caption, the
                               sweep summary table (figure 5) and, for the
                               theory figures, how close measurement and
                               prediction came

File names come from the fixed lists :data:`FIGURES` and
:data:`gradlab.report.theory_sections.THEORY_FIGURES`, so regenerating overwrites and
the README can link a figure.  The store layout read here is
the one :mod:`gradlab.names` defines.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from gradlab import names
from gradlab.report import plotting
from gradlab.report.plotting import ACTIVATION, DEPTH, INIT, SEED, NoDataError

DEFAULT_EXPERIMENT = "gradlab"
SWEEP_ALL = "all"  # --sweep all: every training run of the experiment
DPI = 200  # print resolution of the PNGs
_PAGE = 1000  # runs per search_runs page
_PARENT_TAG = "mlflow.parentRunId"
_TAGS = (
    names.TAG_SWEEP_ID,
    names.TAG_KIND,
    names.TAG_STATUS,
    names.TAG_CONFIG_HASH,
    names.TAG_VERSION,
    names.TAG_GIT_COMMIT,
    names.TAG_ERROR,
)
_METRICS = (*names.SUMMARY_METRICS, names.DIVERGED_STEP, names.DIVERGED_LAYER)
#: A sweep id goes into an MLflow filter string between single quotes.
_SWEEP_ID = re.compile(r"[^'\"\\\x00-\x1f]{1,200}")


class ReportError(Exception):
    """Nothing to report, with a one-line reason a person can act on."""


# ---- reading the store -------------------------------------------------------------


def _tag(key: str) -> str:
    """A tag in MLflow's filter syntax (backticks allow the dots in our tag names)."""
    return f"tags.`{key}`"


def _client(tracking_uri: str) -> MlflowClient:
    """A client for ``tracking_uri``; refuses to create a missing SQLite file."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri[len("sqlite:///") :])
        if not path.is_file():
            raise ReportError(f"no MLflow store at {path}; run `make run` first to record a sweep")
    return MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(client: MlflowClient, experiment: str, tracking_uri: str) -> str:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        known = [e.name for e in client.search_experiments(max_results=50)]
        raise ReportError(
            f"no experiment named {experiment!r} at {redact(tracking_uri)}; "
            f"experiments there: {', '.join(known) or 'none'}"
        )
    return exp.experiment_id


def _search(client: MlflowClient, exp_id: str, filter_string: str, order_by=None) -> list:
    """Every matching run, following search_runs' pages."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [exp_id],
            filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=_PAGE,
            order_by=order_by,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


@dataclass(frozen=True)
class Sweep:
    """Which runs a report covers, in words for the captions."""

    sweep_id: str  # the tag value, or "all"
    label: str  # e.g. "sweep `3f2a…` (parent run `sweep-…`, started 2026-11-28 01:02 UTC)"
    date: str  # day(s) the runs started
    superseded: int = 0  # older attempts of a config that a later run replaced


def _check_sweep_id(sweep: str) -> str:
    if not isinstance(sweep, str) or not _SWEEP_ID.fullmatch(sweep):
        raise ValueError(
            f"sweep={sweep!r} is not allowed; it must be a sweep id without quotes, "
            "backslashes or control characters"
        )
    return sweep


def _stamp(ms) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def _find_sweep(client, exp_id: str, sweep: str | None) -> tuple[str, str | None]:
    """(filter on training runs, description of the parent) for ``sweep``."""
    train = f"{_tag(names.TAG_KIND)} = 'train'"
    if sweep == SWEEP_ALL:
        return train, None
    if sweep is None:
        parent = _latest_training_sweep(client, exp_id, train)
        if parent is None:
            return train, None  # no such parent run: report every training run
        sweep = parent.data.tags.get(names.TAG_SWEEP_ID, "")
        _check_sweep_id(sweep)
        where = f"parent run `{parent.info.run_name}`, started {_stamp(parent.info.start_time)}"
        return f"{train} AND {_tag(names.TAG_SWEEP_ID)} = '{sweep}'", f"sweep `{sweep}` ({where})"
    _check_sweep_id(sweep)
    return f"{train} AND {_tag(names.TAG_SWEEP_ID)} = '{sweep}'", f"sweep `{sweep}`"


def _latest_training_sweep(client, exp_id: str, train: str):
    """The newest sweep parent with training runs, other than the theory presets.

    The presets of ``names.THEORY_PRESETS`` (and probe sweeps) have their own
    figures (:mod:`gradlab.report.theory_sections`); figures 1–5 show the sweep a user
    ran last for its own sake, e.g. ``default_sweep``.
    """
    parents = _search(
        client, exp_id, f"{_tag(names.TAG_KIND)} = 'sweep'", ["attributes.start_time DESC"]
    )
    for parent in parents:
        if parent.data.tags.get(names.TAG_PRESET) in names.THEORY_PRESETS:
            continue
        kids = f"{train} AND {_tag(_PARENT_TAG)} = '{parent.info.run_id}'"
        if client.search_runs([exp_id], kids, max_results=1):
            return parent
    return None


def load_runs(
    tracking_uri: str,
    experiment: str = DEFAULT_EXPERIMENT,
    sweep: str | None = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """One row per training run of a sweep, with typed params, summary metrics and tags.

    Parameters
    ----------
    tracking_uri : str
        Any MLflow tracking URI (``sqlite:///…/mlflow.db``, ``http://…``).
    experiment : str
        Experiment name.
    sweep : str, optional
        A sweep id (tag ``gradlab.sweep_id``); ``None`` for the most recent
        parent run of the experiment that has training runs and is not one
        of ``names.THEORY_PRESETS``; ``'all'`` for every training run.
    filter : str, optional
        Extra MLflow filter, AND-ed, e.g. ``params.`model.activation` = 'sigmoid'``.

    Returns
    -------
    DataFrame
        Columns ``run_id``, ``run_name``, ``status`` (MLflow run status),
        ``start_time``, ``end_time``, ``parent_run_id``; the params under their
        dotted config keys (typed as in :data:`gradlab.report.plotting.PARAM_TYPES`);
        the summary metrics of :mod:`gradlab.names` (``diverged`` as bool,
        also True when the tag ``status`` says so); each tag of ``names`` as
        ``tags.<name>``.  ``attrs['sweep']`` holds a :class:`Sweep`.

    Raises
    ------
    ReportError
        The store, the experiment or the sweep has no runs.
    """
    client = _client(tracking_uri)
    exp_id = _experiment_id(client, experiment, tracking_uri)
    where, parent = _find_sweep(client, exp_id, sweep)
    if filter:
        where = f"{where} AND {filter}"
    found = _search(client, exp_id, where, order_by=["attributes.start_time ASC"])
    if not found:
        what = parent or f"experiment {experiment!r}"
        hint = "" if sweep is None else f" (try --sweep {SWEEP_ALL})"
        raise ReportError(
            f"no training runs in {what} at {redact(tracking_uri)}"
            f"{' matching ' + repr(filter) if filter else ''}{hint}; "
            "record a sweep first with `make run`"
        )
    every = runs_frame(found)
    runs = latest_per_point(every)
    days = sorted({t.strftime("%Y-%m-%d") for t in runs["start_time"].dropna()})
    date = days[0] if len(days) == 1 else (f"{days[0]} to {days[-1]}" if days else "unknown date")
    if parent is None:
        label = f"all {len(runs)} training runs of experiment `{experiment}`"
        if sweep is None:
            label += " (no training sweep parent run found)"
        sweep_id = SWEEP_ALL
    else:
        label, sweep_id = parent, str(runs[f"tags.{names.TAG_SWEEP_ID}"].iloc[0])
    runs.attrs["sweep"] = Sweep(sweep_id, label, date, superseded=len(every) - len(runs))
    return runs


def latest_per_point(runs: pd.DataFrame) -> pd.DataFrame:
    """The newest run of each sweep point (sweep id × config hash): a resumed sweep's
    retries supersede the failed attempts before them (as :mod:`gradlab.jobs.sweep` counts)."""
    config = runs[f"tags.{names.TAG_CONFIG_HASH}"]
    point = runs[f"tags.{names.TAG_SWEEP_ID}"] + "/" + config.where(config != "", runs["run_id"])
    newest = runs.assign(_point=point).sort_values("start_time", kind="stable")
    keep = newest.drop_duplicates("_point", keep="last").index
    return runs.loc[runs.index.isin(keep)].reset_index(drop=True)


def runs_frame(found: list) -> pd.DataFrame:
    """Training runs (MLflow ``Run`` objects) as the typed frame :func:`load_runs` returns."""
    rows = []
    for run in found:
        info, data = run.info, run.data
        row = {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "status": info.status,
            "start_time": pd.Timestamp(info.start_time, unit="ms", tz="UTC"),
            "end_time": (
                pd.Timestamp(info.end_time, unit="ms", tz="UTC") if info.end_time else pd.NaT
            ),
            "parent_run_id": data.tags.get(_PARENT_TAG, ""),
            **data.params,
        }
        row.update({m: data.metrics.get(m, np.nan) for m in _METRICS})
        row.update({f"tags.{t}": data.tags.get(t, "") for t in _TAGS})
        rows.append(row)
    runs = plotting.coerce_params(pd.DataFrame(rows))
    runs["diverged"] = runs["diverged"] | (
        runs[f"tags.{names.TAG_STATUS}"] == names.STATUS_DIVERGED
    )
    keys = [k for k in (ACTIVATION, INIT, DEPTH, SEED, "start_time") if k in runs]
    rank = {}
    if ACTIVATION in runs:
        rank[ACTIVATION] = {a: i for i, a in enumerate(plotting.activation_order(runs[ACTIVATION]))}
    return runs.sort_values(
        keys,
        key=lambda col: col.map(rank[col.name]) if col.name in rank else col,
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)


def load_history(client: MlflowClient, runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's ``history.csv`` artifact, concatenated with a ``run_id`` column.

    Runs without the artifact (failed early, still running) are left out; the
    caller finds them as the run_ids missing from the result.  Only CSV is
    read: nothing here unpickles.

    Returns
    -------
    DataFrame
        ``run_id`` plus ``names.HISTORY_COLUMNS`` (any extra columns kept).
    """
    return load_tables(client, runs["run_id"], names.ARTIFACT_HISTORY, names.HISTORY_COLUMNS)


def load_tables(client: MlflowClient, run_ids, artifact: str, columns) -> pd.DataFrame:
    """The CSV artifact ``artifact`` of every run that has it with ``columns``, plus ``run_id``."""
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run_id in enumerate(run_ids):
            dst = Path(tmp) / f"{i:05d}"  # our own names: run ids never become paths
            dst.mkdir()
            try:
                local = client.download_artifacts(run_id, artifact, str(dst))
                frame = pd.read_csv(local)
            except (MlflowException, OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
                continue
            if not set(columns) <= set(frame.columns):
                continue
            frames.append(frame.assign(run_id=run_id))
    if not frames:
        return pd.DataFrame(columns=["run_id", *columns])
    table = pd.concat(frames, ignore_index=True)
    return table[["run_id", *[c for c in table.columns if c != "run_id"]]]


# ---- the figures -------------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: a stable file name, a caption, what to draw and how."""

    name: str
    title: str
    caption: str
    select: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]  # (runs, history) -> runs
    draw: Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, object]]


def _with_history(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    chosen = runs[runs["run_id"].isin(history["run_id"])]
    if len(chosen) == 0:
        raise NoDataError(f"no run has its per-layer history ({names.ARTIFACT_HISTORY})")
    return chosen


def _natural(runs, history):
    return plotting.natural_init_runs(_with_history(runs, history))


def _deepest(runs, history):
    return plotting.deepest_runs(_with_history(runs, history))


def _speed_run(runs, history):
    chosen = _with_history(runs, history)
    return chosen[chosen["run_id"] == plotting.pick_deep_run(chosen)]


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "gradient_vs_layer",
        "Figure 1. Gradient magnitude against layer",
        "‖∇b^l‖ on a log axis against layer l, per activation (with its natural init), one "
        "line per depth, at initialisation and after training; dashed: the rigorous bound "
        "‖δ^L‖ Π sup|φ′| ‖W^k‖₂, dotted: the (1/4)^{L−l} sigmoid heuristic; ✕ = diverged.",
        _natural,
        plotting.plot_gradient_vs_layer,
    ),
    FigureSpec(
        "gradient_vs_layer_by_init",
        "Figure 1b. Gradient magnitude against layer, by initialisation",
        "As figure 1 at the largest depth of each activation, one line per initialisation.",
        _deepest,
        lambda runs, history: plotting.plot_gradient_vs_layer(runs, history, line_by=INIT),
    ),
    FigureSpec(
        "vanishing_vs_depth",
        "Figure 2. Vanishing factor against depth",
        "‖∇b^1‖/‖∇b^L‖ at initialisation against depth, one line per activation × init "
        "(median over seeds, band min–max), with the (1/4)^depth reference.",
        lambda runs, history: runs,
        lambda runs, history: plotting.plot_vanishing_vs_depth(runs),
    ),
    FigureSpec(
        "speed_of_learning",
        "Figure 3a. Speed of learning of each layer",
        "‖∇b^l‖ of every layer against the SGD step for one deep run (Nielsen, ch. 5): "
        "the layers next to the input learn slowest.",
        _speed_run,
        plotting.plot_speed_of_learning,
    ),
    FigureSpec(
        "gradient_heatmap",
        "Figure 3b. Gradient magnitude per layer and step",
        "log10 ‖∇b^l‖ over layer l × SGD step for the run of figure 3a.",
        _speed_run,
        plotting.plot_gradient_heatmap,
    ),
    FigureSpec(
        "saturation",
        "Figure 4. Saturated and dead units",
        "Share of units per layer whose batch-mean φ′ is below 0.1·sup|φ′| (saturated "
        "sigmoid/tanh, dead ReLU), at initialisation and after training, as in figure 1.",
        _natural,
        plotting.plot_saturation,
    ),
)
FIGURE_NAMES = tuple(f.name for f in FIGURES)
_SUFFIXES = (".png", ".svg", ".csv")


def redact(uri: str) -> str:
    """``uri`` without a user name or password, fit to print."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value, fmt: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if np.isnan(v) else format(v, fmt)


def _summary_table(runs: pd.DataFrame) -> str:
    """Figure 5: one markdown row per run."""
    setup = [k for k in (ACTIVATION, INIT, DEPTH, "model.width", "train.lr", SEED) if k in runs]
    head = ["run", *[plotting.short_key(k) for k in setup], "status", names.VANISH_RATIO]
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
        cells = [f"`{_md(r['run_name'])}`", *[_md(plotting.format_value(r[k])) for k in setup]]
        cells += [_md(r["status"]), _num(r.get(names.VANISH_RATIO), ".3e")]
        cells += [_num(r.get(names.DECAY_PER_LAYER), ".3g"), _num(r.get(names.TRAIN_LOSS), ".4g")]
        cells += [_num(r.get(names.TEST_ACCURACY), ".3f"), div]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _save(fig, data: pd.DataFrame, fig_dir: Path, name: str) -> list[Path]:
    paths = [fig_dir / f"{name}{suffix}" for suffix in _SUFFIXES]
    # lay out once, then freeze: each savefig would otherwise redo the constrained
    # layout (text extents of every tick label), the slowest step of the report
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    fig.savefig(paths[0], dpi=DPI)
    fig.savefig(paths[1], metadata={"Date": None})  # no timestamp: regenerating is diffable
    data.to_csv(paths[2], index=False)
    return paths


def make_report(
    tracking_uri: str,
    experiment: str = DEFAULT_EXPERIMENT,
    sweep: str | None = None,
    out_dir: str | Path = "reports",
    filter: str | None = None,
) -> list[Path]:
    """Regenerate every figure and ``index.md`` from the runs MLflow recorded.

    Figures the data do not allow (e.g. no run has its history table) are left
    out with the reason in ``index.md``; their old files are removed so that
    the folder never shows a figure of another sweep.

    Returns
    -------
    list of Path
        Every file written, all inside ``out_dir``.

    Figures 1–5 show the latest training sweep (``sweep``, ``filter``);
    figures 6–10 the latest sweep of each preset of ``names.THEORY_PRESETS``
    (:mod:`gradlab.report.theory_sections`).  Without training runs but with a theory
    preset, only the theory figures are drawn.

    Raises
    ------
    ReportError
        No store or experiment, or neither a training run nor a theory preset
        to report on (nothing is written).
    """
    from gradlab.report import theory_sections as theory_report  # it builds on this module

    client = _client(tracking_uri)
    theory = theory_report.load_theory(client, _experiment_id(client, experiment, tracking_uri))
    try:
        runs = load_runs(tracking_uri, experiment, sweep, filter)
    except ReportError as err:
        if not any(theory.values()):
            raise
        runs, history, head = None, None, _no_training_text(str(err), experiment, tracking_uri)
    else:
        history = load_history(client, runs)
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    written, sections = _training_sections(runs, history, fig_dir)
    more, theory_sections = theory_report.draw_sections(client, theory, fig_dir, _save, _SUFFIXES)
    if runs is not None:
        head = _index_text(runs, history, runs.attrs["sweep"], experiment, tracking_uri, sections)
    index = out / "index.md"
    index.write_text(head + _theory_text(theory_sections))
    return [*written, *more, index]


def _training_sections(runs, history, fig_dir: Path) -> tuple[list[Path], list[str]]:
    """Figures 1–4 of the training sweep; without one, none (and their old files removed)."""
    written: list[Path] = []
    sections = []
    if runs is None:
        for spec in FIGURES:
            for suffix in _SUFFIXES:
                (fig_dir / f"{spec.name}{suffix}").unlink(missing_ok=True)
        return written, sections
    sweep_info: Sweep = runs.attrs["sweep"]
    for spec in FIGURES:
        try:
            chosen = spec.select(runs, history)
            data, fig = spec.draw(chosen, history)
        except NoDataError as err:
            for suffix in _SUFFIXES:
                (fig_dir / f"{spec.name}{suffix}").unlink(missing_ok=True)
            sections.append(f"## {spec.title}\n\nNot drawn: {err}.\n")
            continue
        written += _save(fig, data, fig_dir, spec.name)
        sections.append(
            f"## {spec.title}\n\n![{spec.title}](figures/{spec.name}.png)\n\n"
            f"*{spec.caption}*  \n"
            f"*Runs: {sweep_info.label}; {len(chosen)} of {len(runs)} runs; {sweep_info.date}.* "
            f"[SVG](figures/{spec.name}.svg) · [data](figures/{spec.name}.csv)\n"
        )
    return written, sections


def _no_training_text(reason: str, experiment, tracking_uri) -> str:
    return (
        "# gradlab report\n\n"
        f"Experiment `{_md(experiment)}` at `{_md(redact(tracking_uri))}`.  \n"
        f"Figures 1–5 are not drawn: {_md(reason)}.\n"
    )


def _theory_text(sections: list[str]) -> str:
    return (
        "\n# Theory and classic results\n\n"
        "Figures 6–10 come from the latest sweep of each preset named below "
        f"({', '.join(f'`{p}`' for p in names.THEORY_PRESETS)}; "
        "in `conf/train/experiment/` and `conf/probe/experiment/`).\n\n" + "\n".join(sections)
    )


def _index_text(runs, history, sweep: Sweep, experiment, tracking_uri, sections) -> str:
    n = len(runs)
    notes = []
    missing = runs.loc[~runs["run_id"].isin(history["run_id"]), "run_name"].tolist()
    if missing:
        notes.append(
            f"- {len(missing)} run(s) have no `{names.ARTIFACT_HISTORY}` and appear only in "
            f"figure 2 and the table: {', '.join(f'`{_md(m)}`' for m in missing)}"
        )
    if sweep.superseded:
        notes.append(
            f"- {sweep.superseded} older attempt(s) of a config were superseded by a later "
            "run of the same config and are left out"
        )
    bad = runs[runs["status"] != "FINISHED"]
    if len(bad):
        states = ", ".join(
            f"`{_md(a)}` {b}" for a, b in zip(bad["run_name"], bad["status"], strict=True)
        )
        notes.append(f"- {len(bad)} run(s) did not finish: {states}")
    div = runs.loc[runs["diverged"], "run_name"].tolist()
    if div:
        notes.append(
            f"- {len(div)} run(s) diverged (marked ✕ in the figures): "
            + ", ".join(f"`{_md(d)}`" for d in div)
        )
    sweep_arg = "" if sweep.sweep_id == SWEEP_ALL else f" --sweep {sweep.sweep_id}"
    head = (
        "# gradlab report\n\n"
        f"Runs: {sweep.label}, {n} training run{'s' if n != 1 else ''} of experiment "
        f"`{_md(experiment)}` at `{_md(redact(tracking_uri))}`, {sweep.date}.  \n"
        f"Regenerate with `make report` (latest sweep) or "
        f"`python reports/make_report.py{_md(sweep_arg)}`.\n"
    )
    if notes:
        head += "\n" + "\n".join(notes) + "\n"
    table = (
        "## Figure 5. Sweep summary\n\n"
        "One row per training run: set-up, ‖∇b^1‖/‖∇b^L‖ and the geometric-mean layer-to-layer "
        "ratio at initialisation, final train loss and test accuracy, divergence.  \n"
        f"*Runs: {sweep.label}; {n} runs; {sweep.date}.*\n\n" + _summary_table(runs) + "\n"
    )
    return head + "\n" + "\n".join(sections) + "\n" + table
