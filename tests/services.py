"""Real services for the scale-out tests, each started in a temporary folder on free
ports of 127.0.0.1 and stopped by the fixture that started it: a one-node SLURM
cluster (munged, slurmctld, slurmd), a PostgreSQL cluster, and ``mlflow server``.

Missing packages or privileges skip a test with the reason, except in CI
(``CI=true``), where ``.ci/run`` installs the packages and a skip would hide a
broken setup, so they fail instead.

Imported as ``from services import …`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

#: Debian packages the services come from (``.ci/run`` installs them).
PACKAGES = "postgresql slurmctld slurmd slurm-client munge"


def need(ok: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``ok``; in CI fail instead of skipping."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must provide it: .ci/run installs {PACKAGES})")
    pytest.skip(f"{reason}; as root: apt-get install {PACKAGES}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` every 0.2 s until it returns something true, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Daemons:
    """Processes started in their own session, stopped (whole group) in reverse order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "w") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()[-3000:]

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 30) -> None:
        """Send ``sig`` to ``proc``'s whole process group and wait for it to exit."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        while self.procs:
            self.kill(self.procs.pop()[1])


# ---- SLURM -------------------------------------------------------------------


def slurm_missing() -> str | None:
    """Why a one-node SLURM cluster cannot be started here, or None."""
    tools = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return f"SLURM is not installed (missing {', '.join(missing)})"
    if os.geteuid() != 0:
        return "a SLURM cluster needs root (slurmd starts jobs as their user)"
    return None


def slurm_conf(folder: Path, munge_socket: Path) -> str:
    """slurm.conf of a one-node cluster: this host (``hostname -s``) in partition ``debug``.

    Accounting is off (no slurmdbd), so ``sacct`` answers "accounting storage is
    disabled"; processes are tracked without cgroups, which containers often lack.
    """
    host = socket.gethostname().split(".")[0]
    # the node's CPUs and memory as slurmd sees them, renamed to the short host name
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True)
    fields = [f for f in node.stdout.split()[1:] if not f.startswith("UpTime")]
    return "\n".join([
        "ClusterName=gradlabtest",
        f"SlurmctldHost={host}",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "MpiDefault=none",
        "ReturnToService=2",
        "KillWait=10",
        f"NodeName={host} {' '.join(fields)} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])  # fmt: skip


def start_slurm(daemons: Daemons) -> dict[str, str]:
    """Start munged, slurmctld and slurmd; return the environment that reaches them."""
    folder = daemons.folder
    munge = folder / "munge"
    munge.mkdir(mode=0o755)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    sock = munge / "munge.socket"
    daemons.start("munged", ["munged", "--foreground", "--force", f"--key-file={key}",
                             f"--socket={sock}", f"--pid-file={munge / 'munged.pid'}",
                             f"--seed-file={munge / 'munged.seed'}",
                             f"--log-file={munge / 'munged.log'}"])  # fmt: skip
    wait_for(sock.exists, 30, "munged's socket")
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    conf = folder / "slurm.conf"
    conf.write_text(slurm_conf(folder, sock))
    env = {"SLURM_CONF": str(conf)}
    daemons.start("slurmctld", ["slurmctld", "-D", "-f", str(conf)], env)
    daemons.start("slurmd", ["slurmd", "-D", "-f", str(conf)], env)

    def idle():
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                             env={**os.environ, **env})  # fmt: skip
        return out.stdout.strip() == "idle"

    try:
        wait_for(idle, 60, "the SLURM node to be idle")
    except AssertionError as err:
        raise AssertionError(
            f"{err}\n{daemons.log('slurmctld')}\n{daemons.log('slurmd')}"
        ) from None
    return env


# ---- PostgreSQL ----------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: Debian keeps them in /usr/lib/postgresql/N/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_missing() -> str | None:
    """Why a PostgreSQL-backed MLflow server cannot be started here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL is not installed (no initdb)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the PostgreSQL driver is not installed: pip install -e '.[server]'"
    return None


class Postgres:
    """A throw-away PostgreSQL cluster with database ``mlflow`` owned by ``gradlab``."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        # postgres refuses to run as root; the Debian package's user owns the cluster
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # outside pytest's 0700 tmp folders, so that the postgres user can enter it
        self.folder = Path(tempfile.mkdtemp(prefix="gradlab-pg-"))
        self.folder.chmod(0o755)
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        self.uri = f"postgresql://gradlab@127.0.0.1:{self.port}/mlflow"

    def run(self, tool: str, *args: str) -> None:
        cmd = [*self.as_user, str(self.bin / tool), *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
        assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout}\n{out.stderr}"

    def start(self) -> str:
        self.run("initdb", "-D", str(self.data), "-U", "gradlab", "--auth=trust", "-E", "UTF8")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"),
                 "-o", opts, "-w", "start")  # fmt: skip
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "gradlab", "mlflow")
        return self.uri

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


# ---- MLflow server -------------------------------------------------------------


def mlflow_server_cmd(port: int, backend: str, artifacts: Path) -> list[str]:
    """The README's ``mlflow server`` command, on 127.0.0.1."""
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    return [mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", backend,
            "--artifacts-destination", artifacts.as_uri()]  # fmt: skip


#: gradlab needs none of the server's background jobs (GenAI evaluation and the like).
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def start_mlflow_server(daemons: Daemons, backend: str, name: str = "mlflow", port=None):
    """Start ``mlflow server`` on ``backend``; return (process, URI) once /health answers."""
    port = port or free_port()
    cmd = mlflow_server_cmd(port, backend, daemons.folder / "artifacts")
    proc = daemons.start(name, cmd, SERVER_ENV)
    uri = f"http://127.0.0.1:{port}"

    def healthy():
        import requests

        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited:\n{daemons.log(name)}")
        try:
            return requests.get(f"{uri}/health", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(healthy, 180, "mlflow server /health")
    return proc, uri
