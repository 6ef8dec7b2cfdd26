"""The report reads a sweep from MLflow and regenerates every figure and index.md.

A small fake sweep goes into a temporary SQLite store in exactly the layout of
gradlab.names (parent run + nested children, params, tags, per-layer and
profile metrics, summaries, history.csv and config.yaml artifacts); the runs
are real engine runs (test_plotting.engine_run).  The figure data are then
compared with what MLflow holds, through MLflow's own metric API.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from PIL import Image
from test_plotting import engine_run

from gradlab import names
from gradlab.report import build as report
from gradlab.report import plotting
from gradlab.report.build import ReportError

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_790_000_000_000  # ms since the epoch: 2026-09-21, fixed so captions are known
NEW, OLD, BARE = "a1b2c3d4e5f6", "0123456789ab", "feedbeef0000"

#: (activation, depth, init, seed, kwargs, status) of the children of sweep NEW
CHILDREN = [
    ("sigmoid", 2, "lecun_normal", 0, {}, "FINISHED"),
    ("sigmoid", 4, "lecun_normal", 0, {}, "FINISHED"),
    ("sigmoid", 4, "lecun_normal", 1, {}, "FINISHED"),
    ("tanh", 4, "xavier_normal", 0, {}, "FINISHED"),
    ("relu", 4, "he_normal", 0, {}, "FINISHED"),
    ("leaky_relu", 4, "he_normal", 0, {"output": "linear", "lr": 1.0}, "FINISHED"),  # diverges
]


def _record(client, exp_id, parent, sweep_id, spec, start, *, status="FINISHED", history=True):
    """One training run in the layout the runner writes; returns its run id."""
    act, depth, init, seed, kw, _ = spec
    params, hist, summary = engine_run(act, depth, init, seed, **kw)
    diverged = summary[names.DIVERGED] == 1.0
    tags = {
        "mlflow.parentRunId": parent,
        names.TAG_SWEEP_ID: sweep_id,
        names.TAG_KIND: "train",
        names.TAG_STATUS: names.STATUS_DIVERGED if diverged else names.STATUS_OK,
        names.TAG_CONFIG_HASH: f"{act}{depth}{init}{seed}{sorted(kw.items())}",
        names.TAG_VERSION: "0.1.0",
        names.TAG_GIT_COMMIT: "0" * 40,
    }
    name = f"{act}-d{depth}-{init}-s{seed}"
    run_id = client.create_run(exp_id, start_time=start, tags=tags, run_name=name).info.run_id
    metrics = []
    for step, table in hist.groupby("step"):
        metrics += [
            Metric(names.layer_metric(q, int(layer)), float(v), start + int(step), int(step))
            for q in names.PER_LAYER_QUANTITIES
            for layer, v in zip(table["layer"], table[q], strict=True)
        ]
    for phase, prefix in (
        (names.PHASE_INIT, names.PROFILE_INIT),
        (names.PHASE_FINAL, names.PROFILE_FINAL),
    ):
        table = hist[hist["phase"] == phase]
        metrics += [
            Metric(names.profile_metric(prefix, q), float(v), start, int(layer))
            for q in names.PROFILE_QUANTITIES
            for layer, v in zip(table["layer"], table[q], strict=True)
        ]
    metrics += [Metric(k, float(v), start, 0) for k, v in summary.items()]
    client.log_batch(run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()])
    if history:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / names.ARTIFACT_HISTORY
            hist.to_csv(path, index=False, float_format="%.17g")
            client.log_artifact(run_id, str(path))
        client.log_text(
            run_id, "\n".join(f"{k}: {v}" for k, v in params.items()), names.ARTIFACT_CONFIG
        )
    client.set_terminated(run_id, status, end_time=start + 1000)
    return run_id


def _parent(client, exp_id, sweep_id, start):
    tags = {names.TAG_KIND: "sweep", names.TAG_SWEEP_ID: sweep_id}
    run = client.create_run(exp_id, start_time=start, tags=tags, run_name=f"sweep-{sweep_id}")
    return run.info.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Three sweeps and an empty experiment in one SQLite store.

    OLD (oldest): one sigmoid run.  BARE: one run whose history artifact is
    missing.  NEW (latest): CHILDREN, one of which diverges, plus a FAILED
    attempt that a later run of the same config supersedes and a FAILED run
    that never wrote its history.
    """
    tmp = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{tmp}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("gradlab", artifact_location=(tmp / "mlruns").as_uri())
    client.create_experiment("empty", artifact_location=(tmp / "mlruns-empty").as_uri())
    ids = {}
    p = _parent(client, exp, OLD, T0)
    ids["old"] = _record(client, exp, p, OLD, CHILDREN[0], T0 + 1)
    p = _parent(client, exp, BARE, T0 + 10_000)
    ids["bare"] = _record(client, exp, p, BARE, CHILDREN[0], T0 + 10_001, history=False)
    p = _parent(client, exp, NEW, T0 + 20_000)
    start = T0 + 20_001
    ids["superseded"] = _record(client, exp, p, NEW, CHILDREN[1], start, status="FAILED")
    for i, spec in enumerate(CHILDREN):
        ids[i] = _record(client, exp, p, NEW, spec, start + 100 * (i + 1))
    failed = ("relu", 2, "he_normal", 0, {}, "FAILED")
    ids["failed"] = _record(
        client, exp, p, NEW, failed, start + 900, status="FAILED", history=False
    )
    return uri, client, ids


@pytest.fixture(scope="module")
def made(store, tmp_path_factory):
    """The report of the latest sweep, written once for the module."""
    uri, _, _ = store
    out = tmp_path_factory.mktemp("report")
    return out, report.make_report(uri, "gradlab", None, out)


def test_load_runs_one_typed_row_per_child_of_the_latest_sweep(store):
    uri, _, ids = store
    runs = report.load_runs(uri, "gradlab")
    # the FAILED first attempt is superseded by the later run of the same config
    want = {ids[i] for i in range(len(CHILDREN))} | {ids["failed"]}
    assert set(runs["run_id"]) == want and len(runs) == len(want)
    assert runs.attrs["sweep"].sweep_id == NEW and runs.attrs["sweep"].superseded == 1
    assert str(runs["model.depth"].dtype) == "Int64" and runs["model.gain"].dtype == np.float64
    assert runs["diverged"].dtype == bool
    assert runs.loc[runs["run_id"] == ids[5], "diverged"].item()
    assert (runs[f"tags.{names.TAG_SWEEP_ID}"] == NEW).all()
    assert runs.loc[runs["run_id"] == ids["failed"], "status"].item() == "FAILED"
    assert (runs["parent_run_id"] != "").all()


def test_load_runs_selects_sweeps_and_filters(store):
    uri, _, ids = store
    assert report.load_runs(uri, "gradlab", OLD)["run_id"].tolist() == [ids["old"]]
    every = report.load_runs(uri, "gradlab", "all")
    assert {ids["old"], ids["bare"]} <= set(every["run_id"]) and len(every) == 9
    sig = report.load_runs(uri, "gradlab", NEW, filter="params.`model.activation` = 'sigmoid'")
    assert set(sig["model.activation"]) == {"sigmoid"} and len(sig) == 3
    with pytest.raises(ReportError, match="no training runs in sweep `nope`"):
        report.load_runs(uri, "gradlab", "nope")
    with pytest.raises(ValueError, match="sweep=\"x' OR '1\" is not allowed"):
        report.load_runs(uri, "gradlab", "x' OR '1")


def test_load_history_reads_each_runs_csv(store):
    uri, client, ids = store
    runs = report.load_runs(uri, "gradlab")
    history = report.load_history(client, runs)
    assert ids["failed"] not in set(history["run_id"])  # it has no artifact
    assert list(history.columns) == ["run_id", *names.HISTORY_COLUMNS]
    one = history[history["run_id"] == ids[1]]
    metric = client.get_metric_history(ids[1], names.layer_metric("grad_b_norm", 3))
    want = pd.Series({m.step: m.value for m in metric}).sort_index()
    got = one[one["layer"] == 3].drop_duplicates("step", keep="last").set_index("step")
    np.testing.assert_allclose(got["grad_b_norm"].sort_index(), want, rtol=1e-15)


def test_report_writes_every_figure_and_index(made):
    out, paths = made
    figures = out / "figures"
    for name in report.FIGURE_NAMES:
        for suffix in (".png", ".svg", ".csv"):
            assert (figures / f"{name}{suffix}").is_file(), name + suffix
        with Image.open(figures / f"{name}.png") as png:
            assert min(png.info["dpi"]) >= 199.5  # print resolution (PNG stores dots per metre)
        assert imread(figures / f"{name}.png").shape[0] > 800
    assert all(p.resolve().is_relative_to(out.resolve()) for p in paths)
    assert len(paths) == 3 * len(report.FIGURE_NAMES) + 1
    index = (out / "index.md").read_text()
    for name in report.FIGURE_NAMES:
        assert f"](figures/{name}.png)" in index
    assert f"sweep `{NEW}`" in index and "7 training runs" in index
    assert "2026-09-21" in index
    assert index.count("*Runs:") == len(report.FIGURE_NAMES) + 1  # + the table


def test_figure1_data_equal_the_values_logged_in_mlflow(store, made):
    uri, client, _ = store
    out, _ = made
    data = pd.read_csv(out / "figures" / "gradient_vs_layer.csv")
    runs = report.load_runs(uri, "gradlab")
    chosen = plotting.natural_init_runs(runs[runs["run_id"] != store[2]["failed"]])
    medians = data[data["kind"] == "median"]
    # every chosen run is behind figure 1 at initialisation: none silently dropped
    init_ids = set(",".join(medians.loc[medians["phase"] == "init", "run_ids"]).split(","))
    assert init_ids == set(chosen["run_id"])
    for (phase, ids), rows in medians.groupby(["phase", "run_ids"]):
        prefix = names.PROFILE_INIT if phase == "init" else names.PROFILE_FINAL
        key = names.profile_metric(prefix, "grad_b_norm")
        logged = pd.DataFrame(
            {
                rid: pd.Series({m.step: m.value for m in client.get_metric_history(rid, key)})
                for rid in ids.split(",")
            }
        )  # (layer, run) as MLflow holds them
        want = logged.median(axis=1).loc[rows["layer"]].to_numpy()
        np.testing.assert_allclose(rows["value"], want, rtol=1e-13)
    for _, rows in data[data["kind"] == "diverged"].groupby("run_ids"):
        rid, step = rows["run_ids"].iloc[0], int(rows["step"].iloc[0])
        for layer, value in zip(rows["layer"], rows["value"], strict=True):
            hist = client.get_metric_history(rid, names.layer_metric("grad_b_norm", int(layer)))
            assert value == pytest.approx(next(m.value for m in hist if m.step == step), rel=1e-13)


def test_bound_line_is_never_below_the_measured_curve(made):
    out, _ = made
    for name in ("gradient_vs_layer", "gradient_vs_layer_by_init"):
        data = pd.read_csv(out / "figures" / f"{name}.csv")
        assert len(data) and (data["value"] <= data["bound"] * (1 + 1e-12)).all()


def test_diverged_run_appears_marked(store, made):
    _, _, ids = store
    out, _ = made
    data = pd.read_csv(out / "figures" / "gradient_vs_layer.csv")
    assert set(data.loc[data["kind"] == "diverged", "run_ids"]) == {ids[5]}
    index = (out / "index.md").read_text()
    row = next(line for line in index.splitlines() if line.startswith("| `leaky_relu-d4"))
    assert "**yes** (step" in row
    assert "1 run(s) diverged" in index


def test_partial_store_is_reported_not_hidden(made):
    out, _ = made
    index = (out / "index.md").read_text()
    assert "1 run(s) have no `history.csv`" in index and "`relu-d2-he_normal-s0`" in index
    assert "1 run(s) did not finish: `relu-d2-he_normal-s0` FAILED" in index
    assert "1 older attempt(s)" in index
    table = [line for line in index.splitlines() if line.startswith("| `")]
    assert len(table) == 7


def test_sweep_without_history_draws_what_it_can_and_removes_stale_files(store, tmp_path):
    uri, _, _ = store
    stale = tmp_path / "figures"
    stale.mkdir()
    (stale / "gradient_vs_layer.png").write_bytes(b"old")
    paths = report.make_report(uri, "gradlab", BARE, tmp_path)
    assert {p.name for p in paths} == {
        "vanishing_vs_depth.png",
        "vanishing_vs_depth.svg",
        "vanishing_vs_depth.csv",
        "index.md",
    }
    assert not (stale / "gradient_vs_layer.png").exists()
    index = (tmp_path / "index.md").read_text()
    assert "Not drawn: no run has its per-layer history (history.csv)" in index


def test_empty_or_missing_stores_give_a_clear_message(store, tmp_path):
    uri, _, _ = store
    with pytest.raises(ReportError, match=r"^no training runs in experiment 'empty' at sqlite"):
        report.make_report(uri, "empty", None, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written
    with pytest.raises(ReportError, match=r"no experiment named 'nope'.*gradlab"):
        report.load_runs(uri, "nope")
    with pytest.raises(ReportError, match=r"no MLflow store at .*missing\.db; run `make run`"):
        report.load_runs(f"sqlite:///{tmp_path}/missing.db", "gradlab")
    assert not (tmp_path / "missing.db").exists()


def test_redact_hides_credentials():
    assert report.redact("http://user:secret@host:5000/x") == "http://host:5000/x"
    assert report.redact("sqlite:////a/b.db") == "sqlite:////a/b.db"


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_report", ROOT / "reports" / "make_report.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_help_and_errors(store, tmp_path, capsys):
    uri, _, _ = store
    script = _script()
    with pytest.raises(SystemExit) as done:
        script.main(["--help"])
    assert done.value.code == 0
    assert "--tracking-uri" in capsys.readouterr().out
    assert script.main(["--tracking-uri", uri, "--experiment", "nope", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("make_report: no experiment named 'nope'")
    assert script.main(["--tracking-uri", uri, "--sweep", "a'b", "--out", str(tmp_path)]) == 1
    assert "is not allowed" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as done:
        script.main(["--tracking-uri", uri, "--out", str(tmp_path / "file")])
    assert done.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    # a sweep whose runs lack their history: quick, and only figure 2 can be drawn
    assert script.main(["--tracking-uri", uri, "--sweep", BARE, "--out", str(tmp_path)]) == 0
    assert "wrote 1 figures" in capsys.readouterr().out
    assert f"sweep `{BARE}`" in (tmp_path / "index.md").read_text()


def test_store_without_theory_presets_names_each_missing_figure(made):
    out, _ = made
    index = (out / "index.md").read_text()
    theory = index.split("# Theory and classic results")[1]
    for preset, script in (
        ("probe_mean_field", "probe.py"),
        ("phase_diagram", "probe.py"),
        ("jacobian_spectrum", "probe.py"),
        ("nielsen_ch5", "train.py"),
    ):
        assert (
            f"Not drawn: no sweep of preset `{preset}` in this experiment; record it with "
            f"`python experiments/{script} -m +experiment={preset}`"
        ) in theory
    assert "`python experiments/train.py -m +experiment=exploding`" in theory
    assert theory.count("Not drawn") == 5
    assert not list((out / "figures").glob("theory_*"))


def test_latest_training_sweep_skips_theory_presets_and_probe_sweeps(store, tmp_path):
    uri, client, _ = store
    exp = client.create_experiment("selection", artifact_location=(tmp_path / "mlruns").as_uri())
    mine = _parent(client, exp, "custom000001", T0 + 50_000)
    _record(client, exp, mine, "custom000001", CHILDREN[0], T0 + 50_001)
    # newer: a theory preset's training sweep, and a probe sweep without a preset
    tags = {names.TAG_KIND: "sweep", names.TAG_SWEEP_ID: "theory000001"}
    preset = {**tags, names.TAG_PRESET: names.PRESET_NIELSEN_CH5}
    later = client.create_run(exp, start_time=T0 + 60_000, tags=preset).info.run_id
    _record(client, exp, later, "theory000001", CHILDREN[1], T0 + 60_001)
    probes = {**tags, names.TAG_SWEEP_ID: "probes000001"}
    last = client.create_run(exp, start_time=T0 + 70_000, tags=probes).info.run_id
    kid = {names.TAG_KIND: "probe", "mlflow.parentRunId": last, names.TAG_SWEEP_ID: "probes000001"}
    client.create_run(exp, start_time=T0 + 70_001, tags=kid)
    runs = report.load_runs(uri, "selection")
    assert runs.attrs["sweep"].sweep_id == "custom000001"
    assert len(runs) == 1 and runs["model.depth"].iloc[0] == CHILDREN[0][1]
