"""Figure 8 of reports/benchmarks.md: one BPTT pass of the RNN and the LSTM vs PyTorch.

A pass is forward + backward through time, no optimiser on either side (as
figure 1b): the engine's ``net.backprop(x, y, "quadratic", outputs="last")``
against ``torch.nn.RNN`` / ``torch.nn.LSTM`` (tanh RNN; the fused modules a
PyTorch user would write) with the same weights, a linear readout of h_T and
C = (1/2n) Σ_k ‖ŷ_T,k − y_k‖², then ``backward()``.  Both sides run float64
on the same BLAS thread count.  The floor is the pass's matrix products alone
on the pass's own operands (``RecurrentProducts``): the input projection and
its gradient as one product over all T·n rows each, the T − 1 recurrent
products forward and T − 1 backward (one per step: the recursion allows no
fewer), ∇W_hh as one product, and the readout's three.
"""

from __future__ import annotations

import numpy as np
from bench_harness import Bench, Figure, Section
from bench_machine import blas_sides

import gradlab

SEED = 0
OUTPUTS = "last"  # cost on ŷ_T only: every step's δ comes through the recursion

#: (n_in, H, n_out, T, batch): the issue's H = 128, T = 50, batch 32, and a small H
#: where per-step overheads rather than products dominate.
SIZES = [(32, 128, 10, 50, 32), (8, 32, 4, 50, 32)]
QUICK_SIZES = [(4, 16, 3, 6, 5)]

#: engine / PyTorch must stay at or below this.
LIMIT = 1.5


def case_label(kind: str, size: tuple[int, int, int, int, int]) -> str:
    return "{}, n_in {}, H {}, n_out {}, T {}, batch {}".format(kind, *size)


def make_problem(kind: str, n_in: int, H: int, n_out: int, T: int, batch: int):
    """The network (``"rnn"`` tanh or ``"lstm"``), x (batch, T, n_in) and y (batch, n_out)."""
    rng = np.random.default_rng(SEED)
    if kind == "rnn":
        net = gradlab.RNN(n_in, H, n_out, "tanh", bias_std=0.1, seed=rng)
    else:
        net = gradlab.LSTM(n_in, H, n_out, seed=rng)
    x = rng.standard_normal((batch, T, n_in))
    y = rng.uniform(0.0, 1.0, (batch, n_out))
    return net, x, y


class EngineBPTT:
    """``net.backprop(x, y, "quadratic", outputs="last")``, the trace kept until the next call."""

    def __init__(self, net, x: np.ndarray, y: np.ndarray) -> None:
        self.net, self.x, self.y = net, x, y
        self.trace = None

    def __call__(self) -> None:
        self.trace = self.net.backprop(self.x, self.y, "quadratic", OUTPUTS)


class TorchBPTT:
    """The same pass in PyTorch: ``nn.RNN`` / ``nn.LSTM``, readout, cost, ``backward()``.

    PyTorch has two bias vectors b_ih + b_hh where the engine has one; b_hh is
    zero, so the two compute the same function.
    """

    def __init__(self, torch, net, x: np.ndarray, y: np.ndarray) -> None:
        self.torch = torch
        p = net.params
        n_in, H = net.n_in, net.n_hidden
        if isinstance(net, gradlab.LSTM):
            self.mod = torch.nn.LSTM(n_in, H, batch_first=True, dtype=torch.float64)
            w_ih, b = p["W_ih"], p["b"]
        else:
            self.mod = torch.nn.RNN(
                n_in, H, nonlinearity="tanh", batch_first=True, dtype=torch.float64
            )
            w_ih, b = p["W_xh"], p["b_h"]
        with torch.no_grad():
            self.mod.weight_ih_l0.copy_(torch.from_numpy(w_ih))
            self.mod.weight_hh_l0.copy_(torch.from_numpy(p["W_hh"]))
            self.mod.bias_ih_l0.copy_(torch.from_numpy(b))
            self.mod.bias_hh_l0.zero_()
        self.w_hy = torch.tensor(p["W_hy"], requires_grad=True)
        self.b_y = torch.tensor(p["b_y"], requires_grad=True)
        self.params = [*self.mod.parameters(), self.w_hy, self.b_y]
        self.x, self.y = torch.tensor(x), torch.tensor(y)

    def loss(self):
        """C = (1/2n) Σ_k ‖W_hy h_T,k + b_y − y_k‖²."""
        h, _ = self.mod(self.x)  # (n, T, H)
        y_hat = self.torch.nn.functional.linear(h[:, -1], self.w_hy, self.b_y)
        return 0.5 * ((y_hat - self.y) ** 2).sum(dim=1).mean()

    def __call__(self) -> None:
        for p in self.params:
            p.grad = None  # as zero_grad(set_to_none=True): backward writes fresh gradients
        self.loss().backward()


class RecurrentProducts:
    """The matrix products of one BPTT pass (module docstring), fresh outputs, own operands.

    ``W`` is W_xh (RNN) or W_ih (LSTM), of shape (G, n_in) with G = H or 4H;
    ``err`` holds the per-step errors of the G pre-activations (δ_t or ∂C_k/∂a_t),
    time-major (T, n, G) like ``h`` (T, n, H) and ``x`` (T, n, n_in).
    """

    def __init__(self, net, x: np.ndarray, y: np.ndarray) -> None:
        p = net.params
        trace = net.backprop(x, y, "quadratic", OUTPUTS)
        err = trace.delta_gates if isinstance(net, gradlab.LSTM) else trace.delta
        self.w_in, self.w_hh, self.w_hy = p[net.input_key], p["W_hh"], p["W_hy"]
        self.x = np.ascontiguousarray(x.transpose(1, 0, 2))
        self.h = np.ascontiguousarray(trace.h.transpose(1, 0, 2))
        self.err = np.ascontiguousarray(err.transpose(1, 0, 2))
        self.g = trace.delta_out  # (n, n_out)

    def __call__(self) -> None:
        x, h, err, w_hh = self.x, self.h, self.err, self.w_hh
        T, n, G = err.shape
        x.reshape(T * n, -1) @ self.w_in.T  # input drive of every step
        for t in range(1, T):
            h[t - 1] @ w_hh.T  # forward recursion
        h[-1] @ self.w_hy.T  # ŷ_T
        self.g @ self.w_hy  # (W_hy)ᵀ g_T
        for t in range(T - 1, 0, -1):
            err[t] @ w_hh  # backward recursion
        err.reshape(T * n, G).T @ x.reshape(T * n, -1)  # ∇W_in
        err[1:].reshape(-1, G).T @ h[:-1].reshape(-1, h.shape[-1])  # ∇W_hh
        self.g.T @ h[-1]  # ∇W_hy


def _agreement(engine: EngineBPTT, ref: TorchBPTT) -> float:
    """max |∇W_hh engine − ∇W_hh PyTorch| / max |∇W_hh PyTorch|."""
    engine()
    ref()
    ours = engine.trace.grads["W_hh"]
    theirs = ref.mod.weight_hh_l0.grad.numpy()
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def _line(bench: Bench, kind: str, size) -> tuple[Figure, str | None]:
    """One figure-8 line, and a note on the limit when the target is missed."""
    net, x, y = make_problem(kind, *size)
    engine, ref = EngineBPTT(net, x, y), TorchBPTT(bench.torch, net, x, y)
    products = RecurrentProducts(net, x, y)
    agree = _agreement(engine, ref)
    pair = bench.paired(engine, ref)
    floor = bench.paired(engine, products)
    detail = (
        f"{pair.spread()}; engine {pair.t_a * 1e3:.3f} ms, PyTorch {pair.t_b * 1e3:.3f} ms; "
        f"floor (matrix products alone) {floor.t_b * 1e3:.3f} ms, engine / floor "
        f"{floor.spread()}; page faults/pass engine {pair.faults_a:.0f}, PyTorch "
        f"{pair.faults_b:.0f}; ∇W_hh agrees to {agree:.1e}"
    )
    met = pair.ratio <= LIMIT
    figure = Figure(case_label(kind, size), pair.ratio, f"≤ {LIMIT}", met, detail)
    if met:
        return figure, None
    alone = bench.paired(products, ref)
    note = (
        f"Limit at {figure.case}: the pass's matrix products alone take {alone.ratio:.3f}× "
        "PyTorch's whole pass (paired); the engine adds each step's element-wise passes "
        "(φ and φ′; for the LSTM the gates' σ, tanh, their derivatives and the ⊙ "
        f"products of the recursion) and its Python calls to reach {pair.ratio:.3f}×."
    )
    return figure, note


def recurrent(bench: Bench) -> Section:
    """Figure 8: engine BPTT pass / PyTorch BPTT pass, RNN and LSTM, with the products floor."""
    sec = Section(
        "8. BPTT pass vs PyTorch CPU autograd (RNN and LSTM)",
        "t(net.backprop(x, y, 'quadratic', outputs='last')) / t(torch.nn.RNN or "
        "torch.nn.LSTM forward + readout + backward()), same weights, no optimiser on "
        f"either side, tanh RNN, float64, {bench.threads} BLAS thread(s).  Target: ≤ {LIMIT}.  "
        "The detail line also times the floor, the pass's matrix products alone on its own "
        "operands (one input projection and one ∇W_in product over all T·n rows, T − 1 "
        "recurrent products forward and T − 1 backward, one ∇W_hh product, the readout's "
        "three), and gives engine / floor.",
    )
    if bench.torch is None:
        sec.notes.append(f"Skipped: PyTorch is not installed ({bench.torch_skip_reason}).")
        return sec
    sec.notes.append(blas_sides(bench.torch))
    for size in QUICK_SIZES if bench.quick else SIZES:
        for kind in ("rnn", "lstm"):
            figure, note = _line(bench, kind, size)
            sec.figures.append(figure)
            sec.notes += [note] if note else []
    return sec
