"""Measure gradients at initialisation against mean-field theory; record every run in MLflow.

    python experiments/probe.py                                           # one run
    python experiments/probe.py probe.activation=relu probe.init=he_normal
    python experiments/probe.py -m +experiment=probe_mean_field            # a preset sweep

No training: see gradlab/theory/probe.py for what each probe.kind measures and
conf/probe/config.yaml for every key.  A bad key or value prints one line on stderr
and exits with status 2 before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gradlab.jobs.cli import hydra_job, run_cli
from gradlab.jobs.probe import run
from gradlab.theory.probe import failed_run_name

ROOT = Path(__file__).resolve().parents[1]


@hydra.main(version_base="1.3", config_path="../conf/probe", config_name="config")
def main(cfg: DictConfig) -> dict:
    return hydra_job(cfg, ROOT, run, kind="probe", name_of=failed_run_name)


if __name__ == "__main__":
    run_cli(main, ROOT, "probe")
