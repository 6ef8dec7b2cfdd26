"""Measure gradients at initialisation against mean-field theory; record every run in MLflow.

    python experiments/probe.py                                           # one run
    python experiments/probe.py probe.activation=relu probe.init=he_normal
    python experiments/probe.py -m +experiment=probe_mean_field            # a preset sweep

No training: see gradlab/probe.py for what each probe.kind measures and
conf/probe.yaml for every key.  A bad key or value prints one line on stderr
and exits with status 2 before anything is written.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gradlab.errors import ConfigError
from gradlab.hydra_job import check_override_keys, hydra_job
from gradlab.probe import failed_run_name
from gradlab.probe_run import run
from gradlab.sweep import mark_interrupted

ROOT = Path(__file__).resolve().parents[1]


@hydra.main(version_base="1.3", config_path="../conf", config_name="probe")
def main(cfg: DictConfig) -> dict:
    return hydra_job(cfg, ROOT, run, kind="probe", name_of=failed_run_name)


if __name__ == "__main__":
    # SIGTERM (scancel, kill) stops a sweep like Ctrl-C: running runs end KILLED
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        check_override_keys(sys.argv[1:], ROOT / "conf", "probe")
    except ConfigError as err:
        print(f"gradlab: error: {err}", file=sys.stderr)
        sys.exit(2)
    try:
        main()
    except KeyboardInterrupt:
        mark_interrupted()
        print("gradlab: interrupted; runs in progress were marked KILLED", file=sys.stderr)
        sys.exit(130)
