"""Figures 1–4: the data they draw equal the recorded numbers; the figures read right.

The runs are real: the session store of ``recorded.py``, written by
gradlab.jobs.train.run (tiny MLPs on digits, one of which diverges), read back
with gradlab.report.load.  Expectations come from the history tables and the
metrics MLflow holds, computed here with NumPy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from gradlab import names
from gradlab.report import frames, style
from gradlab.report.frames import NoDataError
from gradlab.report.layer_figures import plot_gradient_vs_layer, plot_saturation
from gradlab.report.load import load_history, load_runs
from gradlab.report.speed import plot_gradient_heatmap, plot_speed_of_learning
from gradlab.report.vanishing import plot_vanishing_vs_depth


@pytest.fixture(scope="module")
def sweep(recorded):
    runs = load_runs(recorded.uri, "gradlab")
    return runs, load_history(recorded.client, runs)


@pytest.fixture(scope="module")
def ids(recorded):
    return recorded.ids


def _lines(fig: Figure):
    return [line for ax in fig.axes for line in ax.get_lines()]


def test_the_diverging_run_diverges(sweep, ids, recorded):
    runs, history = sweep
    assert set(runs.loc[runs["diverged"], "run_id"]) == {ids["leaky"]}
    tag = recorded.client.get_run(ids["leaky"]).data.tags[names.TAG_STATUS]
    assert tag == names.STATUS_DIVERGED
    # the runner stops at the overflow: no 'final' rows, only the finite profile of step 0
    assert set(history.loc[history["run_id"] == ids["leaky"], "phase"]) == {names.PHASE_INIT}


def test_single_run_figure_draws_the_layer_table(sweep, ids, recorded):
    runs, history = sweep
    rid = ids["sig4s0"]
    params = recorded.client.get_run(rid).data.params  # strings, as MLflow holds them
    hist = history[history["run_id"] == rid].drop(columns="run_id")
    one = frames.run_frame(params, run_id="r", run_name="sigmoid-d4")
    data, fig = plot_gradient_vs_layer(one, hist)  # history without run_id
    phases = ((names.PHASE_INIT, names.PROFILE_INIT), (names.PHASE_FINAL, names.PROFILE_FINAL))
    for phase, prefix in phases:
        got = data[data["phase"] == phase].sort_values("layer")
        key = names.profile_metric(prefix, "grad_b_norm")
        logged = recorded.client.get_metric_history(rid, key)
        want = pd.Series({m.step: m.value for m in logged}).sort_index()  # step = layer
        np.testing.assert_array_equal(got["layer"], np.arange(1, 6))
        np.testing.assert_allclose(got["value"], want.to_numpy(), rtol=1e-15)
        rows = hist[hist["phase"] == phase].sort_values("layer")
        np.testing.assert_array_equal(got["bound"], rows["bound"])
        assert (got["kind"] == "median").all() and (got["n_runs"] == 1).all()
        assert (got["lo"] == got["value"]).all() and (got["hi"] == got["value"]).all()
    # same numbers whatever else is in the frames
    data_all, _ = plot_gradient_vs_layer(runs[runs["run_id"] == rid], history)
    np.testing.assert_array_equal(data_all["value"], data["value"])
    assert len(fig.axes) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    assert r"\nabla b^l" in fig.axes[0].get_ylabel()
    assert "initialisation" in fig.axes[0].get_ylabel()


def test_delta_rms_option_draws_delta_rms(sweep, ids):
    runs, history = sweep
    one = runs[runs["run_id"] == ids["sig2s0"]]
    data, _ = plot_gradient_vs_layer(one, history, quantity="delta_rms")
    h = history[(history["run_id"] == ids["sig2s0"]) & (history["phase"] == names.PHASE_INIT)]
    got = data[data["phase"] == names.PHASE_INIT]
    np.testing.assert_array_equal(got["value"], h["delta_rms"])
    with pytest.raises(ValueError, match="quantity='act_mean' is not allowed"):
        plot_gradient_vs_layer(one, history, quantity="act_mean")


@pytest.mark.parametrize("band", ["minmax", "iqr"])
def test_median_and_band_over_seeds(sweep, band):
    runs, history = sweep
    sig = runs[(runs["model.activation"] == "sigmoid") & (runs["model.depth"] == 4)]
    data, fig = plot_gradient_vs_layer(sig, history, band=band)
    for phase in (names.PHASE_INIT, names.PHASE_FINAL):
        h = history[history["run_id"].isin(sig["run_id"]) & (history["phase"] == phase)]
        per_seed = h.pivot(index="layer", columns="run_id", values="grad_b_norm").to_numpy()
        got = data[data["phase"] == phase].sort_values("layer")
        np.testing.assert_allclose(got["value"], np.median(per_seed, axis=1), rtol=1e-14)
        q = (0, 100) if band == "minmax" else (25, 75)
        np.testing.assert_allclose(got["lo"], np.percentile(per_seed, q[0], axis=1), rtol=1e-14)
        np.testing.assert_allclose(got["hi"], np.percentile(per_seed, q[1], axis=1), rtol=1e-14)
        assert (got["n_runs"] == 3).all()
        assert set(got["run_ids"]) == {",".join(sorted(sig["run_id"]))}
    assert any(len(ax.collections) for ax in fig.axes), "the band is drawn"


def test_bound_is_never_below_the_measured_curve(sweep):
    # ‖∇b^l‖ = ‖mean_k δ^l_k‖ ≤ rms_k ‖δ^l_k‖ ≤ bound^l for every run, and the median
    # is monotone, so the median bound lies above the median curve
    runs, history = sweep
    for line_by in (frames.DEPTH, frames.INIT):
        data, _ = plot_gradient_vs_layer(runs, history, line_by=line_by)
        assert data["value"].notna().all() and data["bound"].notna().all()
        assert (data["value"] <= data["bound"] * (1 + 1e-12)).all()
        assert (data["lo"] <= data["value"]).all() and (data["value"] <= data["hi"]).all()


def test_sigmoid_envelope_is_a_quarter_per_layer_from_the_output(sweep):
    runs, history = sweep
    data, fig = plot_gradient_vs_layer(runs, history)
    sig = data[(data["model.activation"] == "sigmoid") & (data["kind"] == "median")]
    for _, g in sig.groupby(["line", "phase"]):
        g = g.sort_values("layer")
        L = g["layer"].max()
        assert g["envelope"].iloc[-1] == g["value"].iloc[-1]
        np.testing.assert_allclose(g["envelope"], g["value"].iloc[-1] * 0.25 ** (L - g["layer"]))
    assert data.loc[data["model.activation"] != "sigmoid", "envelope"].isna().all()
    dotted = [ln for ln in _lines(fig) if ln.get_linestyle() == ":"]
    assert len(dotted) == sig.groupby(["line", "phase"]).ngroups


def test_diverged_run_is_marked_not_dropped(sweep, ids):
    runs, history = sweep
    diverging = ids["leaky"]
    data, fig = plot_gradient_vs_layer(runs, history)
    div = data[data["kind"] == "diverged"]
    assert set(div["run_ids"]) == {diverging} and set(div["phase"]) == {names.PHASE_FINAL}
    # its curve after training is its last logged profile that is finite at every layer
    h = history[history["run_id"] == diverging]
    finite = h.groupby("step")["grad_b_norm"].apply(lambda g: np.isfinite(g).all())
    last = h[h["step"] == finite[finite].index.max()].sort_values("layer")
    assert (div["step"] == last["step"].iloc[0]).all()
    np.testing.assert_array_equal(div.sort_values("layer")["value"], last["grad_b_norm"])
    # at initialisation it is an ordinary line, labelled as a run that diverged later
    init = data[(data["phase"] == names.PHASE_INIT) & (data["run_ids"] == diverging)]
    assert len(init) == 21 and (init["line_diverged"] == 1).all()  # L = depth 20 + 1
    labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert any("(diverged; last finite step" in t for t in labels)
    assert any("1 of 1 diverged" in t for t in labels)
    assert any(ln.get_marker() == "x" for ln in _lines(fig))


def test_diverged_run_with_nonfinite_final_rows_is_drawn_at_its_last_finite_step(sweep, ids):
    runs, history = sweep
    leaky = history[history["run_id"] == ids["leaky"]]
    # as if the overflow had been logged: 'final' rows at step 1 with inf at layers ≥ 5
    final = leaky.assign(step=1, phase=names.PHASE_FINAL)
    final.loc[final["layer"] >= 5, "grad_b_norm"] = np.inf
    history = pd.concat([leaky, final], ignore_index=True)
    data, _ = plot_gradient_vs_layer(runs[runs["run_id"] == ids["leaky"]], history)
    div = data[data["kind"] == "diverged"].sort_values("layer")
    assert (div["step"] == 0).all() and set(div["phase"]) == {names.PHASE_FINAL}
    np.testing.assert_array_equal(div["value"], leaky.sort_values("layer")["grad_b_norm"])


def test_vanishing_vs_depth_draws_the_runs_ratios(sweep):
    runs, history = sweep
    data, fig = plot_vanishing_vs_depth(runs)
    # independent: the ratio from each run's layer table at initialisation
    init = history[history["phase"] == names.PHASE_INIT].sort_values("layer")
    ratio = init.groupby("run_id")["grad_b_norm"].agg(lambda g: g.iloc[0] / g.iloc[-1])
    r = runs.assign(ratio=runs["run_id"].map(ratio))
    sig4 = r[(r["model.activation"] == "sigmoid") & (r["model.depth"] == 4)]["ratio"]
    row = data[(data["model.activation"] == "sigmoid") & (data["model.depth"] == 4)]
    assert row["value"].item() == pytest.approx(np.median(sig4), rel=1e-12)
    assert row["lo"].item() == pytest.approx(sig4.min()) and row["hi"].item() == sig4.max()
    np.testing.assert_allclose(data["reference"], 0.25 ** data["model.depth"].astype(float))
    # one line per activation × init (lr and output are in the label where they vary)
    assert data.groupby(["model.activation", "model.init"]).ngroups == 5
    assert data["line"].nunique() == 5
    assert data["n_diverged"].sum() == 1
    assert fig.axes[0].get_yscale() == "log"


def test_speed_of_learning_and_heatmap_show_the_deepest_sigmoid_run(sweep):
    runs, history = sweep
    chosen = frames.pick_deep_run(runs)
    assert runs.set_index("run_id").loc[
        chosen, ["model.activation", "model.depth", "seed"]
    ].tolist() == ["sigmoid", 4, 0]
    data, fig = plot_speed_of_learning(runs, history)
    h = history[history["run_id"] == chosen].sort_values(["step", "layer"])
    np.testing.assert_array_equal(data[["step", "layer"]], h[["step", "layer"]])
    np.testing.assert_array_equal(data["value"], h["grad_b_norm"])
    assert len(fig.axes[0].get_lines()) == 5  # one line per layer l = 1..L
    heat, hfig = plot_gradient_heatmap(runs, history)
    np.testing.assert_allclose(heat["log10_value"], np.log10(h["grad_b_norm"]))
    mesh = hfig.axes[0].collections[0]
    assert mesh.get_array().shape == (5, h["step"].nunique())  # (L, logged steps)


def test_speed_of_learning_marks_divergence(sweep, ids):
    runs, history = sweep
    diverging = ids["leaky"]
    _, fig = plot_speed_of_learning(runs, history, run_id=diverging)
    stop = runs.set_index("run_id").loc[diverging, names.DIVERGED_STEP]
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"diverged at step {int(stop)}" in labels
    with pytest.raises(NoDataError, match="not among the runs"):
        plot_speed_of_learning(runs, history, run_id="nope")


def test_saturation_draws_saturated_fraction(sweep):
    runs, history = sweep
    relu = runs[(runs["model.activation"] == "relu") & (runs["model.depth"] == 2)]
    data, fig = plot_saturation(relu, history)
    h = history[history["run_id"].isin(relu["run_id"])]
    for phase in (names.PHASE_INIT, names.PHASE_FINAL):
        got = data[data["phase"] == phase].sort_values("layer")["value"]
        np.testing.assert_array_equal(got, h[h["phase"] == phase]["saturated_frac"])
    assert all(ax.get_ylim() == (-0.03, 1.03) for ax in fig.axes)
    assert data["bound"].isna().all()


def test_figures_are_labelled_and_colour_blind_safe(sweep):
    runs, history = sweep
    figs = [
        plot_gradient_vs_layer(runs, history)[1],
        plot_vanishing_vs_depth(runs)[1],
        plot_speed_of_learning(runs, history)[1],
        plot_gradient_heatmap(runs, history)[1],
        plot_saturation(runs, history)[1],
    ]
    palette = set(style.OKABE_ITO)
    for fig in figs:
        title = fig.get_suptitle() or fig.axes[0].get_title()
        assert title.strip()
        plots = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        for ax in plots:
            assert ax.get_xlabel() and ax.get_ylabel()
    for fig in (figs[0], figs[1], figs[4]):
        coloured = {to_hex(ln.get_color()) for ln in _lines(fig) if ln.get_label()[:1] != "_"}
        coloured -= {"#000000", "#4d4d4d", "#808080"}  # reference lines in black or grey
        assert coloured and coloured <= {c.lower() for c in palette}


def test_missing_data_gives_a_clear_error(sweep, ids):
    runs, history = sweep
    with pytest.raises(NoDataError, match="no runs to plot"):
        plot_gradient_vs_layer(runs.iloc[0:0], history)
    with pytest.raises(NoDataError, match="no run has a per-layer history"):
        plot_gradient_vs_layer(runs, history.iloc[0:0])
    with pytest.raises(NoDataError, match=r"model\.depth"):
        plot_gradient_vs_layer(runs.drop(columns="model.depth"), history)
    with pytest.raises(NoDataError, match="vanish_ratio"):
        plot_vanishing_vs_depth(runs.assign(vanish_ratio=np.nan))
    only_init = history[history["phase"] == names.PHASE_INIT]
    data, fig = plot_gradient_vs_layer(runs[runs["run_id"] == ids["sig2s0"]], only_init)
    assert set(data["phase"]) == {names.PHASE_INIT} and len(fig.axes) == 1


def test_report_selections_pick_natural_init_and_deepest_runs():
    runs = pd.DataFrame(
        {
            "run_id": list("abcdef"),
            "model.activation": ["sigmoid", "sigmoid", "tanh", "tanh", "relu", "relu"],
            "model.init": ["he_normal", "lecun_normal", "he_normal", "lecun_normal"]
            + ["he_normal"] * 2,
            "model.depth": [2, 2, 2, 2, 2, 6],
        }
    )
    # sigmoid and relu have their natural init; tanh's (xavier) is absent: a tie, broken by name
    assert frames.natural_init_runs(runs)["run_id"].tolist() == ["b", "c", "e", "f"]
    assert sorted(frames.deepest_runs(runs)["run_id"]) == ["a", "b", "c", "d", "f"]
