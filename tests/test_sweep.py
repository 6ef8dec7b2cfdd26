"""Hydra multiruns end to end, as a user types them: basic, joblib and submitit launchers.

Each test starts ``experiments/train.py`` in a subprocess against a store that
does not exist yet, then reads back what MLflow recorded.
"""

import io
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, compose_config

from gradlab import names
from gradlab.track.client import client_for

pytestmark = pytest.mark.slow

FAST = ["train.epochs=1", "train.log_every=60", "model.width=16"]


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


def check_sweep(uri, n_jobs):
    """Every child FINISHED under one parent, with names, profiles and history as documented."""
    client, parents, kids = sweep_runs(uri)
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


def test_every_preset_composes():
    # each preset's first comment line names the entry point it belongs to
    presets = sorted((ROOT / "conf" / "experiment").glob("*.yaml"))
    assert {"default_sweep", "nielsen_ch5"} <= {p.stem for p in presets}
    for p in presets:
        script = next(line for line in p.read_text().splitlines() if "experiments/" in line)
        config_name = {"train.py": "config"}.get(
            script.split("experiments/")[1].split()[0],
            script.split("experiments/")[1].split(".py")[0],
        )
        cfg = compose_config([f"+experiment={p.stem}"], config_name=config_name, hydra=True)
        assert cfg is not None
        if config_name == "config":
            from gradlab.training.spec import run_spec

            run_spec(cfg)  # presets' values pass validation
            assert cfg.hydra.sweeper.params, p.stem


def test_basic_launcher_two_jobs(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    p = train_py("-m", "model.depth=1,3", *FAST, f"mlflow.tracking_uri={uri}", tmp_path=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    kids = check_sweep(uri, 2)
    assert "2/2 jobs recorded" in p.stdout and "2 finished" in p.stdout

    # the same command again: every point already FINISHED, so nothing new runs
    again = train_py("-m", "model.depth=1,3", *FAST, f"mlflow.tracking_uri={uri}",
                     tmp_path=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "skipping" in again.stdout + again.stderr
    assert len(check_sweep(uri, 2)) == len(kids)


def test_joblib_launcher_fresh_store_four_jobs_matches_basic(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    p = train_py("-m", "model.depth=1,3", "model.activation=sigmoid,relu", *FAST,
                 f"mlflow.tracking_uri={uri}", "hydra/launcher=joblib",
                 "hydra.launcher.n_jobs=2", tmp_path=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "database is locked" not in p.stdout + p.stderr
    kids = check_sweep(uri, 4)

    # reproducibility: the same points under the basic launcher log identical numbers
    uri2 = f"sqlite:///{tmp_path}/store2/mlflow.db"
    (tmp_path / "b").mkdir()
    q = train_py("-m", "model.depth=1,3", "model.activation=sigmoid", *FAST,
                 f"mlflow.tracking_uri={uri2}", tmp_path=tmp_path / "b")  # fmt: skip
    assert q.returncode == 0, q.stderr[-3000:]
    basic = metric_values(check_sweep(uri2, 2))
    joblib = metric_values(kids)
    for name, metrics in basic.items():
        for key, value in metrics.items():
            if key != names.TRAIN_SECONDS:
                assert joblib[name][key] == value, (name, key)


def test_submitit_local_two_jobs(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    p = train_py("-m", "model.depth=1,2", *FAST, f"mlflow.tracking_uri={uri}",
                 "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                 tmp_path=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    check_sweep(uri, 2)


def test_bad_point_fails_only_that_job(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    p = train_py("-m", "model.depth=2,0", *FAST, f"mlflow.tracking_uri={uri}", tmp_path=tmp_path)
    assert p.returncode == 1
    assert "model.depth=0 is not allowed" in p.stderr
    kids = sweep_runs(uri)[2]
    status = {r.data.params["model.depth"]: r.info.status for r in kids}
    assert status == {"2": "FINISHED", "0": "FAILED"}
    (bad,) = [r for r in kids if r.info.status == "FAILED"]
    assert "model.depth=0" in bad.data.tags[names.TAG_ERROR]
    assert "1 finished, 0 diverged, 1 failed" in p.stdout


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("model.activation=sigmod", "model.activation='sigmod' is not allowed; choose one of"),
        ("train.lr=-1", "train.lr=-1 is not allowed; it must be a number > 0"),
        ("model.dept=5", "model.dept"),
    ],
)
def test_single_run_bad_input_is_one_line_and_writes_nothing(tmp_path, override, needle):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    p = train_py(override, f"mlflow.tracking_uri={uri}", tmp_path=tmp_path)
    assert p.returncode != 0
    assert needle in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "store").exists()  # no store, so certainly no RUNNING run
