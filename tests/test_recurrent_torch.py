"""RNN and LSTM gradients and per-step errors against PyTorch autograd (skipped without torch).

The weights are copied into ``torch.nn.RNN`` / ``torch.nn.LSTM`` (fused kernels)
for the parameter gradients, and into ``RNNCell``-style and ``torch.nn.LSTMCell``
unrolls, whose per-step tensors keep their gradients, for δ_t, ∂C_k/∂h_t and
∂C_k/∂c_t.  Torch has two bias vectors (b_ih + b_hh); b_hh is set to zero, and its
gradient must equal ours too since the two enter the same sum.
"""

import numpy as np
import pytest

import gradlab

torch = pytest.importorskip("torch")

N, T, N_IN, H, N_OUT = 5, 7, 3, 6, 4


def data(outputs, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, N_IN))
    y_shape = (N, N_OUT) if outputs == "last" else (N, T, N_OUT)
    return x, rng.dirichlet(np.ones(N_OUT), size=y_shape[:-1])


def t64(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def torch_cost(h, w_hy, b_y, y, cost, outputs):
    """C = (1/n) Σ_k C_k from h (n, T, H), as the engine defines it."""
    y_hat = (h[:, -1] if outputs == "last" else h) @ w_hy.T + b_y
    y = t64(y)
    if cost == "quadratic":
        c = 0.5 * ((y_hat - y) ** 2).sum(-1)
    else:
        c = -(y * torch.log_softmax(y_hat, dim=-1)).sum(-1)
    return c.mean()  # over samples, and over steps for "all"


def max_rel(ours, theirs):
    theirs = theirs.detach().numpy()
    return np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)


@pytest.mark.parametrize("cost", ["quadratic", "softmax_cross_entropy"])
@pytest.mark.parametrize("outputs", ["last", "all"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_matches_torch(activation, outputs, cost):
    net = gradlab.RNN(N_IN, H, N_OUT, activation, gain=1.1, bias_std=0.3, seed=1)
    p = net.params
    x, y = data(outputs)
    trace = net.backprop(x, y, cost, outputs)

    mod = torch.nn.RNN(N_IN, H, nonlinearity=activation, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(t64(p["W_xh"]))
        mod.weight_hh_l0.copy_(t64(p["W_hh"]))
        mod.bias_ih_l0.copy_(t64(p["b_h"]))
        mod.bias_hh_l0.zero_()
    w_hy, b_y = t64(p["W_hy"], True), t64(p["b_y"], True)
    h, _ = mod(t64(x))
    c = torch_cost(h, w_hy, b_y, y, cost, outputs)
    c.backward()
    assert trace.cost == pytest.approx(c.item(), rel=1e-13)
    pairs = {
        "W_xh": mod.weight_ih_l0.grad,
        "W_hh": mod.weight_hh_l0.grad,
        "b_h": mod.bias_ih_l0.grad,
        "W_hy": w_hy.grad,
        "b_y": b_y.grad,
    }
    for key, g in pairs.items():
        assert max_rel(trace.grads[key], g) < 1e-12, key
    assert max_rel(trace.grads["b_h"], mod.bias_hh_l0.grad) < 1e-12

    # δ_t = ∂C_k/∂z_t = n · ∂C/∂z_t from an unrolled copy that keeps every z_t
    phi = torch.tanh if activation == "tanh" else torch.relu
    w_xh, w_hh, b_h = t64(p["W_xh"], True), t64(p["W_hh"]), t64(p["b_h"])
    xt, hs, zs = t64(x), [], []
    h_t = torch.zeros(N, H, dtype=torch.float64)
    for t in range(T):
        z = xt[:, t] @ w_xh.T + h_t @ w_hh.T + b_h
        z.retain_grad()
        zs.append(z)
        h_t = phi(z)
        hs.append(h_t)
    torch_cost(torch.stack(hs, 1), t64(p["W_hy"]), t64(p["b_y"]), y, cost, outputs).backward()
    delta = torch.stack([z.grad for z in zs], 1) * N
    assert max_rel(trace.delta, delta) < 1e-12


@pytest.mark.parametrize("cost", ["quadratic", "softmax_cross_entropy"])
@pytest.mark.parametrize("outputs", ["last", "all"])
def test_lstm_matches_torch(outputs, cost):
    net = gradlab.LSTM(N_IN, H, N_OUT, forget_bias=1.0, seed=2)
    net.params["b"] += np.random.default_rng(3).normal(0, 0.3, 4 * H)
    p = net.params
    x, y = data(outputs, seed=1)
    trace = net.backprop(x, y, cost, outputs)

    mod = torch.nn.LSTM(N_IN, H, batch_first=True, dtype=torch.float64)
    cell = torch.nn.LSTMCell(N_IN, H, dtype=torch.float64)
    with torch.no_grad():
        for w_ih, w_hh, b_ih, b_hh in (
            (mod.weight_ih_l0, mod.weight_hh_l0, mod.bias_ih_l0, mod.bias_hh_l0),
            (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh),
        ):
            w_ih.copy_(t64(p["W_ih"]))
            w_hh.copy_(t64(p["W_hh"]))
            b_ih.copy_(t64(p["b"]))
            b_hh.zero_()
    w_hy, b_y = t64(p["W_hy"], True), t64(p["b_y"], True)
    h, _ = mod(t64(x))
    c = torch_cost(h, w_hy, b_y, y, cost, outputs)
    c.backward()
    assert trace.cost == pytest.approx(c.item(), rel=1e-13)
    pairs = {
        "W_ih": mod.weight_ih_l0.grad,
        "W_hh": mod.weight_hh_l0.grad,
        "b": mod.bias_ih_l0.grad,
        "W_hy": w_hy.grad,
        "b_y": b_y.grad,
    }
    for key, g in pairs.items():
        assert max_rel(trace.grads[key], g) < 1e-12, key
    assert max_rel(trace.grads["b"], mod.bias_hh_l0.grad) < 1e-12

    # ∂C_k/∂h_t and ∂C_k/∂c_t from an LSTMCell unroll that keeps every h_t and c_t
    xt, hs, cs = t64(x), [], []
    state = (torch.zeros(N, H, dtype=torch.float64), torch.zeros(N, H, dtype=torch.float64))
    for t in range(T):
        state = cell(xt[:, t], state)
        for s in state:
            s.retain_grad()
        hs.append(state[0])
        cs.append(state[1])
    torch_cost(torch.stack(hs, 1), t64(p["W_hy"]), t64(p["b_y"]), y, cost, outputs).backward()
    assert max_rel(trace.delta_h, torch.stack([h.grad for h in hs], 1) * N) < 1e-12
    assert max_rel(trace.delta_c, torch.stack([c.grad for c in cs], 1) * N) < 1e-12
