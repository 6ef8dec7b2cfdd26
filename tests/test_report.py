"""The report reads a sweep from MLflow and regenerates every figure and index.md.

The store is the session store of ``recorded.py``: sweeps recorded by
gradlab.jobs.train.run (parent run + nested children, params, tags, per-layer
and profile metrics, summaries, history.csv and config.yaml artifacts), with a
superseded attempt, a failed run and a sweep without history tables.  The
figure data are compared with what MLflow holds, through MLflow's own metric API.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from PIL import Image
from recorded import BARE, NEW, OLD, POINTS, _parent, _run

from gradlab import names
from gradlab.report import build as report
from gradlab.report.catalog import FIGURE_NAMES, THEORY_FIGURE_NAMES
from gradlab.report.frames import natural_init_runs
from gradlab.report.load import ReportError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(recorded):
    return recorded.uri, recorded.client, recorded.ids


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
    want = {ids[key] for key in POINTS} | {ids["failed"]}
    assert set(runs["run_id"]) == want and len(runs) == len(want)
    assert runs.attrs["sweep"].sweep_id == NEW and runs.attrs["sweep"].superseded == 1
    assert str(runs["model.depth"].dtype) == "Int64" and runs["model.gain"].dtype == np.float64
    assert runs["diverged"].dtype == bool
    assert runs.loc[runs["run_id"] == ids["leaky"], "diverged"].item()
    assert (runs[f"tags.{names.TAG_SWEEP_ID}"] == NEW).all()
    assert runs.loc[runs["run_id"] == ids["failed"], "status"].item() == "FAILED"
    assert (runs["parent_run_id"] != "").all()


def test_load_runs_selects_sweeps_and_filters(store):
    uri, _, ids = store
    assert report.load_runs(uri, "gradlab", OLD)["run_id"].tolist() == [ids["old"]]
    every = report.load_runs(uri, "gradlab", "all")
    assert {ids["old"], ids["bare"]} <= set(every["run_id"]) and len(every) == 2 + len(POINTS) + 1
    sig = report.load_runs(uri, "gradlab", NEW, filter="params.`model.activation` = 'sigmoid'")
    assert set(sig["model.activation"]) == {"sigmoid"} and len(sig) == 6
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
    one = history[history["run_id"] == ids["sig4s0"]]
    metric = client.get_metric_history(ids["sig4s0"], names.layer_metric("grad_b_norm", 3))
    want = pd.Series({m.step: m.value for m in metric}).sort_index()
    got = one[one["layer"] == 3].drop_duplicates("step", keep="last").set_index("step")
    np.testing.assert_allclose(got["grad_b_norm"].sort_index(), want, rtol=1e-15)


def test_report_writes_every_figure_and_index(made, store):
    out, paths = made
    _, client, ids = store
    started = client.get_run(ids["sig2s0"]).info.start_time
    day = pd.Timestamp(started, unit="ms", tz="UTC").strftime("%Y-%m-%d")
    figures = out / "figures"
    for name in FIGURE_NAMES:
        for suffix in (".png", ".svg", ".csv"):
            assert (figures / f"{name}{suffix}").is_file(), name + suffix
        with Image.open(figures / f"{name}.png") as png:
            assert min(png.info["dpi"]) >= 199.5  # print resolution (PNG stores dots per metre)
        assert imread(figures / f"{name}.png").shape[0] > 800
    assert all(p.resolve().is_relative_to(out.resolve()) for p in paths)
    assert len(paths) == 3 * len(FIGURE_NAMES) + 2  # + index.md and index.html
    index = (out / "index.md").read_text()
    for name in FIGURE_NAMES:
        assert f"](figures/{name}.png)" in index
    assert f"sweep `{NEW}`" in index and f"{len(POINTS) + 1} training runs" in index
    assert day in index
    assert index.count("*Runs:") == len(FIGURE_NAMES) + 1  # + the table


def test_figure1_data_equal_the_values_logged_in_mlflow(store, made):
    uri, client, _ = store
    out, _ = made
    data = pd.read_csv(out / "figures" / "gradient_vs_layer.csv")
    runs = report.load_runs(uri, "gradlab")
    chosen = natural_init_runs(runs[runs["run_id"] != store[2]["failed"]])
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
    assert set(data.loc[data["kind"] == "diverged", "run_ids"]) == {ids["leaky"]}
    index = (out / "index.md").read_text()
    row = next(line for line in index.splitlines() if line.startswith("| `leaky_relu-d20"))
    assert "**yes** (step" in row
    assert "1 run(s) diverged" in index


def test_partial_store_is_reported_not_hidden(made):
    out, _ = made
    index = (out / "index.md").read_text()
    assert "1 run(s) have no `history.csv`" in index and "`relu-d3-he_normal-s0`" in index
    assert "1 run(s) did not finish: `relu-d3-he_normal-s0` FAILED" in index
    assert "1 older attempt(s)" in index
    table = [line for line in index.splitlines() if line.startswith("| `")]
    assert len(table) == len(POINTS) + 1


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
        "index.html",
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
        ("trainability", "train.py"),
        ("width_vs_depth", "probe.py"),
    ):
        assert (
            f"Not drawn: no sweep of preset `{preset}` in this experiment; record it with "
            f"`python experiments/{script} -m +experiment={preset}`"
        ) in theory
    assert "`python experiments/train.py -m +experiment=exploding`" in theory
    assert "`python experiments/train.py -m +experiment=remedies`" in theory
    assert theory.count("Not drawn") == len(THEORY_FIGURE_NAMES)  # one per theory figure
    assert not list((out / "figures").glob("theory_*"))


def test_latest_training_sweep_skips_theory_presets_and_probe_sweeps(store, tmp_path):
    uri, client, _ = store
    exp = client.create_experiment("selection", artifact_location=(tmp_path / "mlruns").as_uri())
    into = {"mlflow.experiment_name": "selection"}
    _run(uri, _parent(client, exp, "custom000001"), POINTS["sig2s0"] | into)
    # newer: a theory preset's training sweep, and a probe sweep without a preset
    later = _parent(client, exp, "theory000001")
    client.set_tag(later.parent_run_id, names.TAG_PRESET, names.PRESET_NIELSEN_CH5)
    _run(uri, later, POINTS["sig4s0"] | into)
    last = _parent(client, exp, "probes000001")
    kid = {
        names.TAG_KIND: "probe",
        "mlflow.parentRunId": last.parent_run_id,
        names.TAG_SWEEP_ID: "probes000001",
    }
    client.create_run(exp, tags=kid)
    runs = report.load_runs(uri, "selection")
    assert runs.attrs["sweep"].sweep_id == "custom000001"
    assert len(runs) == 1 and runs["model.depth"].iloc[0] == 2
