"""One training job, end to end: validate, train, record in MLflow.

:func:`run` is what ``experiments/train.py`` calls with the composed Hydra
config; it is importable and testable without Hydra.  Order matters:

1. validate every key (``ValueError`` before anything is written);
2. skip the job if a FINISHED run with the same config hash exists (resume);
3. create the MLflow run, log params and tags, stream metrics while training;
4. write the history table, config and figure; end the run FINISHED (also when
   training diverged, which is data), KILLED on Ctrl-C/SIGTERM, FAILED on error.

Steps 2–4 without the training itself are :func:`gradlab.track.record.record_run`,
which the probe job (:mod:`gradlab.jobs.probe`) shares.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

from gradlab import names
from gradlab.errors import ConfigError
from gradlab.jobs.signals import raise_if_interrupted, sigterm_as_interrupt
from gradlab.track import client as tracking
from gradlab.track.record import SweepContext, record_run
from gradlab.training.loop import Measurement, prepare, train
from gradlab.training.sequence_spec import RECURRENT_KINDS, model_kind

log = logging.getLogger(__name__)


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
        The resolved training config (``conf/train/config.yaml`` composed).
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
        recurrent = model_kind(cfg) in RECURRENT_KINDS
        if not recurrent:
            spec, rng, data = prepare(cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if recurrent:  # model=rnn | lstm: the sequence job, which validates its own keys
        from gradlab.jobs.train_sequence import run_sequence

        return run_sequence(cfg, root, sweep, blas_threads)

    def body(client, run_id: str) -> dict:
        with sigterm_as_interrupt(), threadpool_limits(limits=blas_threads):
            threads = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"),
                          default=0)  # fmt: skip
            tracking.with_retry(client.set_tag, run_id, names.TAG_BLAS_THREADS, str(threads))
            with tracking.MetricBuffer(client, run_id) as buffer:
                result = train(
                    spec,
                    data,
                    rng,
                    on_measure=lambda m: (
                        raise_if_interrupted(),
                        buffer.add(_measurement_metrics(m)),
                    ),
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

    return record_run(cfg, root, sweep, kind="train", run_name=spec.run_name, body=body)


def _measurement_metrics(m: Measurement) -> list[tuple[str, float, int]]:
    scalars = {
        names.TRAIN_LOSS: m.train_loss,
        names.TEST_ACCURACY: m.test_accuracy,
        names.GRAD_NORM: m.grad_norm,
    }
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

    from gradlab.report.run_figure import draw_run_figure

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result.history.to_csv(tmp / names.ARTIFACT_HISTORY, index=False, float_format="%.17g")
        (tmp / names.ARTIFACT_CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(dict(cfg))))
        figure = draw_run_figure(result.history, run_name, diverged=result.diverged)
        (tmp / names.ARTIFACT_FIGURE).write_bytes(figure)
        for name in (names.ARTIFACT_HISTORY, names.ARTIFACT_CONFIG, names.ARTIFACT_FIGURE):
            tracking.with_retry(client.log_artifact, run_id, str(tmp / name))
