"""Reading runs back: the latest run per point, the tally, typed params, URI parsing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.track.client import artifact_location, redact, sqlite_path
from gradlab.track.read import coerce_params, latest_per_point, runs_frame, tally


def run(run_id, start, status="FINISHED", sweep="s1", chash="h", verdict=None, **extra):
    tags = {names.TAG_SWEEP_ID: sweep, names.TAG_CONFIG_HASH: chash}
    if verdict:
        tags[names.TAG_STATUS] = verdict
    info = SimpleNamespace(run_id=run_id, run_name=run_id, status=status, start_time=start,
                           end_time=None)  # fmt: skip
    data = SimpleNamespace(tags=tags, params=extra.get("params", {}), metrics=extra.get("m", {}))
    return SimpleNamespace(info=info, data=data)


def test_latest_per_point_keeps_the_newest_attempt_of_each_sweep_point():
    runs = [
        run("a-failed", 1, "FAILED", chash="a"),
        run("b", 2, chash="b"),
        run("a-retry", 3, chash="a"),
        run("a-other-sweep", 0, sweep="s2", chash="a"),  # same config, another sweep: kept
        run("no-hash-1", 4, chash=""),  # no config hash: each run is its own point
        run("no-hash-2", 5, chash=""),
    ]
    kept = {r.info.run_id for r in latest_per_point(runs)}
    assert kept == {"a-retry", "b", "a-other-sweep", "no-hash-1", "no-hash-2"}
    # the order of the input does not matter
    assert {r.info.run_id for r in latest_per_point(runs[::-1])} == kept


def test_tally_counts_the_latest_attempt_only():
    runs = [
        run("p1", 1, "KILLED", chash="1"),
        run("p1-resumed", 2, "FINISHED", chash="1"),
        run("p2", 3, "FINISHED", chash="2", verdict=names.STATUS_DIVERGED),
        run("p3", 4, "FAILED", chash="3"),
        run("p4", 5, "RUNNING", chash="4"),
        run("p5", 6, "KILLED", chash="5"),
    ]
    assert tally(runs) == {"finished": 1, "diverged": 1, "failed": 1, "killed": 1, "running": 1}


def test_coerce_params_types_mlflow_strings():
    raw = pd.DataFrame(
        {
            "model.depth": ["5", "None"],
            "model.gain": ["1.5", "2"],
            "probe.sigma_b2": ["0.05", "0"],
            "seed": ["0", "3"],
            "model.init": ["he_normal", "orthogonal"],
            "diverged": [1.0, np.nan],
        }
    )
    out = coerce_params(raw)
    assert str(out["model.depth"].dtype) == "Int64" and out["model.depth"][0] == 5
    assert out["model.depth"].isna()[1]
    assert out["model.gain"].tolist() == [1.5, 2.0]
    assert out["probe.sigma_b2"].tolist() == [0.05, 0.0]
    assert out["seed"].tolist() == [0, 3]
    assert out["model.init"].tolist() == ["he_normal", "orthogonal"]
    assert out["diverged"].tolist() == [True, False]
    assert "diverged" not in coerce_params(raw.drop(columns="diverged"))


def test_runs_frame_marks_a_run_diverged_by_its_tag_too():
    runs = [
        run("ok", 1, m={names.DIVERGED: 0.0}, params={"model.depth": "3"}),
        run("tagged", 2, chash="x", verdict=names.STATUS_DIVERGED, params={"model.depth": "4"}),
    ]
    frame = runs_frame(runs)
    assert frame["diverged"].tolist() == [False, True]
    assert frame["model.depth"].tolist() == [3, 4]
    assert frame[names.VANISH_RATIO].isna().all()  # a metric the runs lack is NaN
    assert frame[f"tags.{names.TAG_ERROR}"].tolist() == ["", ""]


def test_tracking_uris_are_parsed_in_one_place(tmp_path):
    assert sqlite_path("sqlite:////a/b/mlflow.db") == Path("/a/b/mlflow.db")
    assert sqlite_path("sqlite:///rel.db") == Path("rel.db")
    assert sqlite_path("http://host:5000") is None
    db = tmp_path / "x" / "mlflow.db"
    assert artifact_location(f"sqlite:///{db}") == (tmp_path / "x" / "mlruns").as_uri()
    assert artifact_location("http://host:5000") is None
    assert redact("http://user:secret@host:5000/x") == "http://host:5000/x"
    assert redact("https://token@host/x") == "https://host/x"
    assert redact("sqlite:////a/b.db") == "sqlite:////a/b.db"
