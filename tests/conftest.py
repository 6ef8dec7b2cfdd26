"""Shared test helpers: the project root and Hydra's compose API on conf/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# No network here: keep MLflow from trying to send usage telemetry during tests.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


#: Overrides that make training overflow on its first SGD step: ReLU with N(0, 30²)
#: weights grows activations ~ (30·√(30/2))^l ≈ 10^{2l}, finite at step 0 (≈1e41 at
#: l = 20), and one step with η = 1 overflows the forward pass.
EXPLODING = {
    "model.activation": "relu",
    "model.init": "normal",
    "model.gain": 30.0,
    "model.depth": 20,
    "train.lr": 1.0,
    "train.cost": "quadratic",
    "model.output_activation": "linear",
}


def compose_config(overrides=(), config_name="config", hydra=False):
    """Compose conf/<config_name>.yaml with overrides, as the entry scripts would."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name, overrides=list(overrides), return_hydra_config=hydra)


def train_cfg(**overrides) -> dict:
    """The resolved training config as a plain dict, with dotted-key overrides."""
    cfg = compose_config([f"{k}={v}" for k, v in overrides.items()])
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.fixture
def fresh_store(tmp_path):
    """A tracking URI for an MLflow store that does not exist yet."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
