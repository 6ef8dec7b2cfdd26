"""Train networks and record every run in MLflow.

    python experiments/train.py                                   # one run
    python experiments/train.py -m model.depth=2,5,10 model.activation=sigmoid,tanh,relu
    python experiments/train.py -m +experiment=default_sweep hydra/launcher=joblib

Every key of conf/train/config.yaml can be overridden; see README.md.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gradlab.jobs.cli import run_cli, train_job

ROOT = Path(__file__).resolve().parents[1]


@hydra.main(version_base="1.3", config_path="../conf/train", config_name="config")
def main(cfg: DictConfig) -> dict:
    return train_job(cfg, ROOT)


if __name__ == "__main__":
    run_cli(main, ROOT, "train")
