"""Theory figures (figures 6–10 of gradlab.report) on small hand-made frames: the data they draw.

The end-to-end path (probe runs in MLflow → report) is in tests/test_probe_presets.py;
here each figure's data frame is checked against a hand calculation.
"""

import numpy as np
import pandas as pd
import pytest
from matplotlib.mathtext import MathTextParser

from gradlab import names, theory
from gradlab.report.delta_vs_layer import plot_measured_vs_predicted
from gradlab.report.exploding import plot_exploding
from gradlab.report.frames import NoDataError
from gradlab.report.jacobian import plot_jacobian_spectrum
from gradlab.report.markdown import jacobian_text, phase_text
from gradlab.report.nielsen import nielsen_table, plot_nielsen_ch5
from gradlab.report.phase_diagram import plot_phase_diagram


def test_nielsen_table_puts_his_mnist_numbers_beside_ours():
    runs = pd.DataFrame(
        {"run_id": ["a", "b", "c", "d"], "model.depth": [1, 3, 3, 2], "seed": [0, 0, 1, 0]}
    )
    rows = []
    for run_id, depth, scale in (("a", 1, 1.0), ("b", 3, 1.0), ("c", 3, 3.0), ("d", 2, 2.0)):
        for layer in range(1, depth + 2):  # hidden layers 1..depth and the output layer
            for phase, step in (("init", 0), ("final", 9)):
                value = scale * 10.0**layer * (1 if phase == "init" else 7)
                rows.append((run_id, phase, step, layer, value))
    history = pd.DataFrame(rows, columns=["run_id", "phase", "step", "layer", "grad_b_norm"])
    table = nielsen_table(runs, history)
    assert list(zip(table["model.depth"], table["layer"], strict=True)) == [
        (1, 1),
        (2, 1),
        (2, 2),
        (3, 1),
        (3, 2),
        (3, 3),
    ]  # output layers (l = depth + 1) are left out
    # ours: the median over the two seeds of depth 3 is the mean of scales 1 and 3
    three = table[table["model.depth"] == 3]
    np.testing.assert_allclose(three["gradlab"], [20.0, 200.0, 2000.0])
    # his, quoted from ch. 5: 0.012, 0.060, 0.283 for three hidden layers; none for one
    np.testing.assert_allclose(three["nielsen_mnist"], [0.012, 0.060, 0.283])
    assert np.isnan(table.loc[table["model.depth"] == 1, "nielsen_mnist"]).all()
    data, _ = plot_nielsen_ch5(runs, history)
    his = data[data["source"] == "nielsen_mnist"]
    assert len(his) == 5 and (his["step"] == 0).all()  # 2 + 3 of his numbers


def test_phase_diagram_marks_the_phases_and_the_critical_line():
    cells = [(0.5, 0.0, -0.7), (0.5, 0.2, -1.0), (1.5, 0.0, 0.4), (1.5, 0.2, -0.2)]
    probes = pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(4)],
            "probe.kind": "delta",
            "probe.activation": "tanh",
            names.SIGMA_W2: [c[0] for c in cells],
            "probe.sigma_b2": [c[1] for c in cells],
            names.LOG_SLOPE: [c[2] for c in cells],
            names.LN_CHI1: [np.log(theory.chi1("tanh", w, b)) for w, b, _ in cells],
        }
    )
    data, _ = plot_phase_diagram(probes, n_curve=3)
    grid = data[data["kind"] == "grid"].set_index(["sigma_w2", "sigma_b2"])
    # σ_b² = 0: q* = 0 and tanh′(0) = 1, so χ₁ = σ_w²: ordered below 1, chaotic above
    assert grid.loc[(0.5, 0.0), "phase"] == "ordered"
    assert grid.loc[(1.5, 0.0), "phase"] == "chaotic"
    assert grid.loc[(1.5, 0.2), "measured_phase"] == "ordered"  # its slope is negative
    line = data[data["kind"] == "critical"]
    assert line["sigma_w2"].iloc[0] == pytest.approx(1.0, rel=1e-9)  # the line at σ_b² = 0
    assert (np.diff(line["sigma_w2"]) > 0).all()  # more bias needs larger weights


def test_jacobian_histogram_is_a_density_and_keeps_tiny_values():
    probes = pd.DataFrame(
        {
            "run_id": ["g", "o"],
            "probe.activation": "tanh",
            "probe.init": ["lecun_normal", "orthogonal"],
            "probe.depth": 3,
            "probe.sigma_b2": 0.0,
            names.SIGMA_W2: 1.0,
            names.CHI1: 1.0,
            names.JACOBIAN_MEAN_S2: [1.1, 1.0],
            names.JACOBIAN_MEAN_S2_PREDICTED: 1.0,
            names.JACOBIAN_S2_SPREAD: [3.0, 0.1],
            names.JACOBIAN_CONDITION: [1e9, 2.0],
        }
    )
    s = {"g": [0.0, 1e-30, 0.5, 2.0], "o": [0.9, 1.0, 1.0, 1.1]}
    singular = pd.DataFrame(
        [(rid, 0, 0, i, v) for rid, vals in s.items() for i, v in enumerate(vals)],
        columns=["run_id", *names.SINGULAR_VALUE_COLUMNS],
    )
    data, _ = plot_jacobian_spectrum(probes, singular, bins=15)
    for _, d in data.groupby("probe.init"):
        width = d["bin_hi"] - d["bin_lo"]
        assert float((d["density"] * width).sum()) == pytest.approx(1.0)
        assert d["count"].sum() == 4
    gauss = data[data["probe.init"] == "lecun_normal"]
    assert gauss["count"].iloc[0] == 2  # 0 and 1e-30 land in the first bin (s ≤ 1e-6)


def test_figures_without_their_runs_say_so():
    with pytest.raises(NoDataError, match="neither a Nielsen chain probe"):
        plot_exploding(None, None, None, None)
    with pytest.raises(NoDataError, match="there are no probe runs"):
        plot_measured_vs_predicted(pd.DataFrame(), pd.DataFrame())


def test_phase_diagram_counts_a_critical_cell_as_critical_against_its_transient_slope():
    # (σ_w², σ_b², measured slope); (1, 0) is on the line: tanh′(0) = 1 and q* = 0, so χ₁ = 1
    cells = [(0.5, 0.0, -0.7), (1.0, 0.0, -0.088), (1.5, 0.0, 0.4), (1.5, 0.2, 0.05)]
    ids = [f"r{i}" for i in range(4)]
    probes = pd.DataFrame(
        {
            "run_id": ids,
            "probe.kind": "delta",
            "probe.activation": "tanh",
            names.SIGMA_W2: [c[0] for c in cells],
            "probe.sigma_b2": [c[1] for c in cells],
            names.LOG_SLOPE: [c[2] for c in cells],
            names.LN_CHI1: [np.log(theory.chi1("tanh", w, b)) for w, b, _ in cells],
        }
    )
    L, rate = 8, -0.092  # each run's transient-aware line falls by e^rate per layer back
    layer = np.arange(1, L + 1)
    profiles = pd.concat(
        pd.DataFrame(
            {
                "run_id": rid,
                "layer": layer,
                names.PROBE_DELTA_SQ_PROFILE: np.exp(rate * (L - layer)),
                "in_fit": ((layer >= 3) & (layer <= L - 1)).astype(int),
            }
        )
        for rid in ids
    )
    data, fig = plot_phase_diagram(probes, profiles, n_curve=3)
    grid = data[data["kind"] == "grid"].set_index(["sigma_w2", "sigma_b2"])
    assert grid["phase"].tolist() == ["ordered", "critical", "chaotic", "ordered"]
    assert grid.loc[(1.0, 0.0), "predicted_slope"] == pytest.approx(rate, rel=1e-12)
    ln_chi1 = grid.loc[(1.5, 0.2), "ln_chi1"]
    assert grid.loc[(1.5, 0.2), "predicted_slope"] == ln_chi1  # off the line: ln χ₁
    text = phase_text(data)
    # off the line, (1.5, 0.2) disagrees: ordered (the bias lowers χ₁), its slope positive
    assert "matches the predicted one in 2 of 3 grid cells off the critical line" in text
    assert "σ_w² = 1, σ_b² = 0 lies on it" in text and "-0.092" in text and "-0.088" in text
    chi = grid["ln_chi1"]
    gaps = {
        (0.5, 0.0): abs(-0.7 - chi[(0.5, 0.0)]),
        (1.0, 0.0): abs(-0.088 - rate),  # not |−0.088 − ln χ₁| = 0.088
        (1.5, 0.0): abs(0.4 - chi[(1.5, 0.0)]),
        (1.5, 0.2): abs(0.05 - chi[(1.5, 0.2)]),
    }
    assert f"is {max(gaps.values()):.3f} at" in text
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "critical cell: χ₁ = 1" in labels


def test_jacobian_text_names_the_float_floor_and_the_spread_over_networks():
    probes = pd.DataFrame(
        {
            "run_id": ["g", "o"],
            "probe.activation": "tanh",
            "probe.init": ["lecun_normal", "orthogonal"],
            "probe.depth": 128,
            "probe.sigma_b2": 0.0,
            names.SIGMA_W2: 1.0,
            names.CHI1: 1.0,
            names.JACOBIAN_MEAN_S2: [2.5, 1.0],
            names.JACOBIAN_MEAN_S2_PREDICTED: 1.0,
            names.JACOBIAN_S2_SPREAD: [500.0, 1.5],
            names.JACOBIAN_CONDITION: [5.4e18, 2.8e5],
        }
    )
    # Gaussian: network 0 has s² = 0.5 throughout, network 1 has s² = 4.5 (mean 2.5)
    rows = [("g", m, 0, i, np.sqrt(v)) for m, v in ((0, 0.5), (1, 4.5)) for i in range(3)]
    rows += [("o", m, 0, i, 1.0) for m in (0, 1) for i in range(3)]
    singular = pd.DataFrame(rows, columns=["run_id", *names.SINGULAR_VALUE_COLUMNS])
    data, _ = plot_jacobian_spectrum(probes, singular, bins=15)
    text = jacobian_text(data)
    assert "| 128 | lecun_normal | 2.5 | 1 | 500 | ≥ 4.5e+15 (numerical floor) | 1 |" in text
    assert "| 128 | orthogonal | 1 | 1 | 1.5 | 2.8e+05 | 1 |" in text
    assert "E[s²] = 2.5 against χ₁^L = 1 is a finite-width fluctuation" in text
    assert "2 single networks ranges from 0.5 to 4.5 (median 2.5)" in text
    assert "orthogonal E[s²]" not in text  # within 10 % of χ₁^L: nothing to explain


def test_theory_figure_title_is_mathtext():
    probes = pd.DataFrame(
        {
            "run_id": ["a"],
            "probe.kind": "delta",
            "probe.activation": "tanh",
            "probe.init": "lecun_normal",
            names.SIGMA_W2: 0.5,
            "probe.sigma_b2": 0.0,
            "probe.depth": 4,
            "probe.width": 8,
            names.CHI1: 0.5,
            names.CHI1_MEASURED: 0.49,
        }
    )
    layer = np.arange(1, 5)
    values = 0.5 ** (4 - layer)
    profiles = pd.DataFrame({c: 0.0 for c in names.PROBE_COLUMNS}, index=range(4))
    profiles = profiles.assign(
        run_id="a", layer=layer, delta_sq=values, delta_sq_min=values, delta_sq_max=values
    )
    _, fig = plot_measured_vs_predicted(probes, profiles)
    title = fig.get_suptitle()
    assert title.count("$") == 2 and r"\delta^l" in title.split("$")[1]
    MathTextParser("path").parse(f"${title.split('$')[1]}$")  # raises if it is not mathtext


def _exploding_frames(diverged_layer):
    runs = pd.DataFrame(
        {
            "run_id": ["x"],
            "model.activation": "relu",
            "model.init": "he_normal",
            "model.gain": 2.0,
            "model.width": 16,
            "model.bias_std": 0.0,
            "model.depth": 4,
            "diverged": True,
            names.DIVERGED_STEP: 3.0,
            names.DIVERGED_LAYER: diverged_layer,
        }
    )
    history = pd.DataFrame(
        {"run_id": "x", "phase": "init", "layer": np.arange(1, 6), "delta_rms": [16.0, 8, 4, 2, 1]}
    )
    return runs, history


def test_exploding_cross_sits_at_the_layer_that_overflowed():
    runs, history = _exploding_frames(3.0)
    data, fig = plot_exploding(runs, history, None, None)
    relu = data[data["part"] == "relu"]
    # χ₁ = σ_w²/2 = 2·gain²/2 = 4: the prediction doubles per layer back from layer L
    np.testing.assert_allclose(relu["predicted"], [16.0, 8.0, 4.0, 2.0, 1.0])
    crosses = [ln for ln in fig.axes[1].get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1
    assert crosses[0].get_xdata().tolist() == [3] and crosses[0].get_ydata().tolist() == [4.0]
    assert "✕ diverged in training: step 3, layer 3" in fig.axes[1].get_legend().texts[0].get_text()
    # no layer recorded: no ✕, and the legend names no location
    _, fig = plot_exploding(*_exploding_frames(np.nan), None, None)
    assert not [ln for ln in fig.axes[1].get_lines() if ln.get_marker() == "x"]
    label = fig.axes[1].get_legend().texts[0].get_text()
    assert "diverged in training: step 3" in label and "layer" not in label and "✕" not in label


def test_mean_field_preset_has_no_case_that_rescales_another():
    # with σ_b² = 0 and shared seeds, a positively homogeneous φ makes two cases of the
    # same activation one computation scaled by a constant: not two independent tests
    from helpers import compose_config
    from hydra.core.override_parser.overrides_parser import OverridesParser

    cfg = compose_config(["+experiment=probe_mean_field"], config_name="probe", hydra=True)
    value = cfg.hydra.sweeper.params["probe"]
    (override,) = OverridesParser.create().parse_overrides([f"probe={value}"])
    cases = [dict(c) for c in override.sweep_iterator()]
    delta = [c for c in cases if c["kind"] == "delta"]
    homogeneous = {"relu", "leaky_relu", "linear"}
    for i, a in enumerate(delta):
        for b in delta[i + 1 :]:
            same = a["activation"] == b["activation"] in homogeneous
            assert not (same and a["sigma_b2"] == 0 and b["sigma_b2"] == 0), (a, b)
    assert sum(c["activation"] == "relu" for c in delta) == 2
