"""Scale-out with the real services: a one-node SLURM cluster, a PostgreSQL-backed
tracking server, and a tracking store that is unreachable or dies mid-sweep.

The daemons are started and stopped here (see services.py); without the Debian
packages or root the SLURM and PostgreSQL tests skip with the reason, in CI they fail.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import FAST, ROOT, check_sweep, metric_values, sweep_runs, train_py
from services import (
    Daemons,
    Postgres,
    free_port,
    need,
    postgres_missing,
    slurm_missing,
    start_mlflow_server,
    start_slurm,
    wait_for,
)

from gradlab import names
from gradlab.jobs.launcher_log import one_sacct_warning
from gradlab.jobs.sweep import latest_per_point

#: Upper bound on the time a command may take to give up on a store that does not answer:
#: start-up of Python, Hydra and MLflow on a busy two-core machine plus a 5 s check.
FAIL_FAST_S = 30.0


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """Environment reaching a one-node SLURM cluster (partition ``debug``), for the session."""
    reason = slurm_missing()
    need(reason is None, reason or "")
    daemons = Daemons(tmp_path_factory.mktemp("slurm"))
    try:
        yield start_slurm(daemons)
    finally:
        daemons.stop()


@pytest.fixture(scope="session")
def postgres():
    """URI of an empty PostgreSQL database ``mlflow`` on 127.0.0.1, for the session."""
    reason = postgres_missing()
    need(reason is None, reason or "")
    pg = Postgres()
    try:
        yield pg.start()
    finally:
        pg.stop()


@pytest.fixture
def daemons(tmp_path):
    d = Daemons(tmp_path)
    yield d
    d.stop()


def slurm_args(cpus: int = 1) -> list[str]:
    return ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.mem_gb=1",
            "hydra.launcher.timeout_min=5", f"hydra.launcher.cpus_per_task={cpus}"]  # fmt: skip


def train_cmd(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "experiments" / "train.py"), *args,
            f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/multirun"]  # fmt: skip


# ---- a store that does not answer ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sweep", "single"])
@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:{port}", "postgresql://gradlab@127.0.0.1:{port}/mlflow"]
)
def test_unreachable_store_stops_in_seconds_with_one_line(tmp_path, mode, uri):
    uri = uri.format(port=free_port())  # nothing listens there
    args = ["-m", "model.depth=1,2"] if mode == "sweep" else []
    start = time.monotonic()
    p = train_py(*args, *FAST, tmp_path=tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    elapsed = time.monotonic() - start
    print(f"time to fail ({mode}, {uri.split(':')[0]}): {elapsed:.1f} s")
    assert p.returncode == 2, p.stderr[-2000:]
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr[-2000:]
    assert lines[0].startswith(f"gradlab: error: cannot reach the MLflow store at {uri}: ")
    assert "refused" in lines[0].lower() or "No module named" in lines[0]
    assert elapsed < FAIL_FAST_S
    # nothing started: no sweep file, no job folders
    assert not list(tmp_path.rglob("mlflow_sweep.json"))
    assert not (tmp_path / "multirun" / "0").exists()


#: A sweep whose second point trains long enough to lose its server mid-run.
DYING_SWEEP = ("-m", "train.epochs=1,60,2", *FAST[1:])


def training(uri: str, epochs: str) -> bool:
    """Whether the run with train.epochs=``epochs`` is RUNNING and has logged metrics."""
    try:
        runs = sweep_runs(uri)[2]
    except Exception:  # experiment not created yet
        return False
    return any(r.info.status == "RUNNING" and r.data.params.get("train.epochs") == epochs
               and r.data.metrics for r in runs)  # fmt: skip


@pytest.mark.slow
def test_server_dies_mid_sweep_jobs_fail_fast_and_rerun_finishes(tmp_path, daemons):
    server, uri = start_mlflow_server(daemons, f"sqlite:///{tmp_path}/server.db")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    (tmp_path / "first").mkdir()
    out = tmp_path / "first" / "out.txt"
    with open(out, "w") as sink:
        sweep = subprocess.Popen(train_cmd(tmp_path / "first", *DYING_SWEEP), stdout=sink,
                                 stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
        try:
            wait_for(lambda: training(uri, "60") or sweep.poll() is not None, 300,
                     "the second point to train")  # fmt: skip
            daemons.kill(server, signal.SIGKILL)
            died = time.monotonic()
            err = sweep.communicate(timeout=300)[1]
            to_fail = time.monotonic() - died
        finally:
            sweep.kill()
    print(f"time from the server's death to the sweep's exit (1 job training, 1 to go): "
          f"{to_fail:.1f} s")  # fmt: skip
    stdout = out.read_text()
    assert sweep.returncode == 1, err[-3000:]
    assert f"ended without its store: cannot reach the MLflow store at {uri}" in err
    assert "Jobs of this launch: 1 FINISHED, 2 UNRECORDED" in err, err[-3000:]
    # nothing claims a state it could not write; the run cut off says it was not marked
    assert not re.search(r"run \w+ marked (KILLED|FAILED)", stdout + err)
    assert "could not be marked FAILED: cannot reach the MLflow store" in stdout + err
    assert to_fail < 60.0

    # the server is back (another port, same database): the same command finishes the rest
    (tmp_path / "second").mkdir()
    _, uri = start_mlflow_server(daemons, f"sqlite:///{tmp_path}/server.db", name="mlflow2")
    again = train_py(*DYING_SWEEP, tmp_path=tmp_path / "second", env={"MLFLOW_TRACKING_URI": uri})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "3 finished, 0 diverged, 0 failed, 0 killed, 0 not recorded" in again.stdout
    _, parents, kids = sweep_runs(uri)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    latest = latest_per_point(kids)
    assert sorted(r.data.params["train.epochs"] for r in latest) == ["1", "2", "60"]
    assert all(r.info.status == "FINISHED" for r in latest)
    # the point that finished before the crash ran once (resumed, not repeated); the run
    # cut off by the crash is still as the server last saw it, superseded by its re-run
    assert sorted(r.info.status for r in kids) == ["FINISHED"] * 3 + ["RUNNING"]


# ---- SLURM --------------------------------------------------------------------------


@pytest.mark.slow
def test_slurm_sweep_matches_basic_launcher(tmp_path, slurm):
    sweep = ["-m", "model.depth=1,2", *FAST]
    on_slurm, basic = f"sqlite:///{tmp_path}/slurm/mlflow.db", f"sqlite:///{tmp_path}/basic.db"
    p = train_py(*sweep, *slurm_args(), f"mlflow.tracking_uri={on_slurm}",
                 tmp_path=tmp_path, env=slurm)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "2 finished, 0 diverged, 0 failed, 0 killed, 0 not recorded" in p.stdout
    # the jobs went through sbatch with the launcher's resources
    (script,) = (tmp_path / "multirun" / ".submitit").rglob("*_submission.sh")
    text = script.read_text()
    assert "#SBATCH --time=5" in text and "#SBATCH --cpus-per-task=1" in text
    (tmp_path / "b").mkdir()
    q = train_py(*sweep, f"mlflow.tracking_uri={basic}", tmp_path=tmp_path / "b")
    assert q.returncode == 0, q.stderr[-3000:]
    remote, local = check_sweep(on_slurm, 2), check_sweep(basic, 2)
    assert all(r.data.tags[names.TAG_BLAS_THREADS] == "1" for r in remote)
    a, b = metric_values(remote), metric_values(local)
    assert a.keys() == b.keys()
    for name in a:
        for key, value in b[name].items():
            if key != names.TRAIN_SECONDS:
                assert a[name][key] == value, (name, key)


@pytest.mark.slow
def test_slurm_bad_point_failed_scancelled_point_killed(tmp_path, slurm):
    # epochs: 1 finishes, 400 runs until scancel, -1 is rejected; cpus_per_task=2 with no
    # runtime cap gives each job two BLAS threads (and the two-core node one job at a time)
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    cmd = train_cmd(tmp_path, "-m", "train.epochs=1,400,-1", *FAST[1:], *slurm_args(cpus=2),
                    "runtime.blas_threads=null", f"mlflow.tracking_uri={uri}")  # fmt: skip
    env = {**os.environ, **slurm}
    out = tmp_path / "out.txt"
    with open(out, "w") as sink:
        sweep = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, text=True, env=env)
        try:
            job = wait_for(lambda: long_job(tmp_path / "multirun", uri), 300, "the long job")
            array = wait_for(lambda: array_id(env), 60, "the job array in squeue")
            subprocess.run(["scancel", f"{array}_{job}"], check=True, env=env)
            err = sweep.communicate(timeout=300)[1]
        finally:
            sweep.kill()
    stdout = out.read_text()
    assert sweep.returncode == 1, err[-3000:]
    assert "1 finished, 0 diverged, 1 failed, 1 killed, 0 not recorded" in stdout, (
        stdout[-2000:] + err[-3000:]
    )
    assert "[gradlab] killed:" in err and "[gradlab] failed:" in err
    # accounting is off: the warning of one sacct call, however often the launcher polled
    assert len(set(re.findall(r"Call #(\d+) - Bypassing sacct error", stdout + err))) == 1
    _, parents, kids = sweep_runs(uri)
    assert len(parents) == 1 and len(kids) == 3
    by_epochs = {r.data.params["train.epochs"]: r for r in kids}
    assert by_epochs["1"].info.status == "FINISHED"
    assert by_epochs["1"].data.tags[names.TAG_BLAS_THREADS] == "2"
    assert by_epochs["400"].info.status == "KILLED"
    assert by_epochs["-1"].info.status == "FAILED"
    assert "train.epochs" in by_epochs["-1"].data.tags[names.TAG_ERROR]


def test_sacct_warning_shown_once_other_warnings_kept(caplog):
    one_sacct_warning()
    one_sacct_warning()  # idempotent: still one filter
    log = logging.getLogger("submitit")
    sacct = "Call #%d - Bypassing sacct error Command 'sacct' returned 1, status may be inaccurate."
    with caplog.at_level(logging.WARNING, logger="submitit"):
        for call in range(1, 6):
            log.warning(sacct, call)
        log.warning("Bypassing signal SIGCONT")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("Call #1 - Bypassing sacct error") and "once" in messages[0]
    assert messages[1] == "Bypassing signal SIGCONT"


def long_job(sweep_dir: Path, uri: str) -> int | None:
    """Hydra job number of the train.epochs=400 point once its run is training."""
    for overrides in sweep_dir.glob("*/.hydra/overrides.yaml"):
        if "train.epochs=400" in overrides.read_text():
            try:
                runs = sweep_runs(uri)[2]
            except Exception:  # store still being created
                return None
            runs = [r for r in runs if r.info.status == "RUNNING"
                    and r.data.params.get("train.epochs") == "400"]  # fmt: skip
            if runs and runs[0].data.metrics:
                return int(overrides.parent.parent.name)
    return None


def array_id(env) -> str | None:
    out = subprocess.run(["squeue", "-h", "-o", "%F"], capture_output=True, text=True, env=env)
    ids = out.stdout.split()
    return ids[0] if ids else None


# ---- PostgreSQL ---------------------------------------------------------------------


@pytest.mark.slow
def test_postgres_server_four_joblib_workers_lose_no_run(tmp_path, postgres, daemons):
    _, uri = start_mlflow_server(daemons, postgres)
    p = train_py("-m", "model.depth=1,3", "model.activation=sigmoid,tanh,relu,softplus", *FAST,
                 "hydra/launcher=joblib", "hydra.launcher.n_jobs=4", tmp_path=tmp_path,
                 env={"MLFLOW_TRACKING_URI": uri})  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "8 finished, 0 diverged, 0 failed, 0 killed, 0 not recorded" in p.stdout
    check_sweep(uri, 8)
