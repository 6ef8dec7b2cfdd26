"""The remedies against PyTorch autograd: the same network built from torch.nn modules.

Skipped as a whole when PyTorch is not installed; the finite-difference checks
of the same gradients in test_remedies.py always run.
"""

import numpy as np
import pytest

import gradlab

torch = pytest.importorskip("torch")
nn = torch.nn

SIZES = [5, 6, 6, 4, 4, 3]
TORCH_ACT = {"tanh": torch.tanh, "selu": torch.nn.functional.selu, "sigmoid": torch.sigmoid}


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


class TorchMLP(nn.Module):
    """The gradlab network's forward pass written with torch.nn modules."""

    def __init__(self, net, act):
        super().__init__()
        rem = net.remedies
        self.act, self.L = TORCH_ACT[act], net.num_layers
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            lin = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
            lin.weight.data, lin.bias.data = _t(w), _t(b)
            self.linears.append(lin)
            norm = nn.Identity()
            if rem is not None and rem.norm is not None and i < self.L - 1:
                cls = nn.LayerNorm if rem.norm == "layer" else nn.BatchNorm1d
                norm = cls(w.shape[0], eps=1e-5, dtype=torch.float64)
                norm.weight.data, norm.bias.data = _t(rem.gamma[i]), _t(rem.beta[i])
            self.norms.append(norm)
        self.skip = rem.skip if rem is not None else [False] * self.L
        self.alpha = rem.residual_scale if rem is not None else 1.0
        self.zs = []

    def forward(self, x, output_linear):
        self.zs = []
        a = x
        for i in range(self.L):
            z = self.linears[i](a)
            if z.requires_grad:
                z.retain_grad()
            self.zs.append(z)
            if i == self.L - 1:
                return z if output_linear else self.act(z)
            h = self.act(self.norms[i](z))
            a = a + self.alpha * h if self.skip[i] else h
        return a


def _setup(norm, residual, act, cost, seed=2):
    out = "linear" if cost == "softmax_cross_entropy" else None
    net = gradlab.MLP(SIZES, activation=act, output_activation=out, residual=residual,
                      residual_scale=0.7, norm=norm, seed=seed, bias_std=0.1)  # fmt: skip
    rng = np.random.default_rng(seed)
    if norm is not None:
        for g, b in zip(net.remedies.gamma, net.remedies.beta, strict=True):
            if g is not None:
                g[:] = rng.uniform(0.5, 1.5, g.shape)
                b[:] = rng.normal(0.0, 0.3, b.shape)
    x = rng.standard_normal((7, SIZES[0]))
    y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], 7)] if out else rng.random((7, SIZES[-1]))
    return net, TorchMLP(net, act), x, y


def _torch_cost(model, x, y, cost):
    out = model(_t(x), output_linear=cost == "softmax_cross_entropy")
    if cost == "softmax_cross_entropy":
        return -(y * torch.log_softmax(out, dim=1)).sum(dim=1).mean()
    return 0.5 * ((out - y) ** 2).sum(dim=1).mean()


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


CASES = [
    (norm, residual, act, cost)
    for norm in (None, "layer", "batch")
    for residual in (False, True)
    for act, cost in (("tanh", "quadratic"), ("selu", "softmax_cross_entropy"))
]


@pytest.mark.parametrize(("norm", "residual", "act", "cost"), CASES)
def test_gradients_and_delta_match_torch_autograd(norm, residual, act, cost):
    net, model, x, y = _setup(norm, residual, act, cost)
    trace = net.backprop(x, y, cost, update_running=False)
    c = _torch_cost(model, x, _t(y), cost)
    c.backward()
    assert float(trace.cost) == pytest.approx(c.item(), rel=1e-13)
    n = x.shape[0]
    for i in range(net.num_layers):
        lin = model.linears[i]
        # biases ahead of batch norm have gradient 0 up to rounding on both sides
        atol = 1e-14 if norm == "batch" and i < net.num_layers - 1 else 0.0
        np.testing.assert_allclose(trace.nabla_w[i], lin.weight.grad.numpy(), rtol=1e-11)
        np.testing.assert_allclose(trace.nabla_b[i], lin.bias.grad.numpy(), rtol=1e-11, atol=atol)
        # δ^l = n ∂C/∂z^l_k: per sample, with the batch-mean cost's gradient scaled by n
        dz = n * model.zs[i].grad.numpy()
        np.testing.assert_allclose(trace.delta[i], dz, rtol=1e-11, atol=1e-14 * np.abs(dz).max())
        if norm is not None and i < net.num_layers - 1:
            norm_mod = model.norms[i]
            np.testing.assert_allclose(trace.nabla_gamma[i], norm_mod.weight.grad.numpy(),
                                       rtol=1e-11)  # fmt: skip
            np.testing.assert_allclose(trace.nabla_beta[i], norm_mod.bias.grad.numpy(),
                                       rtol=1e-11)  # fmt: skip


def test_batch_norm_running_statistics_and_evaluation_match_torch():
    net, model, _, _ = _setup("batch", True, "tanh", "quadratic")
    rng = np.random.default_rng(9)
    model.train()
    for _ in range(5):
        xb = rng.normal(0.3, 1.5, (8, SIZES[0]))
        net.backprop(xb, np.zeros((8, SIZES[-1])))
        with torch.no_grad():
            model(_t(xb), output_linear=False)
    for i in range(net.num_layers - 1):
        bn = model.norms[i]
        np.testing.assert_allclose(net.remedies.running_mean[i], bn.running_mean.numpy(),
                                   rtol=1e-13, atol=1e-15)  # fmt: skip
        np.testing.assert_allclose(net.remedies.running_var[i], bn.running_var.numpy(),
                                   rtol=1e-13)  # fmt: skip
    model.eval()
    xt = rng.standard_normal((4, SIZES[0]))
    with torch.no_grad():
        expected = model(_t(xt), output_linear=False).numpy()
    np.testing.assert_allclose(net.feedforward(xt), expected, rtol=1e-13)
