"""One training job, end to end: validate, train, record in MLflow.

:func:`run` is what ``experiments/train.py`` calls with the composed Hydra
config; it is importable and testable without Hydra.  Order matters:

1. validate every key (``ValueError`` before anything is written);
2. skip the job if a FINISHED run with the same config hash exists (resume);
3. create the MLflow run, log params and tags, stream metrics while training;
4. write the history table, config and figure; end the run FINISHED (also when
   training diverged, which is data), KILLED on Ctrl-C/SIGTERM, FAILED on error.

Steps 2–4 without the training itself are :func:`record_run`, which the probe
job (:mod:`gradlab.probe_run`) shares.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits

from gradlab import __version__, names, tracking
from gradlab.config import config_hash, flatten
from gradlab.errors import ConfigError
from gradlab.training import Measurement, prepare, train

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


#: Set by a SIGINT/SIGTERM; checked at every logged step. A signal handler that
#: raises can land inside a finaliser (e.g. SQLAlchemy's weakref callbacks), where
#: Python prints the KeyboardInterrupt and drops it; the flag makes sure it is seen.
_INTERRUPTED = threading.Event()


def interrupt_handler(signum, frame) -> None:
    """Signal handler: remember the interrupt, then raise it like Ctrl-C does."""
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived that was swallowed on its way."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt():
    """Turn SIGINT and SIGTERM (scancel, kill) into KeyboardInterrupt for the job."""
    _INTERRUPTED.clear()  # a new job starts uninterrupted
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, interrupt_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def find_finished(client, experiment_id: str, chash: str, sweep_id: str | None = None):
    """The newest FINISHED run with config hash ``chash`` (in sweep ``sweep_id``), or None.

    Within a sweep only that sweep's own runs count, so a point two sweeps share
    is still recorded under each of them and every sweep stays complete.
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


def run(
    cfg: Mapping,
    root: Path,
    sweep: SweepContext | None = None,
    blas_threads: int | None = None,
) -> dict:
    """Train the network ``cfg`` describes and record it in MLflow.

    Parameters
    ----------
    cfg : Mapping
        The resolved training config (``conf/config.yaml`` composed).
    root : Path
        Project root; the default store is ``<root>/mlflow.db``.
    sweep : SweepContext, optional
        Parent run and sweep id when this job is one point of a multirun.
    blas_threads : int, optional
        Cap on BLAS threads for this job (restored afterwards).

    Returns
    -------
    dict
        ``run_id``, ``status`` (``FINISHED``/``KILLED``/``FAILED``/``SKIPPED``),
        ``diverged`` and the summary metrics.
    """
    try:  # every check that can fail on user input happens before MLflow is touched
        spec, rng, data = prepare(cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None

    def body(client, run_id: str) -> dict:
        with tracking.MetricBuffer(client, run_id) as buffer:
            result = train(
                spec,
                data,
                rng,
                on_measure=lambda m: (raise_if_interrupted(), buffer.add(_measurement_metrics(m))),
                on_epoch=lambda e, m: (raise_if_interrupted(), _progress(spec, e, m)),
            )
            summary = result.summary()
            buffer.add([(k, v, result.steps) for k, v in summary.items()])
            buffer.add(tracking.profile_metrics(result.init.table, names.PROFILE_INIT))
            if result.final is not None:
                buffer.add(tracking.profile_metrics(result.final.table, names.PROFILE_FINAL))
        _log_artifacts(client, run_id, spec.run_name, cfg, result)
        verdict = names.STATUS_DIVERGED if result.diverged else names.STATUS_OK
        tracking.with_retry(client.set_tag, run_id, names.TAG_STATUS, verdict)
        if result.diverged:
            log.warning(
                "%s diverged at step %d, layer %d (%s pass)",
                spec.run_name,
                result.diverged_step,
                result.diverged_layer,
                result.diverged_where,
            )
        return summary

    return record_run(
        cfg, root, sweep, blas_threads, kind="train", run_name=spec.run_name, body=body
    )


def record_run(
    cfg: Mapping,
    root: Path,
    sweep: SweepContext | None,
    blas_threads: int | None,
    *,
    kind: str,
    run_name: str,
    body: Callable[[object, str], dict],
) -> dict:
    """Record one validated job as an MLflow run; ``body`` computes and logs its results.

    Skips the job if a FINISHED run with the same config hash exists (unless
    ``force``); else creates the run (tags ``gradlab.kind`` = ``kind``, config
    hash, version, commit, sweep parent), logs the flattened config as params
    and calls ``body(client, run_id)`` under the BLAS thread cap, with SIGTERM
    as KeyboardInterrupt.  The run ends FINISHED when ``body`` returns, KILLED
    on an interrupt, FAILED with the error as a tag on any exception.

    Returns
    -------
    dict
        ``run_id``, ``status`` and what ``body`` returned (the summary
        metrics); for a skipped job, that run's metrics.
    """
    uri = tracking.resolve_tracking_uri(cfg.get("mlflow", {}).get("tracking_uri"), root)
    experiment_name = str(cfg.get("mlflow", {}).get("experiment_name") or "gradlab")

    client = tracking.client_for(uri)
    experiment_id = tracking.ensure_experiment(client, experiment_name, uri)
    chash = config_hash(cfg)
    if not cfg.get("force", False):
        done = find_finished(
            client, experiment_id, chash, sweep.sweep_id if sweep is not None else None
        )
        if done is not None:
            log.info("skipping %s: FINISHED as run %s", run_name, done.info.run_id)
            return {"run_id": done.info.run_id, "status": "SKIPPED", **done.data.metrics}

    tags = {
        names.TAG_KIND: kind,
        names.TAG_CONFIG_HASH: chash,
        names.TAG_VERSION: __version__,
    }
    commit = git_commit(root)
    if commit:
        tags[names.TAG_GIT_COMMIT] = commit
    if sweep is not None:
        tags["mlflow.parentRunId"] = sweep.parent_run_id
        tags[names.TAG_SWEEP_ID] = sweep.sweep_id
    mlrun = tracking.with_retry(client.create_run, experiment_id, run_name=run_name, tags=tags)
    run_id = mlrun.info.run_id
    status = "FAILED"
    try:
        with sigterm_as_interrupt(), threadpool_limits(limits=blas_threads):
            tracking.log_params(client, run_id, flatten(cfg))
            summary = body(client, run_id)
        status = "FINISHED"
        return {"run_id": run_id, "status": status, **summary}
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except Exception as err:
        tracking.with_retry(client.set_tag, run_id, names.TAG_ERROR, _one_line(err))
        raise
    finally:
        tracking.with_retry(client.set_terminated, run_id, status)


def train_run_name(cfg: Mapping) -> str:
    """The run name of a training config, also when its values are invalid."""
    model = cfg.get("model", {})
    return f"{model.get('activation')}-d{model.get('depth')}-{model.get('init')}-s{cfg.get('seed')}"


def record_failed_job(
    cfg: Mapping,
    root: Path,
    sweep: SweepContext,
    err: BaseException,
    kind: str = "train",
    name: str | None = None,
) -> str:
    """Record a sweep point whose config was rejected as a FAILED run (never RUNNING).

    ``kind`` is the run's ``gradlab.kind`` tag and ``name`` its run name
    (default: :func:`train_run_name`).
    """
    uri = tracking.resolve_tracking_uri(cfg.get("mlflow", {}).get("tracking_uri"), root)
    client = tracking.client_for(uri)
    experiment_id = tracking.ensure_experiment(
        client, str(cfg.get("mlflow", {}).get("experiment_name") or "gradlab"), uri
    )
    name = name or train_run_name(cfg)
    tags = {
        names.TAG_KIND: kind,
        names.TAG_CONFIG_HASH: config_hash(cfg),
        names.TAG_VERSION: __version__,
        names.TAG_ERROR: _one_line(err),
        "mlflow.parentRunId": sweep.parent_run_id,
        names.TAG_SWEEP_ID: sweep.sweep_id,
    }
    mlrun = tracking.with_retry(client.create_run, experiment_id, run_name=name, tags=tags)
    run_id = mlrun.info.run_id
    try:
        tracking.log_params(client, run_id, flatten(cfg))
    finally:
        tracking.with_retry(client.set_terminated, run_id, "FAILED")
    return run_id


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:500]


def _measurement_metrics(m: Measurement) -> list[tuple[str, float, int]]:
    scalars = {names.TRAIN_LOSS: m.train_loss, names.TEST_ACCURACY: m.test_accuracy}
    return tracking.measurement_metrics(m.table, m.step, scalars)


def _progress(spec, epoch: int, m: Measurement) -> None:
    g = m.table["grad_b_norm"].to_numpy()
    acc = "" if m.test_accuracy is None else f" test_acc={m.test_accuracy:.3f}"
    log.info(
        "%s epoch %d/%d step %d: loss=%.4f%s ‖∇b^1‖/‖∇b^L‖=%.3e",
        spec.run_name,
        epoch,
        spec.epochs,
        m.step,
        m.train_loss,
        acc,
        g[0] / g[-1] if g[-1] else float("nan"),
    )


def _log_artifacts(client, run_id: str, run_name: str, cfg: Mapping, result) -> None:
    from omegaconf import OmegaConf

    from gradlab.plotting import plot_gradient_vs_layer, run_frame

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result.history.to_csv(tmp / names.ARTIFACT_HISTORY, index=False, float_format="%.17g")
        (tmp / names.ARTIFACT_CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(dict(cfg))))
        runs = run_frame(flatten(cfg), run_id=run_id, run_name=run_name, diverged=result.diverged)
        _, fig = plot_gradient_vs_layer(runs, result.history.assign(run_id=run_id))
        # screen resolution: the report renders the print copies
        fig.savefig(tmp / names.ARTIFACT_FIGURE, dpi=100)
        for name in (names.ARTIFACT_HISTORY, names.ARTIFACT_CONFIG, names.ARTIFACT_FIGURE):
            tracking.with_retry(client.log_artifact, run_id, str(tmp / name))
