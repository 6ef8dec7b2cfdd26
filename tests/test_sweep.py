"""Hydra multiruns end to end, as a user types them: basic, joblib and submitit launchers.

Each sweep is ``experiments/train.py`` in a subprocess; the tests read back what
MLflow recorded.  One basic-launcher sweep (``basic_sweep`` in conftest.py) is run
once per test session: the other launchers must log the same numbers, and resuming
it must re-run only its killed and failed points.
"""

import pytest
from helpers import (
    BASIC_SWEEP,
    FAST,
    assert_same_values,
    check_sweep,
    sweep_runs,
    train_py,
)

from gradlab import names

pytestmark = pytest.mark.slow


def finished_by_point(kids):
    """{model.depth: [FINISHED runs]} of a sweep's children."""
    out = {}
    for r in kids:
        if r.info.status == "FINISHED":
            out.setdefault(r.data.params["model.depth"], []).append(r)
    return out


def test_basic_launcher_records_each_point_and_fails_only_the_bad_one(basic_sweep):
    uri, p, _ = basic_sweep
    assert p.returncode == 1  # one point failed
    assert "model.depth=0 is not allowed" in p.stderr
    assert "3/3 jobs recorded" in p.stdout
    assert "2 finished, 0 diverged, 1 failed, 0 killed" in p.stdout
    kids = sweep_runs(uri)[2]
    (bad,) = [r for r in kids if r.data.params["model.depth"] == "0"]
    assert bad.info.status == "FAILED"
    assert "model.depth=0" in bad.data.tags[names.TAG_ERROR]
    good = [r for r in kids if r is not bad]
    assert {r.data.params["model.depth"] for r in good} == {"1", "3"}
    check_sweep(uri, 2, kids=good)


def test_resuming_a_sweep_reruns_its_killed_point_once(basic_sweep):
    uri, _, tmp = basic_sweep
    client, (parent,), kids = sweep_runs(uri)
    before = finished_by_point(kids)
    (killed,) = before["3"]
    (kept,) = before["1"]
    # what SIGTERM leaves behind (test_reliability): the point's run ended KILLED
    client.set_terminated(killed.info.run_id, "KILLED")

    again = train_py(*BASIC_SWEEP, f"mlflow.tracking_uri={uri}", tmp_path=tmp)
    assert again.returncode == 1, again.stderr[-3000:]  # the bad point fails again
    assert "2 finished, 0 diverged, 1 failed, 0 killed" in again.stdout
    client, parents, kids = sweep_runs(uri)
    assert [r.info.run_id for r in parents] == [parent.info.run_id]  # the same sweep
    after = finished_by_point(kids)
    (rerun,) = after["3"]  # the killed point ran again and finished exactly once
    assert rerun.info.run_id != killed.info.run_id
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    assert [r.info.run_id for r in after["1"]] == [kept.info.run_id]  # FINISHED: skipped
    assert "skipping" in again.stdout + again.stderr
    for key, value in killed.data.metrics.items():
        if key != names.TRAIN_SECONDS:
            assert rerun.data.metrics[key] == value, key


def test_joblib_launcher_fresh_store_four_workers_matches_basic(tmp_path, basic_sweep):
    # 8 short jobs, 4 workers, all starting against a store that does not exist yet
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    p = train_py("-m", "model.depth=1,3", "model.activation=sigmoid,tanh,relu,softplus", *FAST,
                 f"mlflow.tracking_uri={uri}", "hydra/launcher=joblib",
                 "hydra.launcher.n_jobs=4", tmp_path=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "database is locked" not in p.stdout + p.stderr
    assert_same_values(basic_sweep[0], check_sweep(uri, 8))


def test_submitit_local_two_jobs_matches_basic(tmp_path, store_at, basic_sweep):
    uri = store_at(tmp_path / "store")
    p = train_py("-m", "model.depth=1,3", *FAST, f"mlflow.tracking_uri={uri}",
                 "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                 tmp_path=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert_same_values(basic_sweep[0], check_sweep(uri, 2))


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
