"""Helpers shared by the tests: the project root, Hydra's compose API on conf/, the
training config as a plain dict, and running ``experiments/train.py`` as a user does.

Imported as ``from helpers import …`` (pytest puts tests/ on sys.path); fixtures
stay in conftest.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from gradlab import names
from gradlab.jobs.config import compose
from gradlab.track.client import client_for

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


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


def compose_config(overrides=(), config_name="train", hydra=False):
    """Compose conf/<config_name>/config.yaml (train, probe or explain) with overrides,
    as experiments/<config_name>.py would."""
    return compose(CONF, config_name, overrides, hydra=hydra)


def train_cfg(**overrides) -> dict:
    """The resolved training config as a plain dict, with dotted-key overrides."""
    cfg = compose_config([f"{k}={v}" for k, v in overrides.items()])
    return OmegaConf.to_container(cfg, resolve=True)


FAST = ["train.epochs=1", "train.log_every=60", "model.width=16"]

#: The basic-launcher sweep that end-to-end tests compare other launchers with (the
#: ``basic_sweep`` fixture runs it once): two points that finish and one,
#: model.depth=0, that validation rejects.
BASIC_SWEEP = ["-m", "model.depth=1,3,0", *FAST]


def train_py(*args, tmp_path, env=None):
    cmd = [sys.executable, str(ROOT / "experiments" / "train.py"), *args,
           f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/multirun"]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env={**os.environ, **(env or {})})  # fmt: skip


def sweep_runs(uri):
    client = client_for(uri)
    exp = client.get_experiment_by_name("gradlab")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get(names.TAG_KIND) == "sweep"]
    kids = [r for r in runs if r.data.tags.get(names.TAG_KIND) == "train"]
    return client, parents, kids


def check_sweep(uri, n_jobs, kids=None):
    """Every child (or each of ``kids``) FINISHED under one parent, with names, profiles
    and history as documented."""
    client, parents, all_kids = sweep_runs(uri)
    kids = all_kids if kids is None else kids
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert len(kids) == n_jobs
    for r in kids:
        assert r.info.status == "FINISHED", r.data.tags.get(names.TAG_ERROR)
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert r.data.tags[names.TAG_SWEEP_ID] == parent.data.tags[names.TAG_SWEEP_ID]
        L = int(r.data.params["model.depth"]) + 1
        for key in ("model.depth", "model.activation", "model.init", "train.lr", "seed"):
            assert key in r.data.params
        for q in names.PER_LAYER_QUANTITIES:
            assert names.layer_metric(q, L) in r.data.metrics
        for key in names.SUMMARY_METRICS:
            assert key in r.data.metrics
        prof = client.get_metric_history(r.info.run_id, "profile_init/grad_b_norm")
        assert sorted(m.step for m in prof) == list(range(1, L + 1))
        with open(client.download_artifacts(r.info.run_id, names.ARTIFACT_HISTORY)) as f:
            history = pd.read_csv(io.StringIO(f.read()))
        # steps: 0, 60, 120 and the final 144 (1438 samples / batch 10)
        assert sorted(history["step"].unique()) == [0, 60, 120, 144]
        assert len(history) == 4 * L
    return kids


def metric_values(kids):
    return {r.info.run_name: r.data.metrics for r in kids}


def assert_same_values(reference_uri, kids):
    """Every FINISHED run of the sweep at ``reference_uri`` has a namesake among ``kids``
    that logged exactly the same metrics (wall time aside)."""
    finished = [r for r in sweep_runs(reference_uri)[2] if r.info.status == "FINISHED"]
    reference = metric_values(finished)
    matched = 0
    for name, metrics in metric_values(kids).items():
        if name not in reference:
            continue
        matched += 1
        for key, value in reference[name].items():
            if key != names.TRAIN_SECONDS:
                assert metrics[key] == value, (name, key)
    assert matched == len(reference), (sorted(reference), sorted(metric_values(kids)))
