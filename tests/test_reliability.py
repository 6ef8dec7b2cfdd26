"""Sweeps that run unattended: signals, concurrency, a tracking server, a cluster launcher."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import FAST, ROOT, assert_same_values, check_sweep, sweep_runs, train_py

from gradlab import names
from gradlab.track.client import client_for

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def running_runs(uri, db):
    if not db.exists():
        return []
    try:
        return [r for r in sweep_runs(uri)[2] if r.info.status == "RUNNING"]
    except Exception:  # store still being created
        return []


def test_sigterm_marks_the_run_killed_and_keeps_its_metrics(tmp_path, store_at):
    uri = store_at(tmp_path / "store")
    db = tmp_path / "store" / "mlflow.db"
    cmd = [sys.executable, str(ROOT / "experiments" / "train.py"), "-m", "model.depth=3",
           "train.epochs=200", "train.log_every=20", f"mlflow.tracking_uri={uri}",
           f"hydra.sweep.dir={tmp_path}/multirun"]  # fmt: skip
    out = open(tmp_path / "stdout.txt", "w")  # closed below
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=out, stderr=subprocess.PIPE, text=True)
    try:
        # look for runs only once the sweep has created its experiment and parent run
        wait_for(lambda: "[gradlab] sweep" in (tmp_path / "stdout.txt").read_text(), 300,
                 "the sweep's parent run")  # fmt: skip
        (run,) = wait_for(lambda: running_runs(uri, db), 300, "a RUNNING run")
        client = client_for(uri)
        metric = names.layer_metric("grad_b_norm", 1)
        wait_for(lambda: len(client.get_metric_history(run.info.run_id, metric)) >= 3, 300,
                 "three logged steps")  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=300)[1]
    finally:
        proc.kill()
        out.close()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    r = client.get_run(run.info.run_id)
    assert r.info.status == "KILLED"
    assert len(client.get_metric_history(run.info.run_id, metric)) >= 3
    (parent,) = sweep_runs(uri)[1]
    assert parent.info.status == "KILLED"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tracking_server(tmp_path, store_at):
    """``mlflow server`` on 127.0.0.1 with a SQLite backend, stopped after the test."""
    backend = store_at(tmp_path / "server")
    port = free_port()
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    log = open(tmp_path / "server.log", "w")  # closed in teardown
    proc = subprocess.Popen(
        [mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", backend,
         "--artifacts-destination", (tmp_path / "server-artifacts").as_uri(),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return proc.poll() is not None  # died: stop waiting, the assert below says why

    wait_for(up, 120, "the tracking server")
    assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_tracking_server_and_submitit_match_the_embedded_store(
    tmp_path, tracking_server, basic_sweep
):
    # the server is chosen through the environment, as a team would set it
    q = train_py(
        "-m",
        "model.depth=1,3",
        *FAST,
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        tmp_path=tmp_path,
        env={"MLFLOW_TRACKING_URI": tracking_server},
    )
    assert q.returncode == 0, q.stderr[-3000:]
    assert_same_values(basic_sweep[0], check_sweep(tracking_server, 2))
