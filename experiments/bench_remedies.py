"""Figure 9 of reports/benchmarks.md: training steps with remedies against PyTorch.

Two steps, each beside the same step in PyTorch autograd (same weights, dtype
and BLAS threads), at the sizes of figure 1:

- a residual + layer-norm network (skips a^l = a^{l−1} + φ(ž^l) on hidden layers
  2..L−1, layer norm before φ on every hidden layer, γ and β trained) with the
  SGD update of every W, b, γ, β;
- the plain sigmoid network of figure 1 with an Adam update (PyTorch's rule,
  ``gradlab.optim.Adam`` against ``torch.optim.Adam``).

Both use the quadratic cost of figure 1 and η = 0.1 (SGD) or 1e-3 (Adam).
"""

from __future__ import annotations

import numpy as np
from bench_engine import _limit, _torch_section
from bench_harness import Bench, Figure, Section, case_label
from bench_steps import LR, SEED

import gradlab
from gradlab.training.optim import SGD, Adam

ADAM_LR = 1e-3  # Kingma & Ba's default; the value does not change the work per step
LN_EPS = 1e-5  # the engine's ε of layer norm, also PyTorch's default


def make_remedy_net(width: int, hidden: int, residual: bool, norm: str | None) -> gradlab.MLP:
    """The network of figure 1 (``hidden + 2`` layers of ``width``, sigmoid) with remedies."""
    rng = np.random.default_rng(SEED)
    return gradlab.MLP([width] * (hidden + 2), "sigmoid", seed=rng, residual=residual, norm=norm)


def make_batch(width: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 1)
    return rng.standard_normal((batch, width)), rng.uniform(0.0, 1.0, (batch, width))


class EngineOptStep:
    """``net.backprop`` then ``optimizer.step(net.parameters(), trace.gradients())``,
    as ``gradlab.training.loop`` runs a step (no clipping, no weight decay)."""

    def __init__(self, net: gradlab.MLP, x, y, optimizer) -> None:
        self.net, self.x, self.y, self.opt = net, x, y, optimizer
        self.params = net.parameters()
        self.trace = None

    def __call__(self) -> None:
        self.trace = self.net.backprop(self.x, self.y, "quadratic")
        self.opt.step(self.params, self.trace.gradients())


class TorchRemedyStep:
    """The same network and update in PyTorch, written the way a PyTorch user would."""

    def __init__(self, torch, net: gradlab.MLP, x, y, optimizer: str) -> None:
        self.torch = torch
        rem = net.remedies
        self.weights = [torch.tensor(w, requires_grad=True) for w in net.weights]
        self.biases = [torch.tensor(b, requires_grad=True) for b in net.biases]
        L = len(self.weights)
        self.skip = rem.skip if rem is not None else [False] * L
        self.scale = rem.residual_scale if rem is not None else 1.0
        norm = rem is not None and rem.norm == "layer"
        self.gamma = [
            torch.tensor(g, requires_grad=True) if norm and g is not None else None
            for g in (rem.gamma if rem is not None else [None] * L)
        ]
        self.beta = [
            torch.tensor(b, requires_grad=True) if norm and b is not None else None
            for b in (rem.beta if rem is not None else [None] * L)
        ]
        params = self.weights + self.biases + [p for p in self.gamma + self.beta if p is not None]
        self.opt = (
            torch.optim.Adam(params, lr=ADAM_LR)
            if optimizer == "adam"
            else torch.optim.SGD(params, lr=LR)
        )
        self.x, self.y = torch.tensor(x), torch.tensor(y)

    def loss(self):
        """C = (1/2n) Σ_k ‖a^L_k − y_k‖²."""
        F, a = self.torch.nn.functional, self.x
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = F.linear(a, w, b)
            if self.gamma[i] is not None:
                z = F.layer_norm(z, (z.shape[-1],), self.gamma[i], self.beta[i], LN_EPS)
            h = self.torch.sigmoid(z)
            a = a + self.scale * h if self.skip[i] else h
        return 0.5 * ((a - self.y) ** 2).sum(dim=1).mean()

    def __call__(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.loss().backward()
        self.opt.step()


def _agreement(engine: EngineOptStep, ref: TorchRemedyStep) -> float:
    """max |∇W¹ engine − ∇W¹ PyTorch| / max |∇W¹ PyTorch|, before any update."""
    g = engine.net.backprop(engine.x, engine.y, "quadratic").nabla_w[0]
    ref.loss().backward()
    gw = ref.weights[0].grad.numpy()
    ref.opt.zero_grad(set_to_none=True)
    return float(np.max(np.abs(g - gw)) / np.max(np.abs(gw)))


CASES = (
    ("residual + layer norm, SGD", True, "layer", "sgd"),
    ("plain, Adam", False, None, "adam"),
)


def remedies(bench: Bench) -> Section:
    """Figure 9: engine step / PyTorch step with skips + layer norm, and with Adam."""
    sec = _torch_section(
        "9. Steps with remedies vs PyTorch CPU autograd",
        "t(engine step) / t(PyTorch step), float64, same BLAS thread count "
        f"({bench.threads}): a residual + layer-norm sigmoid network with SGD (η = {LR}) on "
        f"W, b, γ, β, and the plain sigmoid network with Adam (η = {ADAM_LR}).  Targets as "
        "figure 1: ≤ 1.0 up to width 256, ≤ 1.15 at width 1024.",
        bench,
    )
    if bench.torch is None:
        return sec
    for label, residual, norm, optimizer in CASES:
        for size in bench.sizes:
            width, hidden, batch = size
            x, y = make_batch(width, batch)
            net = make_remedy_net(width, hidden, residual, norm)
            ref = TorchRemedyStep(bench.torch, net, x, y, optimizer)
            opt = Adam(ADAM_LR) if optimizer == "adam" else SGD(LR)
            engine = EngineOptStep(net, x, y, opt)
            agree = _agreement(engine, ref)
            pair = bench.paired(engine, ref)
            limit = _limit(width)
            detail = (
                f"{pair.spread()}; engine {pair.t_a * 1e3:.3f} ms, PyTorch "
                f"{pair.t_b * 1e3:.3f} ms; ∇W¹ agrees to {agree:.1e}"
            )
            sec.figures.append(
                Figure(
                    f"{label}: {case_label(size)}", pair.ratio, f"≤ {limit}",
                    pair.ratio <= limit, detail,
                )
            )  # fmt: skip
    return sec
