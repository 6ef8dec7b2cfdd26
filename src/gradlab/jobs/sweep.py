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
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gradlab import names
from gradlab.track import client as tracking
from gradlab.track.read import children, latest_per_point, tally
from gradlab.track.record import SweepContext

log = logging.getLogger(__name__)

SWEEP_FILE = "mlflow_sweep.json"

#: Parent runs of sweeps in progress in this (launching) process, so that an
#: interrupted sweep can mark its parent KILLED (see :func:`mark_interrupted`).
_ACTIVE: dict[str, Any] = {}


def mark_interrupted() -> None:
    """Mark every sweep this process started and has not finished as KILLED."""
    while _ACTIVE:
        parent_id, client = _ACTIVE.popitem()
        tracking.with_retry(client.set_terminated, parent_id, "KILLED")


def project_root(hydra_cfg) -> Path:
    """The folder that holds ``conf/``: the primary config directory is conf/<entry>/."""
    for source in hydra_cfg.runtime.config_sources:
        if source.provider == "main" and source.schema == "file":
            return Path(source.path).resolve().parents[1]
    return Path.cwd()


def _sweep_overrides(config: DictConfig) -> list[str]:
    task = list(config.hydra.overrides.task)
    params = config.hydra.sweeper.get("params") or {}
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


class MlflowSweepCallback(Callback):
    """Hydra callback: create the parent run before jobs start, report at the end."""

    def __init__(self) -> None:
        self._state: dict[str, Any] | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        root = project_root(config.hydra)
        uri = tracking.resolve_tracking_uri(config.mlflow.get("tracking_uri"), root)
        client = tracking.client_for(uri)  # creates a fresh store once, here
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
        _ACTIVE[parent_id] = client
        print(
            f"[gradlab] sweep {sweep_id}: {total} jobs → MLflow parent run {parent_id} at {uri}",
            flush=True,
        )

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        found = read_sweep_context(HydraConfig.get())
        if found is None:
            return
        ctx, info = found
        client = tracking.client_for(info["tracking_uri"])
        c = tally(children(client, info["experiment_id"], ctx.parent_run_id))
        done = c["finished"] + c["diverged"] + c["failed"] + c["killed"]
        print(
            f"[gradlab] sweep {ctx.sweep_id}: {done}/{info['jobs']} jobs recorded "
            f"({c['diverged']} diverged, {c['failed']} failed)",
            flush=True,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._state is None:
            return
        state, self._state = self._state, None
        client = state["client"]
        _ACTIVE.pop(state["parent_run_id"], None)
        runs = children(client, state["experiment_id"], state["parent_run_id"])
        c = tally(runs)
        tracking.with_retry(client.set_terminated, state["parent_run_id"], "FINISHED")
        print(
            f"[gradlab] sweep {state['sweep_id']} done: {c['finished']} finished, "
            f"{c['diverged']} diverged, {c['failed']} failed, {c['killed']} killed "
            f"(parent run {state['parent_run_id']})",
            flush=True,
        )
        failed = [r for r in latest_per_point(runs) if r.info.status == "FAILED"]
        for r in failed:
            print(
                f"[gradlab] failed: {r.info.run_name}: {r.data.tags.get(names.TAG_ERROR, '?')}",
                file=sys.stderr,
            )
        if failed:
            raise SystemExit(1)
