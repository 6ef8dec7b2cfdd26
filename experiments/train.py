"""Train networks and record every run in MLflow.

    python experiments/train.py                                   # one run
    python experiments/train.py -m model.depth=2,5,10 model.activation=sigmoid,tanh,relu
    python experiments/train.py -m +experiment=default_sweep hydra/launcher=joblib

Every key of conf/config.yaml can be overridden; see README.md.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gradlab.errors import ConfigError
from gradlab.hydra_job import check_override_keys, train_job
from gradlab.sweep import mark_interrupted

ROOT = Path(__file__).resolve().parents[1]


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    return train_job(cfg, ROOT)


if __name__ == "__main__":
    # SIGTERM (scancel, kill) stops a sweep like Ctrl-C: running runs end KILLED
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        check_override_keys(sys.argv[1:], ROOT / "conf", "config")
    except ConfigError as err:
        print(f"gradlab: error: {err}", file=sys.stderr)
        sys.exit(2)
    try:
        main()
    except KeyboardInterrupt:
        mark_interrupted()
        print("gradlab: interrupted; runs in progress were marked KILLED", file=sys.stderr)
        sys.exit(130)
