"""Fixtures shared by the tests (helpers to import are in helpers.py)."""

from __future__ import annotations

import os
import shutil

import pytest
from helpers import BASIC_SWEEP, train_py

# No network here: keep MLflow from trying to send usage telemetry during tests.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """An empty SQLite store with MLflow's schema, made once per test run.

    MLflow runs its schema migrations on every new SQLite store (seconds); a copy
    of this file is a store in the same state without them.  It holds no
    experiment, so each copy creates its own with its own artifact root.
    """
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def store_at(migrated_db):
    """``store_at(folder)``: a copy of the migrated store at folder/mlflow.db, as a URI."""

    def make(folder):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated_db, folder / "mlflow.db")
        return f"sqlite:///{folder / 'mlflow.db'}"

    return make


@pytest.fixture(scope="session")
def basic_sweep(tmp_path_factory, migrated_db):
    """``experiments/train.py`` run once as BASIC_SWEEP: (uri, its completed process, tmp)."""
    tmp = tmp_path_factory.mktemp("basic_sweep")
    (tmp / "store").mkdir()
    shutil.copyfile(migrated_db, tmp / "store" / "mlflow.db")
    uri = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    return uri, train_py(*BASIC_SWEEP, f"mlflow.tracking_uri={uri}", tmp_path=tmp), tmp


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """A small training store written once by gradlab.jobs.train.run (tests/recorded.py)."""
    from recorded import record

    return record(tmp_path_factory.mktemp("recorded"))
