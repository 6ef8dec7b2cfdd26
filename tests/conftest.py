"""Fixtures shared by the tests (helpers to import are in helpers.py)."""

from __future__ import annotations

import os

import pytest

# No network here: keep MLflow from trying to send usage telemetry during tests.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def fresh_store(tmp_path):
    """A tracking URI for an MLflow store that does not exist yet."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """A small training store written once by gradlab.jobs.train.run (tests/recorded.py)."""
    from recorded import record

    return record(tmp_path_factory.mktemp("recorded"))
