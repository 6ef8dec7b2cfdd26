"""One recurrent training job (model=rnn | lstm), end to end: validate, train, record.

The body :func:`gradlab.jobs.train.run` hands a config with a recurrent
``model.kind`` to; the steps are those of the MLP job.  Metrics use the time
step where the MLP's use the layer: ``profile_init/delta_rms`` with step = t;
``train_loss``, ``test_accuracy`` or ``test_mse`` at every logged step;
``grad_norm`` (before clipping), ``clipped`` and ``step_loss`` at every
optimiser step; the summary metrics of :data:`gradlab.names.SEQUENCE_SUMMARY_METRICS`
at the last step.  Artifacts: the per-step history (``time_history.csv``), the
per-optimiser-step log (``steps.csv``), the config and the time figure.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from threadpoolctl import threadpool_limits

from gradlab import names
from gradlab.errors import ConfigError
from gradlab.jobs.signals import raise_if_interrupted, sigterm_as_interrupt
from gradlab.track import client as tracking
from gradlab.track.record import SweepContext, record_run
from gradlab.training.sequence_loop import SequenceMeasurement, prepare_sequence, train_sequence

log = logging.getLogger(__name__)


def run_sequence(
    cfg: Mapping,
    root: Path,
    sweep: SweepContext | None = None,
    blas_threads: int | None = None,
) -> dict:
    """Train the RNN or LSTM ``cfg`` describes and record it in MLflow (as
    :func:`gradlab.jobs.train.run`, whose parameters and return value it shares)."""
    try:
        spec, rng, data = prepare_sequence(cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None

    def body(client, run_id: str) -> dict:
        with sigterm_as_interrupt(), threadpool_limits(limits=blas_threads):
            with tracking.MetricBuffer(client, run_id) as buffer:
                result = train_sequence(
                    spec,
                    data,
                    rng,
                    on_measure=lambda m: (raise_if_interrupted(), buffer.add(_scalars(m))),
                    on_step=lambda step, loss, norm, clipped: buffer.add(
                        _per_step(step, loss, norm, clipped)
                    ),
                    on_epoch=lambda e, m: (raise_if_interrupted(), _progress(spec, e, m)),
                )
                summary = result.summary()
                buffer.add([(k, v, result.steps) for k, v in summary.items()])
                buffer.add(tracking.time_profile_metrics(result.init.table, names.PROFILE_INIT))
                if result.final is not None:
                    buffer.add(
                        tracking.time_profile_metrics(result.final.table, names.PROFILE_FINAL)
                    )
            _log_artifacts(client, run_id, spec.run_name, cfg, result)
        verdict = names.STATUS_DIVERGED if result.diverged else names.STATUS_OK
        tracking.with_retry(client.set_tag, run_id, names.TAG_STATUS, verdict)
        if result.diverged:
            log.warning("%s diverged at step %d", spec.run_name, result.diverged_step)
        return summary

    return record_run(cfg, root, sweep, kind="train", run_name=spec.run_name, body=body)


def _per_step(step: int, loss: float, norm: float, clipped: int) -> list:
    return [
        (names.STEP_LOSS, loss, step),
        (names.GRAD_NORM, norm, step),
        (names.CLIPPED, clipped, step),
    ]


def _scalars(m: SequenceMeasurement) -> list[tuple[str, float, int]]:
    values = {
        names.TRAIN_LOSS: m.train_loss,
        names.TEST_ACCURACY: m.test_accuracy,
        names.TEST_MSE: m.test_mse,
    }
    return [(k, v, m.step) for k, v in values.items() if v is not None]


def _progress(spec, epoch: int, m: SequenceMeasurement) -> None:
    d = m.table["delta_rms"].to_numpy()
    test = (
        f" test_acc={m.test_accuracy:.3f}"
        if m.test_accuracy is not None
        else (f" test_mse={m.test_mse:.4f}" if m.test_mse is not None else "")
    )
    log.info(
        "%s epoch %d/%d step %d: loss=%.4f%s ‖δ_1‖/‖δ_T‖=%.3e",
        spec.run_name, epoch, spec.epochs, m.step, m.train_loss, test,
        d[0] / d[-1] if d[-1] else float("nan"),
    )  # fmt: skip


def _log_artifacts(client, run_id: str, run_name: str, cfg: Mapping, result) -> None:
    from omegaconf import OmegaConf

    from gradlab.report.run_figure_time import draw_time_figure

    files = (names.ARTIFACT_TIME_HISTORY, names.ARTIFACT_STEPS, names.ARTIFACT_CONFIG,
             names.ARTIFACT_TIME_FIGURE)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result.history.to_csv(tmp / files[0], index=False, float_format="%.17g")
        result.steps_frame.to_csv(tmp / files[1], index=False, float_format="%.17g")
        (tmp / files[2]).write_text(OmegaConf.to_yaml(OmegaConf.create(dict(cfg))))
        (tmp / files[3]).write_bytes(draw_time_figure(result.history, run_name, result.diverged))
        for name in files:
            tracking.with_retry(client.log_artifact, run_id, str(tmp / name))
