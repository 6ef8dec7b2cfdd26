"""The runs of figures 1–5: which training sweep the report covers, read into frames.

:func:`load_runs` finds the sweep (the latest training sweep outside the theory
presets unless told otherwise) and returns one typed row per point;
:func:`load_history` adds each run's ``history.csv``.  The store readers
themselves are :mod:`gradlab.track.read`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from gradlab import names
from gradlab.report.frames import sort_runs
from gradlab.track import read
from gradlab.track.client import redact, sqlite_path

DEFAULT_EXPERIMENT = "gradlab"
SWEEP_ALL = "all"  # --sweep all: every training run of the experiment
#: A sweep id goes into an MLflow filter string between single quotes.
_SWEEP_ID = re.compile(r"[^'\"\\\x00-\x1f]{1,200}")


class ReportError(Exception):
    """Nothing to report, with a one-line reason a person can act on."""


@dataclass(frozen=True)
class Sweep:
    """Which runs a report covers, in words for the captions."""

    sweep_id: str  # the tag value, or "all"
    label: str  # e.g. "sweep `3f2a…` (parent run `sweep-…`, started 2026-11-28 01:02 UTC)"
    date: str  # day(s) the runs started
    superseded: int = 0  # older attempts of a config that a later run replaced


def open_store(tracking_uri: str):
    """A client for ``tracking_uri``; refuses to create a missing SQLite file."""
    from mlflow import MlflowClient

    path = sqlite_path(tracking_uri)
    if path is not None and not path.is_file():
        raise ReportError(f"no MLflow store at {path}; run `make run` first to record a sweep")
    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(client, experiment: str, tracking_uri: str) -> str:
    """The id of ``experiment``; ReportError naming the experiments there if it is missing."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        known = [e.name for e in client.search_experiments(max_results=50)]
        raise ReportError(
            f"no experiment named {experiment!r} at {redact(tracking_uri)}; "
            f"experiments there: {', '.join(known) or 'none'}"
        )
    return exp.experiment_id


def _check_sweep_id(sweep: str) -> str:
    if not isinstance(sweep, str) or not _SWEEP_ID.fullmatch(sweep):
        raise ValueError(
            f"sweep={sweep!r} is not allowed; it must be a sweep id without quotes, "
            "backslashes or control characters"
        )
    return sweep


def _find_sweep(client, exp_id: str, sweep: str | None) -> tuple[str, str | None]:
    """(filter on training runs, description of the parent) for ``sweep``."""
    train = f"{read.tag(names.TAG_KIND)} = 'train'"
    if sweep == SWEEP_ALL:
        return train, None
    if sweep is None:
        parent = _latest_training_sweep(client, exp_id, train)
        if parent is None:
            return train, None  # no such parent run: report every training run
        sweep = parent.data.tags.get(names.TAG_SWEEP_ID, "")
        _check_sweep_id(sweep)
        where = f"parent run `{parent.info.run_name}`, started {read.stamp(parent.info.start_time)}"
        selected = f"{train} AND {read.tag(names.TAG_SWEEP_ID)} = '{sweep}'"
        return selected, f"sweep `{sweep}` ({where})"
    _check_sweep_id(sweep)
    return f"{train} AND {read.tag(names.TAG_SWEEP_ID)} = '{sweep}'", f"sweep `{sweep}`"


def _latest_training_sweep(client, exp_id: str, train: str):
    """The newest sweep parent with training runs, other than the theory presets.

    The presets of ``names.THEORY_PRESETS`` (and probe sweeps) have their own
    figures (:mod:`gradlab.report.presets`); figures 1–5 show the sweep a user
    ran last for its own sake, e.g. ``default_sweep``.
    """
    parents = read.search(
        client, exp_id, f"{read.tag(names.TAG_KIND)} = 'sweep'", ["attributes.start_time DESC"]
    )
    for parent in parents:
        if parent.data.tags.get(names.TAG_PRESET) in names.THEORY_PRESETS:
            continue
        kids = f"{train} AND {read.tag(read.PARENT_TAG)} = '{parent.info.run_id}'"
        kid = client.search_runs([exp_id], kids, max_results=1)
        if kid and kid[0].data.params.get(names.MODEL_KIND) not in names.RECURRENT_KINDS:
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
        The newest run of each sweep point (:func:`gradlab.track.read.latest_per_point`)
        as :func:`gradlab.track.read.runs_frame` types it, in the order of
        :func:`gradlab.report.frames.sort_runs`.  ``attrs['sweep']`` holds a :class:`Sweep`.

    Raises
    ------
    ReportError
        The store, the experiment or the sweep has no runs.
    """
    client = open_store(tracking_uri)
    exp_id = experiment_id(client, experiment, tracking_uri)
    where, parent = _find_sweep(client, exp_id, sweep)
    if filter:
        where = f"{where} AND {filter}"
    found = read.search(client, exp_id, where, order_by=["attributes.start_time ASC"])
    if not found:
        what = parent or f"experiment {experiment!r}"
        hint = "" if sweep is None else f" (try --sweep {SWEEP_ALL})"
        raise ReportError(
            f"no training runs in {what} at {redact(tracking_uri)}"
            f"{' matching ' + repr(filter) if filter else ''}{hint}; "
            "record a sweep first with `make run`"
        )
    # recurrent runs (model=rnn | lstm) have per-time-step tables and figures of their own
    found = [r for r in found if r.data.params.get(names.MODEL_KIND) not in names.RECURRENT_KINDS]
    if not found:
        raise ReportError(
            f"{parent or 'the selected runs'} holds only recurrent runs (model=rnn | lstm); "
            "figures 1-5 draw MLP runs, the recurrent presets have figures of their own"
        )
    runs = sort_runs(read.runs_frame(read.latest_per_point(found)))
    days = sorted({t.strftime("%Y-%m-%d") for t in runs["start_time"].dropna()})
    date = days[0] if len(days) == 1 else (f"{days[0]} to {days[-1]}" if days else "unknown date")
    if parent is None:
        label = f"all {len(runs)} training runs of experiment `{experiment}`"
        if sweep is None:
            label += " (no training sweep parent run found)"
        sweep_id = SWEEP_ALL
    else:
        label, sweep_id = parent, str(runs[f"tags.{names.TAG_SWEEP_ID}"].iloc[0])
    runs.attrs["sweep"] = Sweep(sweep_id, label, date, superseded=len(found) - len(runs))
    return runs


def load_history(client, runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's ``history.csv`` artifact, concatenated with a ``run_id`` column.

    Runs without the artifact (failed early, still running) are left out; the
    caller finds them as the run_ids missing from the result.

    Returns
    -------
    DataFrame
        ``run_id`` plus ``names.HISTORY_COLUMNS`` (any extra columns kept).
    """
    return read.history_tables(client, runs["run_id"])
