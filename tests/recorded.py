"""A small training store written by the real run-recording code, for the report tests.

Every run is :func:`gradlab.jobs.train.run` on the composed ``conf/config.yaml``
with tiny sizes, nested under a parent run tagged as the sweep callback tags
it, into a temporary SQLite store.  ``conftest.py`` records it once per test
session (fixture ``recorded``).

Sweeps, oldest first:

- OLD: one sigmoid run.
- BARE: one FINISHED run whose artifacts step was skipped (no ``history.csv``).
- NEW (latest): :data:`POINTS`, of which ``leaky`` diverges on its first SGD
  step; before them a FAILED attempt of ``sig4s0`` that the later run of the
  same config supersedes, and after them a FAILED run that never wrote its
  history (``failed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from unittest import mock

from helpers import ROOT, train_cfg

from gradlab import names
from gradlab.jobs import train
from gradlab.track.client import client_for
from gradlab.track.record import SweepContext

NEW, OLD, BARE = "a1b2c3d4e5f6", "0123456789ab", "feedbeef0000"
#: 72 SGD steps of 20 samples; history at steps 0 (init), 50 (train) and 72 (final).
TINY = {
    "model.width": 8,
    "train.epochs": 1,
    "train.batch_size": 20,
    "train.log_every": 50,
    "train.probe_size": 100,
    "train.cost": "quadratic",
}
#: ReLU-like growth (60 per layer at width 8) that overflows on the first SGD step.
DIVERGES = {
    "model.activation": "leaky_relu",
    "model.init": "normal",
    "model.gain": 30.0,
    "model.depth": 20,
    "train.lr": 1.0,
    "model.output_activation": "linear",
}


def _point(activation, depth, init, seed, **extra):
    keys = ("model.activation", "model.depth", "model.init", "seed")
    return dict(zip(keys, (activation, depth, init, seed), strict=True)) | extra


#: key -> overrides of the points of sweep NEW.
POINTS = {
    **{f"sig{d}s{s}": _point("sigmoid", d, "lecun_normal", s) for d in (2, 4) for s in (0, 1, 2)},
    "tanh_xavier": _point("tanh", 4, "xavier_normal", 0),
    "tanh_he": _point("tanh", 4, "he_normal", 0),
    "relu2": _point("relu", 2, "he_normal", 0),
    "relu4": _point("relu", 4, "he_normal", 0),
    "leaky": DIVERGES | {"seed": 0},
}


@dataclass(frozen=True)
class Store:
    uri: str
    client: object
    ids: dict  # key of POINTS (or 'old', 'bare', 'superseded', 'failed') -> run id


class _Broken(RuntimeError):
    pass


def _parent(client, exp_id: str, sweep_id: str) -> SweepContext:
    tags = {names.TAG_KIND: "sweep", names.TAG_SWEEP_ID: sweep_id}
    run = client.create_run(exp_id, tags=tags, run_name=f"sweep-custom-{sweep_id}")
    return SweepContext(run.info.run_id, sweep_id)


def _run(uri: str, sweep: SweepContext, overrides: dict, *, artifacts=None) -> str:
    """One job through gradlab.jobs.train.run; ``artifacts`` replaces its artifacts step."""
    cfg = train_cfg(**{"mlflow.tracking_uri": uri, **TINY, **overrides})
    if artifacts is None:
        return train.run(cfg, ROOT, sweep)["run_id"]
    with mock.patch.object(train, "_log_artifacts", artifacts):
        try:
            return train.run(cfg, ROOT, sweep)["run_id"]
        except _Broken:
            client = client_for(uri)
            exp = client.get_experiment_by_name("gradlab").experiment_id
            found = client.search_runs([exp], order_by=["attributes.start_time DESC"])
            return found[0].info.run_id


def _skip(*args, **kwargs) -> None:
    """An artifacts step that writes nothing."""


def _fail(*args, **kwargs) -> None:
    raise _Broken("artifacts step failed")


def record(tmp_path) -> Store:
    """Record the sweeps OLD, BARE and NEW into ``<tmp_path>/mlflow.db``."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = client_for(uri)
    ids = {}
    # the first job creates the experiment; the parent needs it first
    exp_id = client.create_experiment("gradlab", artifact_location=(tmp_path / "mlruns").as_uri())
    client.create_experiment("empty", artifact_location=(tmp_path / "mlruns-empty").as_uri())
    ids["old"] = _run(uri, _parent(client, exp_id, OLD), POINTS["sig2s0"])
    ids["bare"] = _run(uri, _parent(client, exp_id, BARE), POINTS["sig2s0"], artifacts=_skip)
    new = _parent(client, exp_id, NEW)
    ids["superseded"] = _run(uri, new, POINTS["sig4s0"], artifacts=_fail)
    for key, overrides in POINTS.items():
        ids[key] = _run(uri, new, overrides)
    ids["failed"] = _run(uri, new, _point("relu", 3, "he_normal", 0), artifacts=_fail)
    return Store(uri, client, ids)
