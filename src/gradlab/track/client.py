"""MLflow at the edge: where runs go, and how one run is recorded.

Everything goes through an explicit ``MlflowClient`` and run id; nothing uses
MLflow's process-global active run or tracking URI, because the joblib
launcher reuses worker processes between jobs.  Metric names come from
:mod:`gradlab.names`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gradlab import names
from gradlab.track import ui

#: The experiment every entry point records into unless mlflow.experiment_name says otherwise.
DEFAULT_EXPERIMENT = "gradlab"

#: Per log_batch call MLflow accepts at most 1000 metrics and 100 params.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000


def default_tracking_uri(root: Path) -> str:
    """``sqlite:///<root>/mlflow.db`` with an absolute path."""
    return f"sqlite:///{(Path(root).resolve() / 'mlflow.db').as_posix()}"


def resolve_tracking_uri(configured: str | None, root: Path) -> str:
    """Command line/config first, then $MLFLOW_TRACKING_URI, then the embedded store."""
    if configured:
        return str(configured)
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(root)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///…`` URI, or None for any other store.

    The one place gradlab parses a tracking URI: ``sqlite:////abs/mlflow.db`` is
    the absolute path /abs/mlflow.db, ``sqlite:///rel.db`` a path relative to the
    working directory.
    """
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return Path(tracking_uri[len(prefix) :])


def artifact_location(tracking_uri: str) -> str | None:
    """Absolute artifact root for a new experiment in a local store.

    For ``sqlite:///…/mlflow.db`` it is ``…/mlruns`` beside the database, so it
    never depends on the working directory; a tracking server decides its own.
    """
    db = sqlite_path(tracking_uri)
    return None if db is None else (db.resolve().parent / "mlruns").as_uri()


def redact(tracking_uri: str) -> str:
    """``tracking_uri`` without a user name or password, fit to print."""
    parts = urlsplit(tracking_uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return tracking_uri


def store_label(tracking_uri: str, root: Path | None = None) -> str:
    """How a report names its store: a SQLite file inside ``root`` by its path relative
    to ``root`` ("`mlflow.db` of this repository"), so a committed report names no
    folder of the machine that made it; any other store by its redacted URI."""
    db = sqlite_path(tracking_uri)
    if db is not None and root is not None:
        try:
            relative = db.resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
        else:
            return f"`{relative.as_posix()}` of this repository"
    return f"`{redact(tracking_uri)}`"


def with_retry(fn: Callable, *args, attempts: int = 8, **kwargs):
    """Call ``fn``, retrying SQLite lock contention with exponential back-off."""
    delay = 0.05
    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # MlflowException wraps sqlalchemy's OperationalError
            text = str(err).lower()
            if i == attempts - 1 or not ("database is locked" in text or "busy" in text):
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


#: Seconds :func:`check_reachable` waits for the store to answer.
REACH_TIMEOUT = 5.0

#: MLflow's retry budget for calls to a tracking server, used unless the environment
#: sets these variables.  MLflow's own defaults (7 retries, back-off factor 2, 120 s
#: timeout) keep a job retrying a dead server for minutes; with these a call to a
#: refused port gives up after retries sleeping 0, 2 and 4 s (plus up to 1 s jitter
#: each), so every job of a sweep whose server died fails within seconds.
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


class StoreUnreachable(RuntimeError):
    """The tracking store did not answer; the message names the URI and what failed."""


def _redact(uri: str) -> str:
    """``uri`` with any password replaced by ``***``."""
    return re.sub(r"(://[^/:@]+):[^/@]*@", r"\1:***@", uri)


def _reason(err: BaseException) -> str:
    """The operating system's words for a failed connection, else the first line of ``err``."""
    text = str(err)
    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if found:
        return found.group(0).strip()
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(err).__name__}: {first}"[:300]


def check_reachable(tracking_uri: str, timeout: float = REACH_TIMEOUT) -> None:
    """Raise :class:`StoreUnreachable` unless the store at ``tracking_uri`` answers in time.

    One attempt, no retries: ``GET <uri>/health`` for an MLflow server
    (``http://``, ``https://``), a connection for a database URI
    (``postgresql://``, ``mysql://``, …), and for ``sqlite:///…`` that the
    nearest existing folder on the database's path is a writable folder (MLflow
    creates the rest).  Other schemes are not checked.
    """
    shown = _redact(tracking_uri)
    scheme = tracking_uri.split(":", 1)[0].lower() if "://" in tracking_uri else ""
    db = sqlite_path(tracking_uri)
    if db is not None:
        folder = db.resolve().parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise StoreUnreachable(
                f"cannot use the MLflow store at {shown}: {folder} is not a writable folder"
            )
        return
    if scheme in ("http", "https"):
        import requests

        url = tracking_uri.rstrip("/") + "/health"
        try:
            answer = requests.get(url, timeout=timeout)
        except requests.Timeout:
            what = f"no answer from GET /health within {timeout:g} s"
        except requests.RequestException as err:
            what = f"GET /health failed: {_reason(err)}"
        else:
            if answer.ok:
                return
            what = f"GET /health answered HTTP {answer.status_code}"
        raise StoreUnreachable(f"cannot reach the MLflow store at {shown}: {what}")
    if scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
        import sqlalchemy

        args = {} if scheme.startswith("mssql") else {"connect_timeout": max(1, round(timeout))}
        engine = None
        try:  # a missing driver (ModuleNotFoundError) is reported the same way
            engine = sqlalchemy.create_engine(tracking_uri, connect_args=args)
            with engine.connect():
                return
        except Exception as err:
            what = _reason(getattr(err, "orig", None) or err)
            raise StoreUnreachable(f"cannot reach the MLflow store at {shown}: {what}") from None
        finally:
            if engine is not None:
                engine.dispose()


_CLIENTS: dict[str, object] = {}


def client_for(tracking_uri: str):
    """An ``MlflowClient`` for ``tracking_uri`` (one per URI per process).

    Caching a client is safe across jobs: it holds a connection, not a run.
    Calls to a tracking server get the bounded retries of
    :data:`HTTP_RETRY_DEFAULTS` unless the environment says otherwise; the
    variables are set in this process, so job processes started after it
    inherit them.
    """
    from mlflow import MlflowClient

    for key, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if tracking_uri not in _CLIENTS:
        _CLIENTS[tracking_uri] = with_retry(MlflowClient, tracking_uri=tracking_uri)
    return _CLIENTS[tracking_uri]


def ensure_experiment(client, name: str, tracking_uri: str) -> str:
    """Experiment id of ``name``, creating it (with an absolute artifact root) if needed.

    A new experiment carries MLflow's "Model training" kind and gradlab's saved
    chart view (:mod:`gradlab.track.ui`); an existing one gets the view if it
    lacks it.  Safe when several processes race: a losing ``create_experiment``
    is followed by a lookup.
    """
    view_key, view_value = ui.view_tag(int(time.time() * 1000))
    exp = with_retry(client.get_experiment_by_name, name)
    if exp is None:
        kind_key, kind_value = names.EXPERIMENT_KIND_TAG
        try:
            return with_retry(
                client.create_experiment,
                name,
                artifact_location=artifact_location(tracking_uri),
                tags={kind_key: kind_value, view_key: view_value},
            )
        except Exception:
            exp = with_retry(client.get_experiment_by_name, name)
            if exp is None:
                raise
    if view_key not in exp.tags:
        with_retry(client.set_experiment_tag, exp.experiment_id, view_key, view_value)
    return exp.experiment_id


def _metric(key: str, value: float, step: int, ts: int):
    from mlflow.entities import Metric

    return Metric(key, float(value), ts, int(step))


def log_metrics(client, run_id: str, metrics: Iterable[tuple[str, float, int]]) -> None:
    """Log (key, value, step) triples in as few ``log_batch`` calls as MLflow allows."""
    ts = int(time.time() * 1000)
    batch = [_metric(k, v, s, ts) for k, v, s in metrics]
    for i in range(0, len(batch), MAX_METRICS_PER_BATCH):
        with_retry(client.log_batch, run_id, metrics=batch[i : i + MAX_METRICS_PER_BATCH])


class MetricBuffer:
    """Collect (key, value, step) triples and send them in as few ``log_batch`` calls as
    possible: when ``interval`` seconds have passed since the last send, when a full
    batch is waiting, and on leaving the ``with`` block, also through an exception, so
    an interrupted run keeps everything it measured.

    A short run thus costs one call for its whole history; a long one streams to the
    UI every ``interval`` seconds.
    """

    def __init__(self, client, run_id: str, interval: float = 2.0) -> None:
        self.client, self.run_id, self.interval = client, run_id, interval
        self._items: list[tuple[str, float, int]] = []
        self._last = time.monotonic()

    def add(self, metrics: Iterable[tuple[str, float, int]]) -> None:
        self._items.extend(metrics)
        full = len(self._items) >= MAX_METRICS_PER_BATCH
        if full or time.monotonic() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self._items:
            log_metrics(self.client, self.run_id, self._items)
            self._items = []
        self._last = time.monotonic()

    def __enter__(self) -> MetricBuffer:
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


def log_params(client, run_id: str, params: Mapping[str, object]) -> None:
    """Log params (stringified, truncated to MLflow's limit) in batches of 100."""
    from mlflow.entities import Param

    items = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
    for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
        with_retry(client.log_batch, run_id, params=items[i : i + MAX_PARAMS_PER_BATCH])


def measurement_metrics(table, step: int, scalars: Mapping[str, float | None]):
    """(key, value, step) for every per-layer quantity of a layer table, plus scalars.

    NaN entries (``update_ratio`` before the first update) are left out: no
    value was measured there, and MLflow's charts would draw a gap as a point.
    """
    out = [
        (names.layer_metric(q, int(layer)), value, step)
        for q in names.PER_LAYER_QUANTITIES
        for layer, value in zip(table["layer"], table[q], strict=True)
        if value == value
    ]
    out += [(k, v, step) for k, v in scalars.items() if v is not None]
    return out


def profile_metrics(table, prefix: str):
    """``profile_init/q`` or ``profile_final/q`` with step = layer l (NaN left out, as in
    :func:`measurement_metrics`)."""
    return [
        (names.profile_metric(prefix, q), value, int(layer))
        for q in names.PROFILE_QUANTITIES
        for layer, value in zip(table["layer"], table[q], strict=True)
        if value == value
    ]


def time_profile_metrics(table, prefix: str):
    """``profile_init/q`` or ``profile_final/q`` of a recurrent run's time table, with
    step = time step t (the MLP's layer l); columns that are NaN for the network
    (the LSTM's cell columns for an RNN and the reverse) are left out."""
    return [
        (names.profile_metric(prefix, q), value, int(t))
        for q in names.TIME_PROFILE_QUANTITIES
        for t, value in zip(table["step"], table[q], strict=True)
        if value == value  # NaN != NaN
    ]
