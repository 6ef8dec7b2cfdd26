"""Figure 8 of the benchmark: both sides compute the same BPTT pass (never a timing).

PyTorch's side is checked against the engine's gradients, so the figure compares
the same work; the products floor is checked to form exactly the products of
the pass, by replaying it with ``np.matmul`` recorded.
"""

import importlib
from pathlib import Path

import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SIZE = (3, 6, 2, 5, 4)  # n_in, H, n_out, T, batch


@pytest.fixture
def bench_recurrent(monkeypatch):
    monkeypatch.syspath_prepend(str(EXPERIMENTS))  # the bench modules import each other
    return importlib.import_module("bench_recurrent")


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_torch_side_computes_the_engine_gradients(bench_recurrent, kind):
    torch = pytest.importorskip("torch")
    net, x, y = bench_recurrent.make_problem(kind, *SIZE)
    engine = bench_recurrent.EngineBPTT(net, x, y)
    ref = bench_recurrent.TorchBPTT(torch, net, x, y)
    engine()
    ref()
    grads = engine.trace.grads
    theirs = {
        net.input_key: ref.mod.weight_ih_l0.grad,
        "W_hh": ref.mod.weight_hh_l0.grad,
        "W_hy": ref.w_hy.grad,
        "b_y": ref.b_y.grad,
    }
    for key, g in theirs.items():
        np.testing.assert_allclose(grads[key], g.numpy(), rtol=1e-12, atol=1e-15, err_msg=key)
    bias = "b" if kind == "lstm" else "b_h"
    np.testing.assert_allclose(grads[bias], ref.mod.bias_ih_l0.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_products_floor_forms_the_products_of_the_pass(bench_recurrent, kind, monkeypatch):
    n_in, H, n_out, T, n = SIZE
    G = 4 * H if kind == "lstm" else H
    net, x, y = bench_recurrent.make_problem(kind, *SIZE)
    floor = bench_recurrent.RecurrentProducts(net, x, y)
    shapes = []
    matmul = np.matmul

    class Recorded(np.ndarray):
        def __matmul__(self, other):
            shapes.append((self.shape, np.shape(other)))
            return matmul(np.asarray(self), np.asarray(other))

    for name in ("x", "h", "err", "g"):
        monkeypatch.setattr(floor, name, getattr(floor, name).view(Recorded))
    floor()
    # by hand from the module docstring: input drive, T − 1 steps forward, ŷ_T,
    # (W_hy)ᵀ g_T, T − 1 steps backward, ∇W_in, ∇W_hh, ∇W_hy
    want = (
        [((T * n, n_in), (n_in, G))]
        + [((n, H), (H, G))] * (T - 1)
        + [((n, H), (H, n_out)), ((n, n_out), (n_out, H))]
        + [((n, G), (G, H))] * (T - 1)
        + [((G, T * n), (T * n, n_in)), ((G, (T - 1) * n), ((T - 1) * n, H))]
        + [((n_out, n), (n, H))]
    )
    assert shapes == want
