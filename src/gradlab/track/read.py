"""Reading runs back from MLflow: searches, the latest run per point, typed frames, artifacts.

The sweep callback (:mod:`gradlab.jobs.sweep`) counts a sweep's children with
these functions and the report (:mod:`gradlab.report`) draws from them, so both
agree on which run of a resumed sweep counts.  The store layout read here is
the one :mod:`gradlab.names` defines; only CSV artifacts are read, nothing is
unpickled.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.track.client import with_retry

PAGE = 1000  # runs per search_runs page (MLflow's maximum for the SQL store)
PARENT_TAG = "mlflow.parentRunId"
#: The tags of a training run that the report shows or selects on.
TRAIN_TAGS = (
    names.TAG_SWEEP_ID,
    names.TAG_KIND,
    names.TAG_STATUS,
    names.TAG_CONFIG_HASH,
    names.TAG_VERSION,
    names.TAG_GIT_COMMIT,
    names.TAG_ERROR,
)
TRAIN_METRICS = (
    *names.SUMMARY_METRICS,
    *names.CLIP_METRICS,
    names.DIVERGED_STEP,
    names.DIVERGED_LAYER,
)
#: Typed params of training and probe runs; every other param stays a string.
PARAM_TYPES: dict[str, type] = {
    "model.depth": int,
    "model.width": int,
    "model.gain": float,
    "model.bias_std": float,
    "model.residual_scale": float,
    "train.lr": float,
    "train.momentum": float,
    "train.clip_norm": float,
    "train.batch_size": int,
    "train.epochs": int,
    "train.weight_decay": float,
    "train.log_every": int,
    "probe.depth": int,
    "probe.width": int,
    "probe.sigma_b2": float,
    "probe.members": int,
    "probe.batch": int,
    "probe.nielsen_w": float,
    "seed": int,
}


def tag(key: str) -> str:
    """A tag in MLflow's filter syntax (backticks allow the dots in our tag names)."""
    return f"tags.`{key}`"


def stamp(ms) -> str:
    """A run time in ms since the epoch as ``2026-11-28 01:02 UTC``."""
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def search(client, experiment_id: str, filter_string: str, order_by=None) -> list:
    """Every active run matching ``filter_string``, following search_runs' pages."""
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = with_retry(
            client.search_runs,
            [experiment_id],
            filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=PAGE,
            order_by=order_by,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def children(client, experiment_id: str, parent_run_id: str) -> list:
    """Every run nested under ``parent_run_id`` (all pages)."""
    return search(client, experiment_id, f"{tag(PARENT_TAG)} = '{parent_run_id}'")


def latest_per_point(runs: Iterable) -> list:
    """The newest run of each sweep point, in the order the points were first seen.

    A point is (sweep id, config hash); a run without a config hash is its own
    point.  A resumed sweep's retries thus supersede the failed or killed
    attempts before them.  Of two attempts that started in the same
    millisecond the later one in ``runs`` wins.
    """
    newest: dict[tuple[str, str], object] = {}
    for r in runs:
        tags = r.data.tags
        key = (tags.get(names.TAG_SWEEP_ID, ""), tags.get(names.TAG_CONFIG_HASH) or r.info.run_id)
        if key not in newest or r.info.start_time >= newest[key].info.start_time:
            newest[key] = r
    return list(newest.values())


def tally(runs: Iterable) -> dict[str, int]:
    """Counts of the latest run per point: finished (ok), diverged, failed, killed, running."""
    counts = {"finished": 0, "diverged": 0, "failed": 0, "killed": 0, "running": 0}
    for r in latest_per_point(runs):
        status = r.info.status
        if status == "FINISHED":
            diverged = r.data.tags.get(names.TAG_STATUS) == names.STATUS_DIVERGED
            key = "diverged" if diverged else "finished"
        else:
            key = {"FAILED": "failed", "KILLED": "killed"}.get(status, "running")
        counts[key] += 1
    return counts


def coerce_params(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert the string params of :data:`PARAM_TYPES` to numbers (copy).

    Integers become pandas' nullable ``Int64``; a value that does not parse
    (``'None'``) becomes missing rather than raising.  A ``diverged`` column
    (the metric, 0.0/1.0 or missing) becomes bool.
    """
    out = frame.copy()
    for key, typ in PARAM_TYPES.items():
        if key not in out:
            continue
        num = pd.to_numeric(out[key], errors="coerce")
        if typ is int:
            num = num.where(num == num.round()).astype("Int64")
        out[key] = num
    if names.DIVERGED in out:
        diverged = pd.to_numeric(out[names.DIVERGED], errors="coerce").fillna(0)
        out[names.DIVERGED] = diverged.astype(float) > 0
    return out


def runs_frame(found: Iterable, metrics=TRAIN_METRICS, tags=TRAIN_TAGS) -> pd.DataFrame:
    """MLflow ``Run`` objects as one typed row each, in the order given.

    Columns ``run_id``, ``run_name``, ``status`` (MLflow run status),
    ``start_time``, ``end_time``, ``parent_run_id``; the params under their
    dotted config keys, typed by :func:`coerce_params`; ``metrics`` (NaN where
    a run lacks one); each of ``tags`` as ``tags.<name>`` ('' where missing).
    With the ``diverged`` metric, ``diverged`` is also True when the tag
    ``status`` says so.
    """
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
            "parent_run_id": data.tags.get(PARENT_TAG, ""),
            **data.params,
        }
        row.update({m: data.metrics.get(m, np.nan) for m in metrics})
        row.update({f"tags.{t}": data.tags.get(t, "") for t in tags})
        rows.append(row)
    runs = coerce_params(pd.DataFrame(rows, columns=None if rows else ["run_id"]))
    status = f"tags.{names.TAG_STATUS}"
    if names.DIVERGED in runs and status in runs:
        runs[names.DIVERGED] = runs[names.DIVERGED] | (runs[status] == names.STATUS_DIVERGED)
    return runs


def artifact_tables(client, run_ids, artifact: str, columns) -> pd.DataFrame:
    """The CSV artifact ``artifact`` of every run that has it with ``columns``, plus ``run_id``.

    Runs without the artifact (failed early, still running) or whose table
    lacks a column are left out; the caller finds them as the run ids missing
    from the result.
    """
    from mlflow.exceptions import MlflowException

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


def history_tables(client, run_ids) -> pd.DataFrame:
    """Every run's ``history.csv``: ``run_id`` plus ``names.HISTORY_COLUMNS`` (extras kept)."""
    return artifact_tables(client, run_ids, names.ARTIFACT_HISTORY, names.HISTORY_COLUMNS)
