"""Hydra multirun ↔ MLflow: one parent run per sweep, its jobs nested under it.

The callback runs in the launching process.  Before any job starts it creates
the store, the experiment and the parent run (so jobs on a fresh store never
race to create them), and writes ``mlflow_sweep.json`` into Hydra's sweep
directory; every job, in whatever process or machine the launcher puts it,
reads that file to find its parent.  At the end it counts the children by
status, reports them, marks the parent, and exits non-zero if any job failed.

A sweep is identified by its overrides: running the same command again
reuses the same parent run, and :func:`gradlab.jobs.train.run` skips points
that already FINISHED, so only the missing or failed ones run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gradlab import names
from gradlab.jobs.launcher_log import one_sacct_warning
from gradlab.track import client as tracking
from gradlab.track.read import children, latest_per_point, tally
from gradlab.track.record import SweepContext

log = logging.getLogger(__name__)

SWEEP_FILE = "mlflow_sweep.json"
#: Each job's outcome as the job saw it, in its Hydra output folder: what the sweep
#: summary counts when the store cannot tell (a job that could not record its run).
JOB_FILE = "gradlab_job.json"
#: Status a sweep job returns when the store stopped answering before its run was recorded.
UNRECORDED = "UNRECORDED"

#: Parent runs of sweeps in progress in this (launching) process, so that an
#: interrupted sweep can mark its parent KILLED (see :func:`mark_interrupted`).
_ACTIVE: dict[str, Any] = {}


def mark_interrupted() -> str:
    """Mark every sweep this process started and has not finished as KILLED.

    Returns what was written, for the user ("" if no sweep was in progress): a
    parent run whose store no longer answers is named as not marked.
    """
    said = []
    while _ACTIVE:
        parent_id, (client, uri) = _ACTIVE.popitem()
        try:
            tracking.check_reachable(uri)
        except tracking.StoreUnreachable as err:
            said.append(f"sweep run {parent_id} could not be marked KILLED ({err})")
            continue
        tracking.with_retry(client.set_terminated, parent_id, "KILLED")
        said.append(f"sweep run {parent_id} marked KILLED")
    return "; ".join(said)


def project_root(hydra_cfg) -> Path:
    """The folder that holds ``conf/``: the primary config directory is conf/<entry>/."""
    for source in hydra_cfg.runtime.config_sources:
        if source.provider == "main" and source.schema == "file":
            return Path(source.path).resolve().parents[1]
    return Path.cwd()


def _sweep_overrides(config: DictConfig) -> list[str]:
    """The sweep as Hydra's basic sweeper runs it: the preset's ``hydra.sweeper.params``,
    each replaced by a command-line override of the same key, plus the other overrides."""
    params = {str(k): str(v) for k, v in (config.hydra.sweeper.get("params") or {}).items()}
    task = []
    for o in config.hydra.overrides.task:
        key, _, value = str(o).partition("=")
        if key in params:
            params[key] = value
        else:
            task.append(str(o))
    return sorted(task + [f"{k}={v}" for k, v in params.items()])


def preset_of(config: DictConfig) -> str | None:
    """The ``+experiment=NAME`` preset of this launch, if any."""
    choice = config.hydra.runtime.choices.get("experiment")
    return str(choice) if choice else None


def count_jobs(overrides: list[str]) -> int:
    """How many jobs the basic sweeper makes of these overrides (product of lists)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    total = 1
    for o in OverridesParser.create().parse_overrides(overrides):
        if o.is_sweep_override():
            total *= len(list(o.sweep_string_iterator()))
    return total


def sweep_id_of(config: DictConfig) -> str:
    """Stable id of a sweep: a hash of its overrides and its non-swept config."""
    base = OmegaConf.to_container(config, resolve=False)
    base.pop("hydra", None)
    blob = json.dumps({"overrides": _sweep_overrides(config), "base": base}, sort_keys=True,
                      default=str)  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def read_sweep_context(hydra_cfg) -> tuple[SweepContext, dict[str, Any]] | None:
    """The parent run of the current multirun job, from the sweep directory."""
    path = Path(hydra_cfg.sweep.dir) / SWEEP_FILE
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    return SweepContext(info["parent_run_id"], info["sweep_id"]), info


def job_outcome(job_return: Any) -> dict[str, Any]:
    """``status`` and ``error`` of a finished Hydra job, from what the job returned."""
    from hydra.core.utils import JobStatus

    if job_return.status == JobStatus.COMPLETED and isinstance(job_return.return_value, dict):
        value = job_return.return_value
        return {"status": value.get("status", "FINISHED"), "error": value.get("error")}
    return {"status": "FAILED", "error": str(getattr(job_return, "_return_value", ""))[:500]}


def launch_outcomes(sweep_dir: Path) -> list[dict[str, Any]]:
    """The outcomes the jobs of this launch wrote into ``sweep_dir`` (see :data:`JOB_FILE`)."""
    return [json.loads(p.read_text()) for p in sorted(sweep_dir.rglob(JOB_FILE))]


class MlflowSweepCallback(Callback):
    """Hydra callback: create the parent run before jobs start, report at the end."""

    def __init__(self) -> None:
        self._state: dict[str, Any] | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        root = project_root(config.hydra)
        uri = tracking.resolve_tracking_uri(config.mlflow.get("tracking_uri"), root)
        try:
            tracking.check_reachable(uri)
        except tracking.StoreUnreachable as err:
            print(f"gradlab: error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        client = tracking.client_for(uri)  # creates a fresh store once, here
        if "submitit" in str(config.hydra.launcher.get("_target_", "")):
            one_sacct_warning()
        experiment_id = tracking.ensure_experiment(client, config.mlflow.experiment_name, uri)
        sweep_id = sweep_id_of(config)
        found = tracking.with_retry(
            client.search_runs,
            [experiment_id],
            filter_string=(
                f"tags.`{names.TAG_SWEEP_ID}` = '{sweep_id}' and tags.`{names.TAG_KIND}` = 'sweep'"
            ),
            max_results=1,
        )
        overrides = _sweep_overrides(config)
        total = count_jobs(overrides)
        if found:
            parent_id = found[0].info.run_id
            tracking.with_retry(client.update_run, parent_id, status="RUNNING")
            log.info("sweep %s: resuming parent run %s", sweep_id, parent_id)
        else:
            preset = preset_of(config)
            tags = {names.TAG_KIND: "sweep", names.TAG_SWEEP_ID: sweep_id}
            if preset:
                tags[names.TAG_PRESET] = preset
            parent = tracking.with_retry(
                client.create_run,
                experiment_id,
                run_name=f"sweep-{preset or 'custom'}-{sweep_id}",
                tags=tags,
            )
            parent_id = parent.info.run_id
            tracking.log_params(
                client, parent_id, {"sweep.overrides": " ".join(overrides), "sweep.jobs": total}
            )
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        info = {
            "parent_run_id": parent_id,
            "sweep_id": sweep_id,
            "tracking_uri": uri,
            "experiment_id": experiment_id,
            "jobs": total,
        }
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(info, indent=2))
        self._state = {**info, "client": client}
        _ACTIVE[parent_id] = (client, uri)
        print(
            f"[gradlab] sweep {sweep_id}: {total} jobs → MLflow parent run {parent_id} at {uri}",
            flush=True,
        )

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        found = read_sweep_context(hydra_cfg)
        if found is None:
            return
        ctx, info = found
        outcome = job_outcome(job_return)
        out_dir = Path(hydra_cfg.runtime.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / JOB_FILE).write_text(json.dumps(outcome))
        try:
            tracking.check_reachable(info["tracking_uri"])
        except tracking.StoreUnreachable as err:
            print(f"[gradlab] sweep {ctx.sweep_id}: job {outcome['status']}; {err}", flush=True)
            return
        client = tracking.client_for(info["tracking_uri"])
        c = tally(children(client, info["experiment_id"], ctx.parent_run_id))
        done = c["finished"] + c["diverged"] + c["failed"] + c["killed"]
        print(
            f"[gradlab] sweep {ctx.sweep_id}: {done}/{info['jobs']} jobs recorded "
            f"({c['diverged']} diverged, {c['failed']} failed, {c['killed']} killed)",
            flush=True,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._state is None:
            return
        state, self._state = self._state, None
        client, parent_id, sweep_id = state["client"], state["parent_run_id"], state["sweep_id"]
        _ACTIVE.pop(parent_id, None)
        outcomes = launch_outcomes(Path(config.hydra.sweep.dir))
        try:
            tracking.check_reachable(state["tracking_uri"])
        except tracking.StoreUnreachable as err:
            counts = Counter(o["status"] for o in outcomes)
            said = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
            print(
                f"[gradlab] sweep {sweep_id} ended without its store: {err}. Jobs of this "
                f"launch: {said} ({UNRECORDED}: not recorded). Parent run {parent_id} was "
                "not marked. Run the same command again once the store answers: it runs "
                "only the points that did not finish.",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1) from None
        runs = children(client, state["experiment_id"], parent_id)
        c = tally(runs)
        latest = latest_per_point(runs)
        # a job is not recorded if it said so (UNRECORDED) or left no outcome at all; a job
        # that skipped a point already FINISHED, also by a twin point of this launch
        # (+remedy=selu replaces the swept activation), is recorded
        unrecorded = sum(o["status"] == UNRECORDED for o in outcomes)
        missing = unrecorded + max(0, state["jobs"] - len(outcomes))
        tracking.with_retry(client.set_terminated, parent_id, "FINISHED")
        print(
            f"[gradlab] sweep {sweep_id} done: {c['finished']} finished, "
            f"{c['diverged']} diverged, {c['failed']} failed, {c['killed']} killed, "
            f"{missing} not recorded (parent run {parent_id})",
            flush=True,
        )
        stopped = [r for r in latest if r.info.status in ("FAILED", "KILLED")]
        for r in stopped:
            reason = r.data.tags.get(names.TAG_ERROR, "stopped by a signal")
            print(
                f"[gradlab] {r.info.status.lower()}: {r.info.run_name}: {reason}", file=sys.stderr
            )
        for o in outcomes:
            if o["status"] == UNRECORDED:
                print(f"[gradlab] not recorded: {o['error']}", file=sys.stderr)
        if stopped or missing:
            raise SystemExit(1)
