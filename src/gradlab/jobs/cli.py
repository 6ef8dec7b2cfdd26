"""The body of ``experiments/train.py`` and ``experiments/probe.py``: one Hydra job.

Reads what only Hydra knows (run or multirun, which launcher, the sweep's
parent run), picks the BLAS thread cap, and turns errors into what a user of a
command-line tool expects: a bad value in a single run is one line on stderr
and exit status 2 with nothing written; in a multirun the bad point is
recorded as a FAILED run and the sweep goes on (the sweep callback reports it).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gradlab.errors import ConfigError
from gradlab.jobs.config import compose, group_choices, shared_conf_arg
from gradlab.jobs.signals import interrupt_handler
from gradlab.jobs.sweep import UNRECORDED, read_sweep_context
from gradlab.jobs.train import run
from gradlab.schema import unknown_key_error
from gradlab.track.client import StoreUnreachable
from gradlab.track.record import SweepContext, record_failed_job
from gradlab.training.sequence_spec import train_run_name

log = logging.getLogger(__name__)


def blas_threads(cfg: DictConfig, hydra_cfg) -> int | None:
    """BLAS threads for this job: ``runtime.blas_threads`` if set, else cores per worker.

    Under the joblib launcher with n_jobs workers each job gets cores // n_jobs
    threads, so two workers on two cores do not oversubscribe them; under
    submitit, the cpus_per_task it was given; otherwise no cap.
    """
    configured = cfg.get("runtime", {}).get("blas_threads")
    if configured:
        return int(configured)
    if hydra_cfg is None:
        return None
    launcher = hydra_cfg.launcher
    cores = os.cpu_count() or 1
    n_jobs = launcher.get("n_jobs")
    if n_jobs is not None:
        n_jobs = cores if int(n_jobs) < 0 else int(n_jobs)
        return max(1, cores // max(1, min(n_jobs, cores)))
    cpus = launcher.get("cpus_per_task")
    return int(cpus) if cpus else None


def check_override_keys(overrides: list[str], conf: Path, entry: str) -> None:
    """Reject overrides whose key or preset the entry point's config does not have.

    Hydra would refuse them too, but without saying what is allowed; this names
    the keys that exist at that level (composing conf/<entry>/config.yaml) and
    the presets in conf/<entry>/experiment/.  Other appends (``+key=``),
    deletions, Hydra's own keys and group choices (``hydra/launcher=joblib``)
    are left to Hydra.
    """
    _check_group_choices(overrides, conf, entry)
    plain = [o for o in overrides if "=" in o and not o.startswith(("+", "~", "-"))]
    plain = [o for o in plain if not o.startswith("hydra") and "/" not in o.split("=")[0]]
    if not plain:
        return
    # a key exists if one of the configs the group choices compose has it
    # (model.spectral_radius with model=rnn, data.length with data=adding)
    bases = [compose(conf, entry, chosen) for chosen in _group_combinations(overrides, conf, entry)]
    for o in plain:
        key, value = o.split("=", 1)
        errors = [_missing(base, key, value) for base in bases]
        if all(errors):
            raise ConfigError(str(errors[0]))


def _missing(base: DictConfig, key: str, value: str) -> ValueError | None:
    """The unknown-key error of ``key`` in the composed ``base``, None if it has the key."""
    node, path = base, []
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            keys = node.keys() if isinstance(node, DictConfig) else ()
            return unknown_key_error(key, value, ".".join(path), part, keys)
        node, path = node[part], [*path, part]
    return None


def _group_combinations(overrides: list[str], conf: Path, entry: str) -> list[list[str]]:
    """Every combination of the group choices among ``overrides`` (``model=rnn,lstm``
    ``data=adding`` -> [model=rnn, data=adding], [model=lstm, data=adding])."""
    groups = group_choices(conf, entry)
    options = []
    for o in overrides:
        key, _, value = o.partition("=")
        if key.lstrip("+") in groups and re.fullmatch(r"[\w-]+(,[\w-]+)*", value):
            options.append([f"{key}={name}" for name in value.split(",")])
    return [list(c) for c in itertools.product(*options)]


def _check_group_choices(overrides: list[str], conf: Path, entry: str) -> None:
    """``GROUP=NAME`` (``model=rnn``, ``data=gaussian``, ``+experiment=NAME``, or a sweep
    ``NAME,NAME``) must name options the entry point has (see ``group_choices``)."""
    groups = group_choices(conf, entry)
    for o in overrides:
        key, _, value = o.partition("=")
        group = key.lstrip("+")
        if group not in groups or not re.fullmatch(r"[\w-]+(,[\w-]+)*", value):
            continue
        folder, options = groups[group]
        for name in value.split(","):
            if name not in options:
                raise ConfigError(
                    f"{group}={name} is not allowed; choose one of: "
                    f"{', '.join(options) or '(none)'} ({folder}/)"
                )


def own_process(hydra_cfg) -> bool:
    """Whether the launcher runs each job in a process of its own (submitit: SLURM or local).

    A signal there stops that job alone; under the basic and joblib launchers a
    Ctrl-C or SIGTERM stops the whole sweep.
    """
    return "submitit" in str(hydra_cfg.launcher.get("_target_", ""))


#: What a job runs, as :func:`gradlab.jobs.train.run`: run_fn(cfg, root, sweep, blas_threads).
RunFn = Callable[[Mapping, Path, SweepContext | None, int | None], dict]


def train_job(cfg: DictConfig, root: Path) -> dict:
    """Run one training job; see the module docstring for what happens on bad input."""
    return hydra_job(cfg, root, run)


def hydra_job(
    cfg: DictConfig,
    root: Path,
    run_fn: RunFn,
    kind: str = "train",
    name_of: Callable[[Mapping], str] = train_run_name,
) -> dict:
    """Run one job of any kind under Hydra; see the module docstring for bad input.

    ``run_fn`` validates the resolved config (raising
    :class:`~gradlab.errors.ConfigError`) and records the run; a rejected
    sweep point becomes a FAILED run tagged ``kind`` and named ``name_of(cfg)``.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    multirun = hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN
    found = read_sweep_context(hydra_cfg) if multirun else None
    sweep = found[0] if found else None
    container = OmegaConf.to_container(cfg, resolve=True)
    try:
        return run_fn(container, root, sweep, blas_threads(cfg, hydra_cfg))
    except KeyboardInterrupt:
        if sweep is None or not own_process(hydra_cfg):
            raise
        # scancel (or SLURM's SIGTERM at the time limit) stopped this job alone; run_fn
        # marked its run KILLED if the store answered
        log.error("job stopped by a signal")
        return {"status": "KILLED"}
    except StoreUnreachable as err:
        if sweep is None:
            print(f"gradlab: error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        log.error("job not recorded: %s", err)
        return {"status": UNRECORDED, "error": str(err)}
    except ConfigError as err:
        if sweep is None:
            print(f"gradlab: error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        run_id = record_failed_job(container, root, sweep, err, kind, name_of(container))
        log.error("bad config, recorded as FAILED run %s: %s", run_id, err)
        return {"run_id": run_id, "status": "FAILED", "error": str(err)}
    except Exception as err:
        if sweep is None:
            raise
        # run_fn has already marked its MLflow run FAILED with the error as a tag
        log.exception("job failed: %s", err)
        return {"status": "FAILED", "error": str(err)}


def run_cli(main: Callable[[], object], root: Path, entry: str) -> None:
    """Run the ``@hydra.main`` of ``experiments/<entry>.py`` as a command-line tool.

    Adds ``<root>/conf`` to Hydra's search path (:func:`gradlab.jobs.config.shared_conf_arg`),
    so the shared groups are found from any working directory.  A mistyped key
    or preset fails before Hydra starts, with what exists (exit 2);
    SIGTERM (scancel, kill) stops a sweep like Ctrl-C (see
    :func:`gradlab.jobs.signals.interrupt_handler`); on either, the run and the
    sweep in progress are marked KILLED where the store still answers, the
    message says which were, and the exit status is 130.
    """
    import signal

    from gradlab.jobs.sweep import mark_interrupted

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, interrupt_handler)
    try:
        check_override_keys(sys.argv[1:], root / "conf", entry)
    except ConfigError as err:
        print(f"gradlab: error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.argv.insert(1, shared_conf_arg(root / "conf"))
    try:
        main()
    except KeyboardInterrupt:
        written = mark_interrupted()  # the run's own end state is in the log above
        print(f"gradlab: interrupted{'; ' + written if written else ''}", file=sys.stderr)
        sys.exit(130)
