"""Theory figures (figures 6–10 of gradlab.report) on small hand-made frames: the data they draw.

The end-to-end path (probe runs in MLflow → report) is in tests/test_probe_presets.py;
here each figure's data frame is checked against a hand calculation.
"""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gradlab import names, theory
from gradlab.report.delta_vs_layer import plot_measured_vs_predicted
from gradlab.report.exploding import plot_exploding
from gradlab.report.frames import NoDataError
from gradlab.report.jacobian import plot_jacobian_spectrum
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
    data, fig = plot_nielsen_ch5(runs, history)
    assert isinstance(fig, Figure)
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
