"""One probe job, end to end: validate, measure at initialisation, record in MLflow.

:func:`run` is what ``experiments/probe.py`` calls (through
:func:`gradlab.jobs.cli.hydra_job`) with the composed ``conf/probe/config.yaml``;
the recording itself (skip if FINISHED, tags, params, end states) is
:func:`gradlab.track.record.record_run`, shared with training.  A probe run
holds, under the names of :mod:`gradlab.names`:

* params: the flattened config; tag ``gradlab.kind`` = ``probe``;
* summary metrics (step 0): χ₁, ln χ₁, q*, σ_w², the measured slope and factor,
  per kind the Nielsen ratio or the Jacobian statistics, and for kind ``delta``
  β = Σ_j 1/n_j and Var[ln‖δ^1‖²];
* profiles ``probe/delta_sq``, ``probe/delta_sq_chi1``, ``probe/delta_sq_profile``,
  ``probe/grad_ratio`` with step = layer l (kinds ``delta`` and ``nielsen``);
* artifacts ``probe_profile.csv`` (per layer), ``singular_values.csv`` (kind
  ``jacobian``) and ``config.yaml``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from gradlab import names
from gradlab.errors import ConfigError
from gradlab.jobs.signals import sigterm_as_interrupt
from gradlab.theory.probe import ProbeResult, measure, probe_spec, singular_value_frame
from gradlab.track import client as tracking
from gradlab.track.record import SweepContext, record_run

log = logging.getLogger(__name__)


def profile_metrics(profile: pd.DataFrame) -> list[tuple[str, float, int]]:
    """``probe/{quantity}`` with step = layer l, for every finite value of the profile."""
    return [
        (names.profile_metric(names.PROFILE_PROBE, q), float(value), int(layer))
        for q in names.PROBE_PROFILES
        for layer, value in zip(profile["layer"], profile[q], strict=True)
        if np.isfinite(value)
    ]


def run(
    cfg: Mapping,
    root: Path,
    sweep: SweepContext | None = None,
    blas_threads: int | None = None,
) -> dict:
    """Probe the networks ``cfg`` describes and record the run in MLflow.

    Parameters and return value as :func:`gradlab.jobs.train.run`; a bad value
    raises :class:`~gradlab.errors.ConfigError` before MLflow is touched.
    """
    try:
        spec = probe_spec(cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None

    def body(client, run_id: str) -> dict:
        with sigterm_as_interrupt(), threadpool_limits(limits=blas_threads):
            result = measure(spec)
            metrics = [(k, v, 0) for k, v in result.summary.items()]
            if result.profile is not None:
                metrics += profile_metrics(result.profile)
            tracking.log_metrics(client, run_id, metrics)
            _log_artifacts(client, run_id, cfg, result)
        tracking.with_retry(client.set_tag, run_id, names.TAG_STATUS, names.STATUS_OK)
        log.info("%s: %s", spec.run_name, _headline(result.summary))
        return result.summary

    return record_run(cfg, root, sweep, kind="probe", run_name=spec.run_name, body=body)


def _headline(summary: Mapping[str, float]) -> str:
    keys = (
        names.CHI1,
        names.CHI1_MEASURED,
        names.NIELSEN_RATIO,
        names.JACOBIAN_MEAN_S2,
        names.JACOBIAN_MEAN_S2_PREDICTED,
        names.JACOBIAN_S2_SPREAD,
    )
    return " ".join(f"{k}={summary[k]:.4g}" for k in keys if k in summary)


def _log_artifacts(client, run_id: str, cfg: Mapping, result: ProbeResult) -> None:
    from omegaconf import OmegaConf

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = [tmp / names.ARTIFACT_CONFIG]
        files[0].write_text(OmegaConf.to_yaml(OmegaConf.create(dict(cfg))))
        if result.profile is not None:
            files.append(tmp / names.ARTIFACT_PROBE)
            result.profile.to_csv(files[-1], index=False, float_format="%.17g")
        if result.singular_values is not None:
            files.append(tmp / names.ARTIFACT_SINGULAR_VALUES)
            frame = singular_value_frame(result.singular_values)
            frame.to_csv(files[-1], index=False, float_format="%.17g")
        for path in files:
            tracking.with_retry(client.log_artifact, run_id, str(path))
