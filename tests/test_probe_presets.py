"""The theory presets end to end, at tiny sizes: scripts in a subprocess, MLflow, the report.

Every probe preset runs through experiments/probe.py, and the two training
presets of the theory figures (exploding, nielsen_ch5, trainability) through
experiments/train.py, into one temporary store, with sizes cut down on the
command line.  The records are then checked against names.py, against hand
calculations, and against gradlab.theory.ensemble recomputed from each run's logged
params, and the report is drawn from the store.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import CONF, ROOT
from threadpoolctl import threadpool_limits

from gradlab import names, theory
from gradlab.jobs.config import presets
from gradlab.report import build as report
from gradlab.theory import ensemble
from gradlab.track.client import client_for

pytestmark = pytest.mark.slow

SMALL = ["probe.width=16", "probe.members=2", "probe.batch=2"]
#: Each probe preset cut down to a few jobs: (extra overrides, jobs).
PROBE_TINY = {
    names.PRESET_MEAN_FIELD: ([*SMALL, "probe.depth=4", "seed=0"], 6),
    names.PRESET_PHASE_DIAGRAM: (
        # depth 5, not 4: a point equal to a probe_mean_field one would be skipped as FINISHED
        [*SMALL, "probe.depth=5", "probe.sigma_w2=0.5,2.0", "probe.sigma_b2=0.0,0.3"],
        4,
    ),
    names.PRESET_JACOBIAN: ([*SMALL, "probe.depth=2,4"], 4),
    # β = 4/8 = 8/16: two shapes of equal β
    names.PRESET_WIDTH_VS_DEPTH: (
        ["probe.members=2", "probe.batch=2", "probe.depth=5,9", "probe.width=8,16", "seed=0"],
        4,
    ),
}
TRAIN_TINY = {
    # depth 10 at width 16 with σ_w² = 8 overflows at SGD step 3 (measured)
    names.PRESET_EXPLODING: (["model.depth=10", "model.gain=2.0", "model.width=16"], 1),
    names.PRESET_NIELSEN_CH5: (["model.depth=2,3", "train.epochs=1", "train.log_every=50"], 2),
    names.PRESET_TRAINABILITY: (
        ["model.gain=1,2", "model.depth=2,3", "model.width=8", "train.epochs=1"],
        4,
    ),
}


def run_preset(name, preset, extra, *, tmp_path, uri):
    """``python experiments/<name> -m +experiment=<preset> <extra>`` into the store ``uri``."""
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / name),
        "-m",
        f"+experiment={preset}",
        *extra,
        f"mlflow.tracking_uri={uri}",
        f"hydra.sweep.dir={tmp_path}/multirun/{preset}",
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600, env=os.environ
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("presets")
    uri = f"sqlite:///{tmp}/store/mlflow.db"
    for name, table in (("probe.py", PROBE_TINY), ("train.py", TRAIN_TINY)):
        for preset, (extra, _) in table.items():
            p = run_preset(name, preset, extra, tmp_path=tmp, uri=uri)
            assert p.returncode == 0, (preset, p.stderr[-3000:])
    return uri


def sweeps(uri):
    """{preset: (parent run, [children])} of the store."""
    client = client_for(uri)
    exp = client.get_experiment_by_name("gradlab")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    out = {}
    for parent in (r for r in runs if r.data.tags.get(names.TAG_KIND) == "sweep"):
        kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        out[parent.data.tags[names.TAG_PRESET]] = (parent, kids)
    return out


def history(client, run_id, key):
    return pd.Series({m.step: m.value for m in client.get_metric_history(run_id, key)})


def test_every_probe_preset_has_a_tiny_run_here():
    assert set(presets(CONF, "probe")) == set(PROBE_TINY)


def test_probe_sweeps_are_recorded_under_their_names(store):
    client = client_for(store)
    found = sweeps(store)
    for preset, (_, jobs) in PROBE_TINY.items():
        parent, kids = found[preset]
        assert parent.info.status == "FINISHED"
        assert len(kids) == jobs
        for r in kids:
            assert r.info.status == "FINISHED", r.data.tags.get(names.TAG_ERROR)
            assert r.data.tags[names.TAG_KIND] == "probe"
            assert r.data.tags[names.TAG_STATUS] == names.STATUS_OK
            kind = r.data.params["probe.kind"]
            L = int(r.data.params["probe.depth"])
            artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
            assert names.ARTIFACT_CONFIG in artifacts
            if kind == "jacobian":
                keys = (
                    names.JACOBIAN_MEAN_S2,
                    names.JACOBIAN_MEAN_S2_PREDICTED,
                    names.JACOBIAN_S2_SPREAD,
                    names.JACOBIAN_CONDITION,
                    names.CHI1,
                )
                assert set(keys) <= set(r.data.metrics)
                path = client.download_artifacts(r.info.run_id, names.ARTIFACT_SINGULAR_VALUES)
                sv = pd.read_csv(path)
                assert list(sv.columns) == list(names.SINGULAR_VALUE_COLUMNS)
                assert len(sv) == 2 * 2 * 16  # members × batch × width
                continue
            assert names.ARTIFACT_PROBE in artifacts
            for q in names.PROBE_PROFILES:
                steps = sorted(history(client, r.info.run_id, f"probe/{q}").index)
                assert steps == list(range(1, L if q == names.PROBE_GRAD_RATIO else L + 1))
            want = (names.NIELSEN_RATIO,) if kind == "nielsen" else (names.CHI1, names.LOG_SLOPE)
            assert set(want) <= set(r.data.metrics)


def test_logged_values_are_the_ensemble_computed_from_the_logged_params(store):
    # Not an independent check of the numbers (test_ensemble.py and test_probe.py do
    # that): the same function on the params and seed the run logged must give exactly
    # what the run logged, so the params describe the run and the job logs what it computed.
    client = client_for(store)
    runs = [r for r in sweeps(store)[names.PRESET_PHASE_DIAGRAM][1]]
    runs += [
        r
        for r in sweeps(store)[names.PRESET_MEAN_FIELD][1]
        if r.data.params["probe.kind"] == "delta"
    ]
    assert len(runs) == 9
    for r in runs:
        p, m = r.data.params, r.data.metrics
        width, depth, init = int(p["probe.width"]), int(p["probe.depth"]), p["probe.init"]
        gain = math.sqrt(m[names.SIGMA_W2] / theory.sigma_w2_of(init, 1.0, width, width))
        with threadpool_limits(limits=1, user_api="blas"):
            ref = ensemble.ensemble_backprop(
                np.random.default_rng(int(p["seed"])),
                width,
                depth,
                p["probe.activation"],
                init,
                gain,
                math.sqrt(float(p["probe.sigma_b2"])),
                int(p["probe.members"]),
                int(p["probe.batch"]),
                input_std=float(p["probe.input_std"]),
            )
        assert m[names.LOG_SLOPE] == pytest.approx(ref.log_slope, rel=1e-12, abs=1e-14)
        logged = history(client, r.info.run_id, "probe/delta_sq").sort_index()
        np.testing.assert_allclose(logged.to_numpy(), ref.delta_sq, rtol=1e-12)


def test_nielsen_chain_logs_exactly_25_per_layer(store):
    client = client_for(store)
    chains = [
        r
        for r in sweeps(store)[names.PRESET_MEAN_FIELD][1]
        if r.data.params["probe.kind"] == "nielsen"
    ]
    assert len(chains) == 1
    (r,) = chains
    ratio = history(client, r.info.run_id, "probe/grad_ratio")
    np.testing.assert_allclose(ratio.to_numpy(), 100 * 0.25, rtol=1e-14)  # w · σ′(0)
    assert r.data.metrics[names.NIELSEN_RATIO] == pytest.approx(25.0, rel=1e-14)


def test_orthogonal_narrows_the_spectrum_as_logged(store):
    spread = {}
    for r in sweeps(store)[names.PRESET_JACOBIAN][1]:
        key = (r.data.params["probe.init"], int(r.data.params["probe.depth"]))
        spread[key] = r.data.metrics[names.JACOBIAN_S2_SPREAD]
    for depth in (2, 4):
        assert spread[("orthogonal", depth)] < 0.5 * spread[("lecun_normal", depth)], spread


def test_exploding_runs_finish_and_are_marked_diverged(store):
    _, kids = sweeps(store)[names.PRESET_EXPLODING]
    assert len(kids) == 1
    for r in kids:
        assert r.info.status == "FINISHED"
        assert r.data.metrics[names.DIVERGED] == 1.0
        assert r.data.tags[names.TAG_STATUS] == names.STATUS_DIVERGED
        assert names.DIVERGED_STEP in r.data.metrics


def test_report_draws_the_theory_figures_from_the_logged_values(store, tmp_path):
    from gradlab.report.catalog import THEORY_FIGURES

    client = client_for(store)
    paths = report.make_report(store, "gradlab", None, tmp_path)
    written = {p.name for p in paths}
    recorded = {*PROBE_TINY, *TRAIN_TINY}  # the recurrent and remedies presets have own tests
    missing = 0
    for fig in THEORY_FIGURES:
        files = {f"{fig.name}.png", f"{fig.name}.svg", f"{fig.name}.csv"}
        if set(fig.presets) <= recorded:
            assert files <= written, fig.name
        else:
            assert not files & written, fig.name
            missing += 1
    index = (tmp_path / "index.md").read_text()
    assert index.split("# Theory and classic results")[1].count("Not drawn") == missing

    # figure 6: every drawn point is what MLflow holds for that run (one seed per case here)
    data = pd.read_csv(tmp_path / "figures" / "theory_delta_vs_layer.csv")
    assert (data["n_runs"] == 1).all() and data["run_ids"].nunique() == 6
    for column, key in (
        ("value", "delta_sq"),
        ("chi1_line", "delta_sq_chi1"),
        ("profile_line", "delta_sq_profile"),
    ):
        for run_id, rows in data.groupby("run_ids"):
            logged = history(client, run_id, f"probe/{key}")
            got = rows.set_index("layer")[column].sort_index()
            pd.testing.assert_series_equal(
                got, logged.loc[got.index], check_names=False, rtol=1e-15
            )
    # figure 7: each grid cell is the slope its run logged
    phase = pd.read_csv(tmp_path / "figures" / "theory_phase_diagram.csv")
    grid = phase[phase["kind"] == "grid"]
    assert len(grid) == 4
    for _, cell in grid.iterrows():
        run = client.get_run(cell["run_ids"])
        assert cell["log_slope"] == pytest.approx(run.data.metrics[names.LOG_SLOPE], rel=1e-15)
    # figure 9 quotes Nielsen's MNIST numbers beside ours; figure 10 marks the overflow
    assert "0.012, 0.06, 0.283" in index and "chap5.html" in index
    assert "diverged at SGD step" in index
    csv = pd.read_csv(tmp_path / "figures" / "exploding_gradients.csv")
    assert csv.loc[csv["part"] == "relu", "diverged"].all()
    # figure 11: each cell's accuracy is the one its run logged, at σ_w² = gain²
    cells = pd.read_csv(tmp_path / "figures" / "trainability.csv")
    cells = cells[cells["kind"] == "cell"]
    assert sorted(cells["sigma_w2"].unique()) == [1.0, 4.0] and len(cells) == 4
    for _, cell in cells.iterrows():
        run = client.get_run(cell["run_ids"])
        assert float(run.data.params["model.gain"]) ** 2 == pytest.approx(cell["sigma_w2"])
        assert cell["accuracy"] == run.data.metrics[names.TEST_ACCURACY]
    # figure 12: each point is the variance its run logged; β = (L − 1)/n by hand
    points = pd.read_csv(tmp_path / "figures" / "width_vs_depth.csv")
    assert len(points) == 4
    for _, p in points.iterrows():
        run = client.get_run(p["run_ids"])
        assert p["var"] == run.data.metrics[names.LN_DELTA1_SQ_VAR]
        assert p["beta"] == pytest.approx((p["depth"] - 1) / p["width"], rel=1e-15)
