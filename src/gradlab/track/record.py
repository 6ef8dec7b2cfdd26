"""Recording one job as an MLflow run: skip if done, create, tag, end in the right state.

:func:`record_run` is shared by every kind of job (training, probe); the job
passes a ``body`` that computes and logs its results.  The run ends FINISHED
when the body returns (also when training diverged, which is data), KILLED on
KeyboardInterrupt (Ctrl-C, SIGTERM), FAILED with the error as a tag otherwise;
if the store stopped answering, the run is left as the store last saw it and
the job raises :class:`~gradlab.track.client.StoreUnreachable`.
A sweep point whose config was rejected is recorded by :func:`record_failed_job`
as a FAILED run that is never RUNNING.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gradlab import names
from gradlab.track import client as tracking
from gradlab.track.params import config_hash, flatten
from gradlab.version import __version__

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepContext:
    """The multirun a job belongs to (None for a single run)."""

    parent_run_id: str
    sweep_id: str


def git_commit(root: Path) -> str | None:
    """The checkout's HEAD commit, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def find_finished(client, experiment_id: str, chash: str, sweep_id: str | None = None):
    """The newest FINISHED run with config hash ``chash`` (in sweep ``sweep_id``), or None.

    Within a sweep only that sweep's own runs count, so a point two sweeps share
    is still recorded under each of them and every sweep stays complete.  Only
    FINISHED runs count: a resumed sweep re-runs its KILLED and FAILED points.
    """
    query = f"tags.`{names.TAG_CONFIG_HASH}` = '{chash}' and attributes.status = 'FINISHED'"
    if sweep_id is not None:
        query += f" and tags.`{names.TAG_SWEEP_ID}` = '{sweep_id}'"
    runs = tracking.with_retry(
        client.search_runs,
        [experiment_id],
        filter_string=query,
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _store(cfg: Mapping, root: Path) -> tuple[object, str, str]:
    """The client, experiment id and URI of the store ``cfg['mlflow']`` names.

    Raises :class:`~gradlab.track.client.StoreUnreachable` within seconds if the
    store does not answer, before anything is computed or written.
    """
    mlflow_cfg = cfg.get("mlflow", {})
    uri = tracking.resolve_tracking_uri(mlflow_cfg.get("tracking_uri"), root)
    tracking.check_reachable(uri)
    client = tracking.client_for(uri)
    name = str(mlflow_cfg.get("experiment_name") or tracking.DEFAULT_EXPERIMENT)
    return client, tracking.ensure_experiment(client, name, uri), uri


def _end_run(
    client, uri: str, run_id: str, status: str, err: BaseException | None = None
) -> tracking.StoreUnreachable | None:
    """Mark a run that stopped early ``status`` (with ``err`` as tag), if the store answers.

    Returns the :class:`~gradlab.track.client.StoreUnreachable` error instead of
    writing when the store is gone, so the caller neither waits out MLflow's
    retries nor reports a state that was never recorded.
    """
    try:
        tracking.check_reachable(uri)
    except tracking.StoreUnreachable as gone:
        log.error("run %s could not be marked %s: %s", run_id, status, gone)
        return gone
    if err is not None:
        tracking.with_retry(client.set_tag, run_id, names.TAG_ERROR, one_line(err))
    tracking.with_retry(client.set_terminated, run_id, status)
    log.warning("run %s marked %s", run_id, status)
    return None


def _tags(kind: str, chash: str, sweep: SweepContext | None, **extra: str) -> dict[str, str]:
    tags = {names.TAG_KIND: kind, names.TAG_CONFIG_HASH: chash, names.TAG_VERSION: __version__}
    if sweep is not None:
        tags["mlflow.parentRunId"] = sweep.parent_run_id
        tags[names.TAG_SWEEP_ID] = sweep.sweep_id
    return {**tags, **extra}


def record_run(
    cfg: Mapping,
    root: Path,
    sweep: SweepContext | None,
    *,
    kind: str,
    run_name: str,
    body: Callable[[object, str], dict],
) -> dict:
    """Record one validated job as an MLflow run; ``body`` computes and logs its results.

    Skips the job if a FINISHED run with the same config hash exists (unless
    ``force``); else creates the run (tags ``gradlab.kind`` = ``kind``, config
    hash, version, commit, sweep parent), logs the flattened config as params
    and calls ``body(client, run_id)``.

    Returns
    -------
    dict
        ``run_id``, ``status`` and what ``body`` returned (the summary
        metrics); for a skipped job, that run's metrics.
    """
    client, experiment_id, uri = _store(cfg, root)
    chash = config_hash(cfg)
    if not cfg.get("force", False):
        done = find_finished(
            client, experiment_id, chash, sweep.sweep_id if sweep is not None else None
        )
        if done is not None:
            log.info("skipping %s: FINISHED as run %s", run_name, done.info.run_id)
            return {"run_id": done.info.run_id, "status": "SKIPPED", **done.data.metrics}

    commit = git_commit(root)
    tags = _tags(kind, chash, sweep, **({names.TAG_GIT_COMMIT: commit} if commit else {}))
    mlrun = tracking.with_retry(client.create_run, experiment_id, run_name=run_name, tags=tags)
    run_id = mlrun.info.run_id
    try:
        tracking.log_params(client, run_id, flatten(cfg))
        summary = body(client, run_id)
    except KeyboardInterrupt:
        _end_run(client, uri, run_id, "KILLED")
        raise
    except Exception as err:
        gone = _end_run(client, uri, run_id, "FAILED", err)
        if gone is not None:
            raise gone from err
        raise
    tracking.with_retry(client.set_terminated, run_id, "FINISHED")
    return {"run_id": run_id, "status": "FINISHED", **summary}


def record_failed_job(
    cfg: Mapping, root: Path, sweep: SweepContext, err: BaseException, kind: str, name: str
) -> str:
    """Record a sweep point whose config was rejected as a FAILED run (never RUNNING).

    ``kind`` is the run's ``gradlab.kind`` tag and ``name`` its run name.
    """
    client, experiment_id, _ = _store(cfg, root)
    tags = _tags(kind, config_hash(cfg), sweep, **{names.TAG_ERROR: one_line(err)})
    mlrun = tracking.with_retry(client.create_run, experiment_id, run_name=name, tags=tags)
    run_id = mlrun.info.run_id
    try:
        tracking.log_params(client, run_id, flatten(cfg))
    finally:
        tracking.with_retry(client.set_terminated, run_id, "FAILED")
    return run_id


def one_line(err: BaseException) -> str:
    """``Type: message``, first line only, at most 500 characters (an MLflow tag)."""
    return f"{type(err).__name__}: {err}".splitlines()[0][:500]
