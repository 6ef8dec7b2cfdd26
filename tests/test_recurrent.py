"""RNN and LSTM: gradients and per-step errors against finite differences of an
independent per-sample reference, the time-gap theorem for the linear RNN, the
σ′ bound over time, and the constant error carousel of the LSTM."""

import numpy as np
import pytest
from gradcheck import check_grad, numeric_grad
from recurrent_reference import (
    batch_cost,
    lstm_states,
    rnn_states,
    sample_cost,
    step_cost,
)

import gradlab
from gradlab.engine.recurrent import SEQUENCE_COSTS
from gradlab.engine.spectral import spectral_norm
from gradlab.engine.time_diagnostics import decay_per_step

N, T, N_IN, H, N_OUT = 4, 5, 3, 4, 3
COSTS = ("quadratic", "softmax_cross_entropy")
OUTPUTS = ("last", "all")
ACTS = sorted(gradlab.ACTIVATIONS)


def batch(outputs, seed=0, n=N, steps=T):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, steps, N_IN))
    y_shape = (n, N_OUT) if outputs == "last" else (n, steps, N_OUT)
    return x, rng.dirichlet(np.ones(N_OUT), size=y_shape[:-1])  # probability targets


def rnn(activation="tanh", **kw):
    kw = {"gain": 1.2, "bias_std": 0.3, "seed": 5, **kw}
    net = gradlab.RNN(N_IN, H, N_OUT, activation=activation, **kw)
    net.params["b_y"] += np.random.default_rng(9).normal(0, 0.3, N_OUT)
    return net


def lstm(**kw):
    net = gradlab.LSTM(N_IN, H, N_OUT, **{"seed": 5, **kw})
    net.params["b"] += np.random.default_rng(9).normal(0, 0.3, 4 * H)  # all gates non-trivial
    return net


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("outputs", OUTPUTS)
@pytest.mark.parametrize("activation", ACTS)
def test_rnn_gradients_match_finite_differences(activation, outputs, cost):
    net = rnn(activation)
    x, y = batch(outputs)
    trace = net.backprop(x, y, cost, outputs)
    expected = batch_cost("rnn", net.params, x, y, cost, outputs, activation)
    assert trace.cost == pytest.approx(expected, rel=1e-13)
    for key, p in net.params.items():

        def f():
            return batch_cost("rnn", net.params, x, y, cost, outputs, activation)

        check_grad(trace.grads[key], numeric_grad(f, p), what=f"RNN ∇{key}")


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("outputs", OUTPUTS)
def test_lstm_gradients_match_finite_differences(outputs, cost):
    net = lstm()
    x, y = batch(outputs)
    trace = net.backprop(x, y, cost, outputs)
    expected = batch_cost("lstm", net.params, x, y, cost, outputs)
    assert trace.cost == pytest.approx(expected, rel=1e-13)
    for key, p in net.params.items():

        def f():
            return batch_cost("lstm", net.params, x, y, cost, outputs)

        check_grad(trace.grads[key], numeric_grad(f, p), what=f"LSTM ∇{key}")


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("outputs", OUTPUTS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_rnn_delta_is_dCk_dz_t(activation, outputs, cost):
    # δ_t,k = ∂C_k/∂z_t: perturb z_t of one sample inside the reference forward.
    net = rnn(activation)
    x, y = batch(outputs)
    trace = net.backprop(x, y, cost, outputs)
    for k in (0, N - 1):
        dz = np.zeros((T, H))

        def f(k=k, dz=dz):
            hs = rnn_states(net.params, activation, x[k], dz)
            return sample_cost(net.params, hs, y[k], cost, outputs)

        check_grad(trace.delta[k], numeric_grad(f, dz), what=f"δ_t of sample {k}")


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("outputs", OUTPUTS)
def test_lstm_delta_h_and_delta_c_are_total_derivatives(outputs, cost):
    net = lstm()
    x, y = batch(outputs)
    trace = net.backprop(x, y, cost, outputs)
    for k in (0, N - 1):
        dh, dc = np.zeros((T, H)), np.zeros((T, H))

        def f(k=k, dh=dh, dc=dc):
            hs = lstm_states(net.params, x[k], dh, dc)
            return sample_cost(net.params, hs, y[k], cost, outputs)

        check_grad(trace.delta_h[k], numeric_grad(f, dh), what=f"∂C_k/∂h_t, sample {k}")
        check_grad(trace.delta_c[k], numeric_grad(f, dc), what=f"∂C_k/∂c_t, sample {k}")


def test_feedforward_matches_reference_and_trace():
    net = rnn("sigmoid")
    x, _ = batch("all")
    ref = np.stack([rnn_states(net.params, "sigmoid", xk) for xk in x]) @ net.params["W_hy"].T
    ref += net.params["b_y"]
    np.testing.assert_allclose(net.feedforward(x, "all"), ref, rtol=1e-12)
    np.testing.assert_allclose(net.feedforward(x), ref[:, -1], rtol=1e-12)
    lnet = lstm()
    ref = np.stack([lstm_states(lnet.params, xk)[-1] for xk in x]) @ lnet.params["W_hy"].T
    np.testing.assert_allclose(lnet.feedforward(x), ref + lnet.params["b_y"], rtol=1e-12)


def test_bias_gradient_is_the_sum_of_delta_over_steps():
    # ∇b_h = (1/n) Σ_k Σ_t δ_t,k and ∇W_hh = (1/n) Σ_k Σ_{t≥2} δ_t h_{t−1}ᵀ
    net = rnn("tanh")
    x, y = batch("all", n=7, steps=9)
    tr = net.backprop(x, y, "quadratic", "all")
    np.testing.assert_allclose(tr.grads["b_h"], tr.delta.sum(axis=(0, 1)) / 7, rtol=1e-12)
    w_hh = sum(tr.delta[k, t][:, None] * tr.h[k, t - 1] for k in range(7) for t in range(1, 9))
    np.testing.assert_allclose(tr.grads["W_hh"], w_hh / 7, rtol=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    # ŷ = (1000, 0), y = e₂: c = lse(ŷ) − ŷ₂ = 1000 + ln(1 + e^{−1000}) = 1000 in float64
    value, grad = SEQUENCE_COSTS["softmax_cross_entropy"].value_and_grad(
        np.array([[1000.0, 0.0]]), np.array([[0.0, 1.0]])
    )
    assert value[0] == 1000.0
    np.testing.assert_array_equal(grad, [[1.0, -1.0]])


def test_softmax_cross_entropy_gradient_for_unnormalised_targets():
    # c = −Σ_j y_j ln softmax(ŷ)_j for any y ≥ 0 (y = 0 at a step: no cost there)
    rng = np.random.default_rng(4)
    y_hat, y = rng.normal(0, 2, (3, 5)), rng.uniform(0, 2, (3, 5))
    y[1] = 0.0
    value, grad = SEQUENCE_COSTS["softmax_cross_entropy"].value_and_grad(y_hat, y)
    for k in range(3):
        assert value[k] == pytest.approx(step_cost(y_hat[k], y[k], "softmax_cross_entropy"))

        def f(k=k):
            return step_cost(y_hat[k], y[k], "softmax_cross_entropy")

        check_grad(grad[k], numeric_grad(f, y_hat[k]), what=f"∂c/∂ŷ of row {k}")


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 1.1, 1.5])
def test_linear_rnn_delta_decays_exactly_as_rho_power(rho):
    # Theorem: φ = id, W_hh = ρQ with Q orthogonal, cost on ŷ_T only ⇒ δ_t = (W_hh)ᵀ δ_{t+1},
    # so ‖δ_t,k‖ = ρ^{T−t} ‖δ_T,k‖ for every sample, and the σ′ bound is attained.
    steps = 30
    net = gradlab.RNN(N_IN, 16, N_OUT, "linear", "orthogonal", spectral_radius=rho, seed=2)
    assert spectral_norm(net.params["W_hh"])[0] == pytest.approx(rho, rel=1e-12)
    x, y = batch("last", seed=3, n=6, steps=steps)
    tr = net.backprop(x, y, "quadratic", "last")
    norms = np.linalg.norm(tr.delta, axis=-1)  # (n, T)
    gaps = steps - np.arange(1, steps + 1)  # T − t
    np.testing.assert_allclose(norms, norms[:, -1:] * rho**gaps, rtol=1e-10)
    table = gradlab.time_table(tr, net)
    np.testing.assert_allclose(table["bound"], table["delta_rms"], rtol=1e-10)
    assert decay_per_step(table) == pytest.approx(rho, rel=1e-10)


@pytest.mark.parametrize("outputs", OUTPUTS)
@pytest.mark.parametrize("rho", [0.5, 1.0, 1.5, 3.0])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_delta_never_exceeds_the_time_gap_bound(activation, rho, outputs):
    net = gradlab.RNN(N_IN, 12, N_OUT, activation, spectral_radius=rho, bias_std=0.5, seed=4)
    x, y = batch(outputs, seed=5, n=16, steps=25)
    tr = net.backprop(x, y, "quadratic", outputs)
    table = gradlab.time_table(tr, net)
    assert (table["delta_rms"] <= table["bound"] * (1 + 1e-12)).all()
    assert table["bound"].iloc[-1] == pytest.approx(table["delta_rms"].iloc[-1], rel=1e-12)
    if outputs == "last":  # then the bound is ‖δ_T‖ (sup|φ′| ‖W_hh‖₂)^{T−t}
        r = net.activation.sup_prime * spectral_norm(net.params["W_hh"])[0]
        expected = table["delta_rms"].iloc[-1] * r ** (25 - table["step"])
        np.testing.assert_allclose(table["bound"], expected, rtol=1e-12)


def test_lstm_cell_error_is_carried_by_the_forget_gates_alone():
    # With W_hh = 0 and the cost on ŷ_T, ∂C_k/∂h_t = 0 for t < T, so
    # ∂c_t = ∂c_{t+1} ⊙ f_{t+1} exactly: the constant error carousel
    # (Hochreiter & Schmidhuber 1997).
    net = lstm(forget_bias=3.0)
    net.params["W_hh"][:] = 0.0
    x, y = batch("last", n=6, steps=12)
    tr = net.backprop(x, y, "quadratic", "last")
    np.testing.assert_array_equal(tr.delta_h[:, :-1], 0.0)
    np.testing.assert_allclose(tr.delta_c[:, :-1], tr.delta_c[:, 1:] * tr.forget[:, 1:], rtol=1e-13)
    table = gradlab.time_table(tr, net)
    np.testing.assert_allclose(table["forget_mean"], tr.forget.mean(axis=(0, 2)), rtol=1e-13)


def test_lstm_forget_gate_starts_at_sigmoid_of_forget_bias():
    # x = 0: c_1 = i ⊙ tanh(0) = 0, so h stays 0 and f_t = σ(forget_bias) at every step.
    net = gradlab.LSTM(2, 5, 1, forget_bias=2.0, seed=0)
    tr = net.backprop(np.zeros((3, 4, 2)), np.ones((3, 1)))
    np.testing.assert_allclose(tr.forget, 1.0 / (1.0 + np.exp(-2.0)), rtol=1e-14)
    np.testing.assert_array_equal(net.params["b"][[0, 5, 10, 15]], [0.0, 2.0, 0.0, 0.0])


def test_spectral_radius_rescales_any_init():
    net = gradlab.RNN(2, 20, 1, init="normal", gain=0.3, spectral_radius=1.25, seed=1)
    assert np.max(np.abs(np.linalg.eigvals(net.params["W_hh"]))) == pytest.approx(1.25, rel=1e-12)


def test_float32_runs_in_float32_and_close_to_float64():
    net64 = rnn("tanh")
    net32 = rnn("tanh", dtype="float32")
    for key in net64.params:
        net32.params[key][:] = net64.params[key]
    x, y = batch("last")
    t64, t32 = net64.backprop(x, y), net32.backprop(x, y)
    assert t32.delta.dtype == np.float32 and t32.grads["W_hh"].dtype == np.float32
    for key in net64.params:
        np.testing.assert_allclose(t32.grads[key], t64.grads[key], rtol=1e-4, atol=1e-6)


X0, Y0 = np.zeros((2, 3, N_IN)), np.zeros((2, N_OUT))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda net: net.backprop(X0, Y0, "mse"), "cost='mse'"),
        (lambda net: net.backprop(X0, Y0, outputs="first"), "outputs='first'"),
        (
            lambda net: net.backprop(X0, Y0, outputs="all"),
            r"y has shape \(2, 3\); it must be \(2, 3, 3\)",
        ),
        (lambda net: net.feedforward(np.zeros((2, 3, N_IN + 1))), r"x has shape \(2, 3, 4\)"),
        (lambda net: gradlab.RNN(1, 2, 1, spectral_radius=-1), "spectral_radius=-1"),
        (lambda net: gradlab.RNN(1, 0, 1), "n_hidden=0"),
        (lambda net: gradlab.RNN(1, 2, 1, activation="sigmod"), "activation='sigmod'"),
        (lambda net: gradlab.LSTM(1, 2, 1, init="he"), "init='he'"),
    ],
)
def test_bad_input_names_key_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call(rnn())


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_one_step_table_row_is_the_bias_gradient(kind):
    # T = 1: step 1's share of ∇b is all of it.
    net, key = (rnn("tanh"), "b_h") if kind == "rnn" else (lstm(), "b")
    x, y = batch("last", steps=1)
    tr = net.backprop(x, y, "quadratic")
    row = gradlab.time_table(tr, net).iloc[0]
    assert row["grad_b_norm"] == pytest.approx(np.linalg.norm(tr.grads[key]), rel=1e-13)
    rms = np.sqrt(np.mean(np.sum((tr.delta if kind == "rnn" else tr.delta_h)[:, 0] ** 2, -1)))
    assert row["delta_rms"] == pytest.approx(rms, rel=1e-13)
    if kind == "lstm":
        rms_c = np.sqrt(np.mean(np.sum(tr.delta_c[:, 0] ** 2, -1)))
        assert row["delta_c_rms"] == pytest.approx(rms_c, rel=1e-13)


def test_saturation_columns_on_a_half_saturated_sigmoid_rnn():
    # Tiny weights and b_h = (40, …, 40, 0, …, 0): half the units sit at σ(40) ≈ 1 with
    # σ′ ≈ 4e−18 (saturated), the other half at σ(0) = 1/2 with σ′ = 1/4.  So at every
    # step: saturated_frac = 1/2, mean σ′ = 1/8, mean h = 3/4, std h = 1/4.
    net = gradlab.RNN(N_IN, 8, N_OUT, "sigmoid", seed=0)
    for key in ("W_xh", "W_hh"):
        net.params[key] *= 1e-9
    net.params["b_h"][:4] = 40.0
    x, y = batch("last", steps=6)
    table = gradlab.time_table(net.backprop(x, y), net)
    np.testing.assert_array_equal(table["saturated_frac"], 0.5)
    np.testing.assert_allclose(table["sigma_prime_mean"], 0.125, rtol=1e-8)
    np.testing.assert_allclose(table["act_mean"], 0.75, rtol=1e-8)
    np.testing.assert_allclose(table["act_std"], 0.25, rtol=1e-8)
    assert list(table.columns) == list(gradlab.TIME_COLUMNS)
    assert table[["delta_c_rms", "forget_mean"]].isna().all().all()
