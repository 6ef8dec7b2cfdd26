"""The work the engine figures time: an SGD step, a forward+backward pass, and their floors.

Every side of a figure is a callable object built from the same network and
mini-batch (``make_problem``), so A and B do the same arithmetic:

- ``EngineStep`` / ``TorchStep``: one SGD step (forward, backward, update);
- ``EngineBackprop`` / ``TorchBackprop``: forward + backward only, no optimiser
  (the engine's with either of its element-wise kernels, compiled or NumPy);
- ``MatmulsOnly``: the 3L − 1 matrix products of one engine step;
- ``ExpPerLayer``: one ``np.exp`` pass over each layer's (n, n_l) array, the
  element-wise floor of any sigmoid network in NumPy.
"""

from __future__ import annotations

import numpy as np

import gradlab
from gradlab.engine.backprop import backprop
from gradlab.engine.costs import COSTS
from gradlab.engine.kernels import using
from gradlab.training.optim import SGD
from gradlab.training.sgd import decay_weights

LR = 0.1  # η of conf/train/config.yaml; the value does not change the work per step
SEED = 0


def make_problem(width: int, hidden: int, batch: int, dtype: str = "float64"):
    """The network and one mini-batch, drawn from SEED (the same for every side).

    Returns the ``gradlab.MLP`` of ``hidden + 2`` layers of ``width`` units
    (sigmoid everywhere), x of shape (batch, width) and y of shape (batch, width).
    """
    rng = np.random.default_rng(SEED)
    net = gradlab.MLP([width] * (hidden + 2), "sigmoid", seed=rng, dtype=dtype)
    x = rng.standard_normal((batch, width)).astype(dtype)
    y = rng.uniform(0.0, 1.0, (batch, width)).astype(dtype)
    return net, x, y


class EngineStep:
    """One SGD step of the engine, as ``gradlab.training.loop`` runs it.

    Backprop, Nielsen's weight decay (λ = 0 here, so no pass) and the SGD
    optimiser's step on ``Trace.gradients()``, in the loop's order.
    """

    def __init__(self, net: gradlab.MLP, x: np.ndarray, y: np.ndarray) -> None:
        self.weights = [w.copy() for w in net.weights]
        self.biases = [b.copy() for b in net.biases]
        self.params = [p for wb in zip(self.weights, self.biases, strict=True) for p in wb]
        self.act = net.hidden
        self.x, self.y = x, y
        self.optimizer = SGD(LR)
        self.trace = None

    def backprop(self):
        return backprop(
            self.weights, self.biases, self.x, self.y, COSTS["quadratic"], self.act, self.act
        )

    def __call__(self) -> None:
        self.trace = self.backprop()  # kept until the next step replaces it, as in the loop
        decay_weights(self.weights, LR, 0.0, 1)
        self.optimizer.step(self.params, self.trace.gradients())


class TorchStep:
    """The same step in PyTorch autograd, written the way a PyTorch user would."""

    def __init__(self, torch, net: gradlab.MLP, x: np.ndarray, y: np.ndarray) -> None:
        self.torch = torch
        self.weights = [torch.tensor(w, requires_grad=True) for w in net.weights]
        self.biases = [torch.tensor(b, requires_grad=True) for b in net.biases]
        self.x, self.y = torch.tensor(x), torch.tensor(y)
        self.opt = torch.optim.SGD(self.weights + self.biases, lr=LR)

    def loss(self):
        """C = (1/2n) Σ_k ‖a^L_k − y_k‖², sigmoid after every linear layer."""
        torch = self.torch
        a = self.x
        for w, b in zip(self.weights, self.biases, strict=True):
            a = torch.sigmoid(torch.nn.functional.linear(a, w, b))
        return 0.5 * ((a - self.y) ** 2).sum(dim=1).mean()

    def __call__(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.loss().backward()
        self.opt.step()


class EngineBackprop:
    """Forward + backward of the engine, no update: ``net.backprop(x, y, "quadratic")``.

    ``kernels``: "numba" or "numpy", the element-wise kernels it runs with
    (``gradlab.engine.kernels.using``); None: the process's own choice.
    """

    def __init__(
        self, net: gradlab.MLP, x: np.ndarray, y: np.ndarray, kernels: str | None = None
    ) -> None:
        self.net, self.x, self.y = net, x, y
        self.kernels = kernels
        self.trace = None

    def __call__(self) -> None:
        if self.kernels is None:
            self.trace = self.net.backprop(self.x, self.y, "quadratic")
            return
        with using(self.kernels):
            self.trace = self.net.backprop(self.x, self.y, "quadratic")


class TorchBackprop:
    """Forward + ``backward()`` in PyTorch, gradients cleared each call, no optimiser."""

    def __init__(self, torch, net: gradlab.MLP, x: np.ndarray, y: np.ndarray) -> None:
        self.step = TorchStep(torch, net, x, y)

    def __call__(self) -> None:
        for p in self.step.weights + self.step.biases:
            p.grad = None  # as zero_grad(set_to_none=True): backward writes fresh gradients
        self.step.loss().backward()


class MatmulsOnly:
    """The 3L − 1 matrix products of one engine step, on the step's own operands.

    Per layer l: z = a^{l-1} Wᵀ, ∇W = δᵀ a^{l-1}, and δ W for l > 1 (the
    engine never forms δ^0).  Outputs are fresh arrays, as in the step.
    """

    def __init__(self, step: EngineStep) -> None:
        step()
        self.weights = step.weights
        self.a = step.trace.a
        self.delta = step.trace.delta

    def __call__(self) -> None:
        for i, w in enumerate(self.weights):
            self.a[i] @ w.T
            self.delta[i].T @ self.a[i]
            if i > 0:
                self.delta[i] @ w


class ExpPerLayer:
    """One ``np.exp`` pass per layer over an (n, n_l) array into a fresh output.

    The engine's σ and σ′ need e^{−|z|} once per layer (``activations``), so
    L such passes are the element-wise time no NumPy sigmoid network can go
    below; its arguments are the step's own z^l.
    """

    def __init__(self, step: EngineStep) -> None:
        step()
        self.z = [-np.abs(z) for z in step.trace.z]  # (n, n_l) each

    def __call__(self) -> None:
        for z in self.z:
            np.exp(z)
