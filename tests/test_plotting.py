"""Figure functions: the data they draw equal the engine's numbers; the figures read right.

Test runs are real: gradlab.MLP + layer_table at initialisation and after a
few SGD steps on digits (``engine_run``), recorded in the history layout of
gradlab.names, as the training runner writes it.  test_report.py reuses
``engine_run`` to fill a temporary MLflow store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import gradlab
from gradlab import names
from gradlab.engine.diagnostics import SpectralCache
from gradlab.report import plotting
from gradlab.report.plotting import NoDataError
from gradlab.training.sgd import all_finite, sgd_update


def engine_run(
    activation,
    depth,
    init,
    seed,
    *,
    output="sigmoid",
    lr=0.5,
    gain=1.0,
    width=8,
    steps=6,
    log_every=2,
    final_on_divergence=False,
):
    """Train a small MLP with SGD and record its layer tables like the runner does.

    Returns (params, history, summary): flattened config (MLflow params), the
    history table (names.HISTORY_COLUMNS) and the summary metrics.  A run that
    goes non-finite stops there with no 'final' rows (as the runner), or with
    'final' rows of the non-finite state when ``final_on_divergence``.
    """
    rng = np.random.default_rng(seed)
    data = gradlab.load_dataset("digits", rng)
    sizes = [data.n_inputs] + [width] * depth + [data.n_outputs]
    net = gradlab.MLP(sizes, activation, output, init=init, gain=gain, seed=rng)
    x, y = data.x_train[:100], data.y_train[:100]  # the probe batch
    cache = SpectralCache()
    rows, losses = [], []

    def measure(step, phase):
        with np.errstate(all="ignore"):
            trace = net.backprop(x, y)
            table = gradlab.layer_table(trace, net.weights, *net.activations, cache)
        rows.append(table.assign(step=step, epoch=1 if step else 0, phase=phase))
        losses.append(float(trace.cost))

    measure(0, names.PHASE_INIT)
    diverged_step = None
    for step in range(1, steps + 1):
        idx = rng.choice(data.x_train.shape[0], 20, replace=False)
        with np.errstate(all="ignore"):
            trace = net.backprop(data.x_train[idx], data.y_train[idx])
        if not all_finite(trace):
            diverged_step = step
            break
        sgd_update(net.weights, net.biases, trace, lr)
        if step % log_every == 0 and step < steps:
            measure(step, names.PHASE_TRAIN)
    if diverged_step is None:
        measure(steps, names.PHASE_FINAL)
    elif final_on_divergence:
        measure(diverged_step, names.PHASE_FINAL)
    history = pd.concat(rows, ignore_index=True)[list(names.HISTORY_COLUMNS)]
    g = history.loc[history["phase"] == names.PHASE_INIT, "grad_b_norm"].to_numpy()
    with np.errstate(all="ignore"):
        accuracy = np.mean(net.feedforward(data.x_test).argmax(1) == data.y_test.argmax(1))
    summary = {
        names.VANISH_RATIO: g[0] / g[-1],
        names.DECAY_PER_LAYER: (g[0] / g[-1]) ** (1 / (len(g) - 1)),
        names.TRAIN_LOSS: losses[-1],
        names.TEST_ACCURACY: float(accuracy),
        names.DIVERGED: float(diverged_step is not None),
        names.TRAIN_SECONDS: 0.01,
    }
    if diverged_step is not None:
        summary[names.DIVERGED_STEP] = float(diverged_step)
        summary[names.DIVERGED_LAYER] = float(depth + 1)
    params = {
        "model.depth": depth,
        "model.width": width,
        "model.activation": activation,
        "model.output_activation": output,
        "model.init": init,
        "model.gain": gain,
        "model.bias_std": 0.0,
        "model.dtype": "float64",
        "data.name": "digits",
        "train.cost": "quadratic",
        "train.lr": lr,
        "train.batch_size": 20,
        "train.epochs": 1,
        "train.weight_decay": 0.0,
        "train.log_every": log_every,
        "seed": seed,
    }
    return params, history, summary


#: (activation, depth, init, seed, keyword arguments); leaky ReLU with a linear output
#: and lr = 1 blows up within a few steps (checked in test_the_diverging_run_diverges).
SPECS = [
    *[("sigmoid", d, "lecun_normal", s, {}) for d in (2, 4) for s in (0, 1, 2)],
    ("tanh", 4, "xavier_normal", 0, {}),
    ("tanh", 4, "he_normal", 0, {}),
    ("relu", 2, "he_normal", 0, {}),
    ("relu", 4, "he_normal", 0, {}),
    ("leaky_relu", 4, "he_normal", 0, {"output": "linear", "lr": 1.0}),
]
DIVERGING = "run10"


def frames(specs, **kwargs):
    """(runs, history) frames of the given engine runs, as gradlab.report.build loads them."""
    runs, history = [], []
    for i, (act, depth, init, seed, kw) in enumerate(specs):
        params, hist, summary = engine_run(act, depth, init, seed, **kw, **kwargs)
        run_id = f"run{i:02d}"
        row = {k: str(v) for k, v in params.items()}  # MLflow params are strings
        runs.append(
            {"run_id": run_id, "run_name": f"{act}-d{depth}-{init}-s{seed}"} | row | summary
        )
        history.append(hist.assign(run_id=run_id))
    return plotting.coerce_params(pd.DataFrame(runs)), pd.concat(history, ignore_index=True)


@pytest.fixture(scope="module")
def sweep():
    return frames(SPECS)


def _lines(fig: Figure):
    return [line for ax in fig.axes for line in ax.get_lines()]


def test_the_diverging_run_diverges(sweep):
    runs, history = sweep
    assert runs.set_index("run_id")["diverged"].to_dict() == {
        f"run{i:02d}": f"run{i:02d}" == DIVERGING for i in range(len(SPECS))
    }
    assert names.PHASE_FINAL not in set(history.loc[history["run_id"] == DIVERGING, "phase"])


def test_coerce_params_types_mlflow_strings():
    raw = pd.DataFrame(
        {
            "model.depth": ["5", "None"],
            "model.gain": ["1.5", "2"],
            "seed": ["0", "3"],
            "model.init": ["he_normal", "orthogonal"],
            "diverged": [1.0, np.nan],
        }
    )
    out = plotting.coerce_params(raw)
    assert str(out["model.depth"].dtype) == "Int64" and out["model.depth"][0] == 5
    assert out["model.depth"].isna()[1]
    assert out["model.gain"].tolist() == [1.5, 2.0]
    assert out["seed"].tolist() == [0, 3]
    assert out["model.init"].tolist() == ["he_normal", "orthogonal"]
    assert out["diverged"].tolist() == [True, False]


def test_single_run_figure_draws_the_layer_table(sweep):
    runs, history = sweep
    params, hist, _ = engine_run("sigmoid", 4, "lecun_normal", 0)
    one = plotting.run_frame(params, run_id="r", run_name="sigmoid-d4")
    data, fig = plotting.plot_gradient_vs_layer(one, hist)  # history without run_id
    for phase in (names.PHASE_INIT, names.PHASE_FINAL):
        got = data[data["phase"] == phase].sort_values("layer")
        want = hist[hist["phase"] == phase].sort_values("layer")
        np.testing.assert_array_equal(got["layer"], np.arange(1, 6))
        np.testing.assert_array_equal(got["value"], want["grad_b_norm"])
        np.testing.assert_array_equal(got["bound"], want["bound"])
        assert (got["kind"] == "median").all() and (got["n_runs"] == 1).all()
        assert (got["lo"] == got["value"]).all() and (got["hi"] == got["value"]).all()
    # same numbers whatever else is in the frames
    data_all, _ = plotting.plot_gradient_vs_layer(runs[runs["run_id"] == "run03"], history)
    np.testing.assert_array_equal(data_all["value"], data["value"])
    assert len(fig.axes) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    assert r"\nabla b^l" in fig.axes[0].get_ylabel()
    assert "initialisation" in fig.axes[0].get_ylabel()


def test_delta_rms_option_draws_delta_rms(sweep):
    runs, history = sweep
    one = runs[runs["run_id"] == "run00"]
    data, _ = plotting.plot_gradient_vs_layer(one, history, quantity="delta_rms")
    h = history[(history["run_id"] == "run00") & (history["phase"] == names.PHASE_INIT)]
    got = data[data["phase"] == names.PHASE_INIT]
    np.testing.assert_array_equal(got["value"], h["delta_rms"])
    with pytest.raises(ValueError, match="quantity='act_mean' is not allowed"):
        plotting.plot_gradient_vs_layer(one, history, quantity="act_mean")


@pytest.mark.parametrize("band", ["minmax", "iqr"])
def test_median_and_band_over_seeds(sweep, band):
    runs, history = sweep
    sig = runs[(runs["model.activation"] == "sigmoid") & (runs["model.depth"] == 4)]
    data, fig = plotting.plot_gradient_vs_layer(sig, history, band=band)
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
    for line_by in (plotting.DEPTH, plotting.INIT):
        data, _ = plotting.plot_gradient_vs_layer(runs, history, line_by=line_by)
        assert data["value"].notna().all() and data["bound"].notna().all()
        assert (data["value"] <= data["bound"] * (1 + 1e-12)).all()
        assert (data["lo"] <= data["value"]).all() and (data["value"] <= data["hi"]).all()


def test_sigmoid_envelope_is_a_quarter_per_layer_from_the_output(sweep):
    runs, history = sweep
    data, fig = plotting.plot_gradient_vs_layer(runs, history)
    sig = data[(data["model.activation"] == "sigmoid") & (data["kind"] == "median")]
    for _, g in sig.groupby(["line", "phase"]):
        g = g.sort_values("layer")
        L = g["layer"].max()
        assert g["envelope"].iloc[-1] == g["value"].iloc[-1]
        np.testing.assert_allclose(g["envelope"], g["value"].iloc[-1] * 0.25 ** (L - g["layer"]))
    assert data.loc[data["model.activation"] != "sigmoid", "envelope"].isna().all()
    dotted = [ln for ln in _lines(fig) if ln.get_linestyle() == ":"]
    assert len(dotted) == sig.groupby(["line", "phase"]).ngroups


def test_diverged_run_is_marked_not_dropped(sweep):
    runs, history = sweep
    data, fig = plotting.plot_gradient_vs_layer(runs, history)
    div = data[data["kind"] == "diverged"]
    assert set(div["run_ids"]) == {DIVERGING} and set(div["phase"]) == {names.PHASE_FINAL}
    # its curve after training is its last logged profile that is finite at every layer
    h = history[history["run_id"] == DIVERGING]
    finite = h.groupby("step")["grad_b_norm"].apply(lambda g: np.isfinite(g).all())
    last = h[h["step"] == finite[finite].index.max()].sort_values("layer")
    assert (div["step"] == last["step"].iloc[0]).all()
    np.testing.assert_array_equal(div.sort_values("layer")["value"], last["grad_b_norm"])
    # at initialisation it is an ordinary line, labelled as a run that diverged later
    init = data[(data["phase"] == names.PHASE_INIT) & (data["run_ids"] == DIVERGING)]
    assert len(init) == 5 and (init["line_diverged"] == 1).all()
    labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert any("(diverged; last finite step" in t for t in labels)
    assert any("1 of 1 diverged" in t for t in labels)
    assert any(ln.get_marker() == "x" for ln in _lines(fig))


def test_diverged_run_with_nonfinite_final_rows_is_drawn_at_its_last_finite_step():
    runs, history = frames([SPECS[-1]], final_on_divergence=True)
    final = history[history["phase"] == names.PHASE_FINAL]
    assert len(final) and not np.isfinite(final["grad_b_norm"]).all()
    data, _ = plotting.plot_gradient_vs_layer(runs, history)
    div = data[data["kind"] == "diverged"]
    finite_steps = history.groupby("step")["grad_b_norm"].apply(lambda s: np.isfinite(s).all())
    assert (div["step"] == finite_steps[finite_steps].index.max()).all()
    assert np.isfinite(div["value"]).all()


def test_vanishing_vs_depth_draws_the_runs_ratios(sweep):
    runs, history = sweep
    data, fig = plotting.plot_vanishing_vs_depth(runs)
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
    chosen = plotting.pick_deep_run(runs)
    assert runs.set_index("run_id").loc[
        chosen, ["model.activation", "model.depth", "seed"]
    ].tolist() == [
        "sigmoid",
        4,
        0,
    ]
    data, fig = plotting.plot_speed_of_learning(runs, history)
    h = history[history["run_id"] == chosen].sort_values(["step", "layer"])
    np.testing.assert_array_equal(data[["step", "layer"]], h[["step", "layer"]])
    np.testing.assert_array_equal(data["value"], h["grad_b_norm"])
    assert len(fig.axes[0].get_lines()) == 5  # one line per layer l = 1..L
    heat, hfig = plotting.plot_gradient_heatmap(runs, history)
    np.testing.assert_allclose(heat["log10_value"], np.log10(h["grad_b_norm"]))
    mesh = hfig.axes[0].collections[0]
    assert mesh.get_array().shape == (5, h["step"].nunique())  # (L, logged steps)


def test_speed_of_learning_marks_divergence(sweep):
    runs, history = sweep
    _, fig = plotting.plot_speed_of_learning(runs, history, run_id=DIVERGING)
    stop = runs.set_index("run_id").loc[DIVERGING, names.DIVERGED_STEP]
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"diverged at step {int(stop)}" in labels
    with pytest.raises(NoDataError, match="not among the runs"):
        plotting.plot_speed_of_learning(runs, history, run_id="nope")


def test_saturation_draws_saturated_fraction(sweep):
    runs, history = sweep
    relu = runs[(runs["model.activation"] == "relu") & (runs["model.depth"] == 2)]
    data, fig = plotting.plot_saturation(relu, history)
    h = history[history["run_id"].isin(relu["run_id"])]
    for phase in (names.PHASE_INIT, names.PHASE_FINAL):
        got = data[data["phase"] == phase].sort_values("layer")["value"]
        np.testing.assert_array_equal(got, h[h["phase"] == phase]["saturated_frac"])
    assert all(ax.get_ylim() == (-0.03, 1.03) for ax in fig.axes)
    assert data["bound"].isna().all()


def test_figures_are_labelled_and_colour_blind_safe(sweep):
    runs, history = sweep
    figs = [
        plotting.plot_gradient_vs_layer(runs, history)[1],
        plotting.plot_vanishing_vs_depth(runs)[1],
        plotting.plot_speed_of_learning(runs, history)[1],
        plotting.plot_gradient_heatmap(runs, history)[1],
        plotting.plot_saturation(runs, history)[1],
    ]
    palette = set(plotting.OKABE_ITO)
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


def test_missing_data_gives_a_clear_error(sweep):
    runs, history = sweep
    with pytest.raises(NoDataError, match="no runs to plot"):
        plotting.plot_gradient_vs_layer(runs.iloc[0:0], history)
    with pytest.raises(NoDataError, match="no run has a per-layer history"):
        plotting.plot_gradient_vs_layer(runs, history.iloc[0:0])
    with pytest.raises(NoDataError, match=r"model\.depth"):
        plotting.plot_gradient_vs_layer(runs.drop(columns="model.depth"), history)
    with pytest.raises(NoDataError, match="vanish_ratio"):
        plotting.plot_vanishing_vs_depth(runs.assign(vanish_ratio=np.nan))
    only_init = history[history["phase"] == names.PHASE_INIT]
    data, fig = plotting.plot_gradient_vs_layer(runs[runs["run_id"] == "run00"], only_init)
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
    assert plotting.natural_init_runs(runs)["run_id"].tolist() == ["b", "c", "e", "f"]
    assert sorted(plotting.deepest_runs(runs)["run_id"]) == ["a", "b", "c", "d", "f"]
