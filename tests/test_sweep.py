"""Hydra multiruns end to end, as a user types them: basic, joblib and submitit launchers.

Each test starts ``experiments/train.py`` in a subprocess against a store that
does not exist yet, then reads back what MLflow recorded.
"""

import pytest
from helpers import FAST, check_sweep, metric_values, sweep_runs, train_py

from gradlab import names

pytestmark = pytest.mark.slow


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
