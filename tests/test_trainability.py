"""Finite-width β and spread, and the data of the trainability and width figures,
against hand calculations and a member-by-member reference."""

import math

import numpy as np
import pandas as pd
import pytest

import gradlab
from gradlab import names, theory
from gradlab.report.trainability import boundary_agreement, trainability_grid
from gradlab.report.width import width_points
from gradlab.theory import ensemble
from gradlab.theory.finite_width import beta, log_variance
from gradlab.theory.probe import ProbeSpec, measure_delta


def test_beta_sums_reciprocal_hidden_widths_by_hand():
    assert beta([64, 30, 30, 10]) == pytest.approx(1 / 30 + 1 / 30, rel=1e-15)
    assert beta([5, 10, 20, 4, 3]) == pytest.approx(0.1 + 0.05 + 0.25, rel=1e-15)
    assert beta([7, 3]) == 0.0  # no hidden layer
    with pytest.raises(ValueError, match="sizes"):
        beta([7])


def test_log_variance_by_hand_and_skips_zeros():
    v = np.exp([[0.0, 1.0], [2.0, 0.0]])  # ln: 0, 1, 2, 0 -> mean 3/4
    assert log_variance(v) == pytest.approx((0.5625 + 0.0625 + 1.5625 + 0.5625) / 3, rel=1e-14)
    assert log_variance(np.array([1.0, math.e, 0.0])) == pytest.approx(0.5, rel=1e-14)
    assert math.isnan(log_variance(np.array([0.0, 2.0])))


def test_probe_spread_equals_a_member_by_member_reference():
    spec = ProbeSpec("delta", 4, 6, "tanh", "lecun_normal", 1.5, 0.1, 3, 5, 1.0, 100.0, seed=7)
    got = measure_delta(spec).summary
    assert got[names.WIDTH_BETA] == pytest.approx(3 / 6, rel=1e-15)
    rng = np.random.default_rng(7)  # the draws of ensemble_backprop, in its order
    weights, biases = ensemble.draw_ensemble(
        rng, [6] * 5, 3, "lecun_normal", spec.gain, spec.bias_std
    )
    x = rng.standard_normal((3, 5, 6))
    e = rng.standard_normal((3, 5, 6))
    logs = []
    for m in range(3):
        net = gradlab.MLP.from_arrays([w[m] for w in weights], [b[m] for b in biases], "tanh")
        d1 = net.backprop(x[m], e[m], cost=ensemble.LINEAR_PROBE).delta[0]  # (n, n_1)
        logs += [math.log(float(row @ row)) for row in d1]
    assert got[names.LN_DELTA1_SQ_VAR] == pytest.approx(np.var(logs, ddof=1), rel=1e-12)


def _runs(rows):
    cols = ["run_id", "model.gain", "model.depth", "seed", names.TEST_ACCURACY]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(
        **{"model.activation": "tanh", "model.init": "lecun_normal", "model.bias_std": 0.5}
    )


def test_trainability_cells_by_hand():
    # σ_w² = 1 (6 ξ_c = 11.0) and 1.5 (22.7); two seeds at σ_w² = 1, one diverged (NaN -> 0.1)
    runs = _runs(
        [
            ["a", 1.0, 5, 0, 0.9], ["b", 1.0, 5, 1, 0.7],
            ["c", 1.0, 200, 0, 0.1], ["d", 1.0, 200, 1, float("nan")],
            ["e", math.sqrt(1.5), 5, 0, 0.2], ["f", math.sqrt(1.5), 200, 0, 0.6],
            ["g", math.sqrt(1.5), 20, 0, 0.8],
        ]
    )  # fmt: skip
    activation, sb2, cells, curve = trainability_grid(runs, n_curve=5)
    assert (activation, sb2) == ("tanh", 0.25)
    cells = cells.set_index(["sigma_w2", "depth"])
    assert cells.loc[(1.0, 5), "accuracy"] == pytest.approx(0.8)
    assert cells.loc[(1.0, 5), "accuracy_min"] == 0.7 and cells.loc[(1.0, 5), "n_runs"] == 2
    assert cells.loc[(1.0, 200), "accuracy"] == pytest.approx(0.1)
    assert cells.loc[(1.0, 200), "run_ids"] == "c,d"
    six_xi = 6 * theory.xi_c("tanh", 1.5, 0.25)
    assert cells.loc[(1.5, 5), "six_xi_c"] == pytest.approx(six_xi, rel=1e-12)
    assert six_xi / 2 < 20 < six_xi < 200  # (1.5, 5) and (1.5, 20) predicted trainable
    assert list(cells["trainable"]) == [True, False, False, True, True]
    assert list(cells["predicted"]) == [True, False, True, True, False]
    assert list(cells["agree"]) == [True, True, False, True, False]
    crit = curve.loc[curve["kind"] == "critical", "sigma_w2"].iloc[0]
    assert crit == pytest.approx(theory.critical_sigma_w2("tanh", 0.25))


def test_boundary_agreement_by_hand():
    # ξ_c = 10 everywhere; depths 5, 15, 25 of which 5 and 15 trained
    cells = pd.DataFrame(
        {"depth": [5, 15, 25], "six_xi_c": [60.0] * 3, "trainable": [True, True, False]}
    )
    got = boundary_agreement(cells, [0.25, 1.0, 2.0, 3.0]).set_index("multiple")["agreement"]
    # k = 0.25: L < 2.5 none -> only depth 25 agrees; k = 1: L < 10 -> 5, 25 agree;
    # k = 2: L < 20 -> all; k = 3: L < 30 -> 5, 15 agree
    assert list(got) == pytest.approx([1 / 3, 2 / 3, 1.0, 2 / 3])


def test_width_points_by_hand():
    probes = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d", "e"],
            "probe.activation": "relu",
            "probe.depth": [3, 3, 5, 5, 9],
            "probe.width": [4, 4, 8, 8, 8],
            names.WIDTH_BETA: [0.5, 0.5, 0.5, 0.5, 1.0],
            names.LN_DELTA1_SQ_VAR: [1.0, 3.0, 4.0, 4.0, 9.0],
        }
    )
    points = width_points(probes).set_index(["depth", "width"])
    assert points.loc[(3, 4), "var"] == 2.0 and points.loc[(3, 4), "var_max"] == 3.0
    assert points.loc[(5, 8), "var"] == 4.0
    # equal β = 0.5: medians 2 and 4 -> (4 − 2)/3
    assert points.loc[(3, 4), "spread_at_beta"] == pytest.approx(2 / 3)
    assert math.isnan(points.loc[(9, 8), "spread_at_beta"])


def test_accuracy_table_by_hand():
    from gradlab.report.markdown import accuracy_table

    runs = pd.DataFrame(
        {
            "model.activation": ["sigmoid"] * 4 + ["relu"] * 2,
            "model.init": ["lecun_normal"] * 3 + ["he_normal"] * 3,
            "model.depth": [2, 2, 10, 2, 2, 10],
            names.TEST_ACCURACY: [0.9, 0.8, 0.1, 0.5, 0.97, 0.6],
        }
    )
    lines = accuracy_table(runs).splitlines()
    assert lines[0] == "| activation (init) | depth 2 | depth 10 |"
    # sigmoid keeps only its natural init (lecun): median of 0.9 and 0.8, min–max beside it
    assert lines[2] == "| sigmoid (lecun_normal) | 0.85 (0.80–0.90) | 0.10 |"
    assert lines[3] == "| relu (he_normal) | 0.97 | 0.60 |"
    assert accuracy_table(runs.assign(**{names.TEST_ACCURACY: float("nan")})) == ""
