"""Figures 11–13 (the recurrent presets): their data functions against values the
training loop recorded and against hand calculations, and that each figure draws."""

import numpy as np
import pandas as pd
import pytest
from helpers import train_cfg

from gradlab import names
from gradlab.report.clipping import clipping_data, clipping_summary, plot_clipping
from gradlab.report.frames import NoDataError
from gradlab.report.rnn_vs_lstm import (
    error_profiles,
    failure_lengths,
    plot_rnn_vs_lstm,
    rnn_vs_lstm_text,
    success_data,
)
from gradlab.report.time_gap import plot_time_gap, time_gap_data, time_gap_summary
from gradlab.training.sequence_loop import prepare_sequence, train_sequence

RHO = 0.8


def recorded_run(activation: str, run_id: str, model="rnn", **extra):
    """A run's summary row and its time history, as the job records them (no MLflow)."""
    over = {"model.activation": activation, "model.spectral_radius": RHO, "train.epochs": 0,
            "data.n_samples": 64, "data.length": 12, "train.probe_size": 64, "model.hidden": 8,
            **extra}  # fmt: skip
    if model == "lstm":
        over = {k: v for k, v in over.items() if k not in ("model.activation",
                                                             "model.spectral_radius")}  # fmt: skip
    spec, rng, data = prepare_sequence(train_cfg(model=model, data="adding", **over))
    result = train_sequence(spec, data, rng)
    row = {"run_id": run_id, "model.kind": model, "model.activation": activation,
           "model.spectral_radius": str(RHO), "data.length": "12", "seed": "0",
           **result.summary()}  # fmt: skip
    return row, result.history.assign(run_id=run_id)


@pytest.fixture(scope="module")
def time_gap_runs():
    rows, hists = zip(recorded_run("linear", "a"), recorded_run("tanh", "b"), strict=True)
    return pd.DataFrame(list(rows)), pd.concat(hists, ignore_index=True)


def test_linear_rnn_ratio_is_rho_to_the_gap_and_every_run_is_under_its_bound(time_gap_runs):
    data = time_gap_data(*time_gap_runs)
    lin, tanh = data[data["activation"] == "linear"], data[data["activation"] == "tanh"]
    # orthogonal W_hh = ρQ and φ′ = 1: δ_t = (W_hh)ᵀ δ_{t+1}, so ‖δ_t‖ = ρ^{T−t} ‖δ_T‖ exactly
    np.testing.assert_allclose(lin["ratio"], RHO ** lin["time_gap"], rtol=1e-10)
    # cost on ŷ_T only: the bound is ‖δ_T‖ r^{T−t} with r = sup|φ′|·‖W_hh‖₂ = ρ
    np.testing.assert_allclose(tanh["bound_ratio"], RHO ** tanh["time_gap"], rtol=1e-10)
    assert (tanh["ratio"] <= tanh["bound_ratio"] * (1 + 1e-12)).all()
    assert tanh["ratio"].iloc[-1] < 0.5 * tanh["bound_ratio"].iloc[-1]  # tanh′ < 1 bites
    summary = time_gap_summary(data).set_index("activation")
    assert summary.loc["linear", "measured"] == pytest.approx(RHO, rel=1e-10)
    assert summary.loc["linear", "factor"] == pytest.approx(RHO, rel=1e-10)
    assert summary.loc["tanh", "of_bound"] < 1.0


def test_time_gap_figure_draws(time_gap_runs):
    data, fig = plot_time_gap(*time_gap_runs)
    assert len(fig.axes) == 2 and len(data) == 2 * 12


def steps_table():
    steps = pd.DataFrame({
        "run_id": ["c"] * 4 + ["n"] * 4,
        "step": [1, 2, 3, 4] * 2,
        names.STEP_LOSS: [4.0, 1.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0],
        names.GRAD_NORM: [5.0, 0.5, 2.0, 3.0, 9.0, 9.0, 9.0, 9.0],
        names.CLIPPED: [1, 0, 1, 1, 0, 0, 0, 0],
    })  # fmt: skip
    runs = pd.DataFrame({
        "run_id": ["c", "n"], "train.clip_norm": ["1.0", "None"], "seed": ["0", "0"],
        names.MSE_RATIO: [0.5, 2.0], names.GRAD_NORM_MEDIAN: [2.5, 9.0],
        names.GRAD_NORM_MAX: [5.0, 9.0], names.CLIPPED_FRAC: [0.75, 0.0],
    })  # fmt: skip
    return runs, steps


def test_clipping_data_running_share_and_median():
    data = clipping_data(*steps_table()).set_index(["run_id", "step"])
    clip = data.loc["c"]
    np.testing.assert_allclose(clip["clipped_share"], [1, 1 / 2, 2 / 3, 3 / 4])
    # running median over ≤ 40 steps: median(4), median(4, 1), median(4, 1, 3), median(4, 1, 3, 2)
    np.testing.assert_allclose(clip["loss_smooth"], [4.0, 2.5, 3.0, 2.5])
    assert set(data.loc["n", "setting"]) == {"no clipping"}
    assert set(clip["setting"]) == {"clip ‖∇θ‖₂ at 1"}
    summary = clipping_summary(steps_table()[0]).set_index("setting")
    assert summary.loc["no clipping", "mse_ratio"] == 2.0
    assert summary.loc["clip ‖∇θ‖₂ at 1", "clipped_frac"] == 0.75


def test_clipping_figure_draws():
    data, fig = plot_clipping(*steps_table())
    assert len(fig.axes) == 3 and len(data) == 8


def success_runs():
    rows = []
    ratios = {("rnn", 10): [0.01, 0.02, 0.03], ("rnn", 20): [0.05, 0.5, 1.0],
              ("lstm", 10): [0.01, 0.01, 0.01], ("lstm", 20): [0.02, 0.2, 0.05]}  # fmt: skip
    for (kind, T), values in ratios.items():
        for seed, r in enumerate(values):
            rows.append({"run_id": f"{kind}{T}{seed}", "model.kind": kind,
                         "data.length": str(T), "seed": str(seed), names.MSE_RATIO: r})  # fmt: skip
    return pd.DataFrame(rows)


def test_failure_length_is_where_at_most_half_the_seeds_succeed():
    success = success_data(success_runs())
    assert success["success"].sum() == 3 + 1 + 3 + 2  # ratio < 0.1
    assert failure_lengths(success) == {"lstm": None, "rnn": 20}


def test_error_profiles_take_the_lowest_seed_at_the_longest_length():
    runs = success_runs()
    hist = []
    for run_id, kind in zip(runs["run_id"], runs["model.kind"], strict=True):
        for phase in (names.PHASE_INIT, names.PHASE_FINAL):
            cell = np.nan if kind == "rnn" else 3.0
            steps = {"time_step": [1, 2, 3], "delta_rms": [1.0, 2.0, 4.0], "delta_c_rms": cell}
            hist.append(pd.DataFrame({"run_id": run_id, "phase": phase, **steps}))
    history = pd.concat(hist, ignore_index=True)
    profiles = error_profiles(success_data(runs), history)
    assert set(profiles["seed"]) == {0}
    init = profiles[profiles["phase"] == names.PHASE_INIT]
    assert sorted(init["quantity"]) == ["δ_c"] * 3 + ["δ_h"] * 3 + ["δ_t"] * 3
    rnn = init[init["quantity"] == "δ_t"].sort_values("time_gap")
    np.testing.assert_allclose(rnn["value"], [4.0, 2.0, 1.0])  # gap 0 is step T = 3
    data, fig = plot_rnn_vs_lstm(runs, history)
    assert len(fig.axes) == 3
    text = rnn_vs_lstm_text(data)
    assert "rnn: seeds solving (test MSE < chance/10): T = 10: 3/3" in text
    assert "fails from T = 20" in text and "lstm" in text and "succeeds at every length" in text


def test_no_recurrent_runs_is_a_reason_not_a_crash():
    with pytest.raises(NoDataError):
        success_data(pd.DataFrame(columns=["run_id"]))
