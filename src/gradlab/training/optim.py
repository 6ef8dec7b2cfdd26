"""Optimisers with PyTorch's update rules, and gradient-norm clipping.

Each optimiser's ``step(params, grads)`` updates a list of arrays in place
(``MLP.parameters()`` with ``Trace.gradients()``, in that order), keeping its
state per position in the list.  The formulas are PyTorch's, term for term, so a
run can be cross-checked against ``torch.optim``:

    SGD:   v ← μ v + g;   w ← w − η v                       (μ = 0: w ← w − η g)
    Adam:  m ← β₁ m + (1 − β₁) g;   s ← β₂ s + (1 − β₂) g²
           w ← w − (η / (1 − β₁ᵗ)) m / (√s / √(1 − β₂ᵗ) + ε)   (Kingma & Ba 2015, Alg. 1)

Nielsen's L2 weight decay stays in :func:`gradlab.training.sgd.decay_weights`.
:func:`make_optimizer` builds the optimiser a training config names, and
:data:`OPTIMIZER_SCHEMA` holds the config keys it reads, for every training path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gradlab.engine.kernels import subtract_scaled
from gradlab.errors import check_choice, check_number
from gradlab.schema import Choice, Number, Numbers

Array = np.ndarray


def _check_lists(params: Sequence[Array], grads: Sequence[Array]) -> None:
    if len(params) != len(grads):
        raise ValueError(
            f"grads has {len(grads)} arrays and params {len(params)}; they must be equal"
        )
    for j, (p, g) in enumerate(zip(params, grads, strict=True)):
        if p.shape != g.shape:
            raise ValueError(f"grads[{j}] has shape {g.shape}; it must be {p.shape} as params[{j}]")


class SGD:
    """Stochastic gradient descent with heavy-ball momentum (PyTorch's ``SGD``).

    Parameters
    ----------
    lr : float
        η > 0.
    momentum : float
        μ in [0, 1); 0 is plain SGD and keeps no state.
    """

    def __init__(self, lr: float, momentum: float = 0.0) -> None:
        self.lr = check_number("lr", lr, exclusive_minimum=0)
        self.momentum = check_number("momentum", momentum, minimum=0)
        if self.momentum >= 1:
            raise ValueError(f"momentum={momentum!r} is not allowed; it must be in [0, 1)")
        self.velocity: list[Array] | None = None

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """w ← w − η v with v ← μ v + g (v starts at 0, so the first v is g)."""
        _check_lists(params, grads)
        if self.momentum == 0.0:
            for p, g in zip(params, grads, strict=True):
                subtract_scaled(p, g, self.lr)  # p -= η g, one pass where compiled
            return
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocity, strict=True):
            v *= self.momentum
            v += g
            subtract_scaled(p, v, self.lr)


class Adam:
    """Adam with bias correction (Kingma & Ba 2015; PyTorch's ``Adam``).

    Parameters
    ----------
    lr : float
        η > 0.
    betas : (float, float)
        β₁, β₂ in [0, 1): decay rates of the first and second moment estimates.
    eps : float
        ε > 0, added to the bias-corrected √s.
    """

    def __init__(self, lr: float, betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.lr = check_number("lr", lr, exclusive_minimum=0)
        if len(betas) != 2:
            raise ValueError(f"betas={betas!r} is not allowed; it must be two numbers in [0, 1)")
        for j, b in enumerate(betas):
            if check_number(f"betas[{j}]", b, minimum=0) >= 1:
                raise ValueError(f"betas[{j}]={b!r} is not allowed; it must be in [0, 1)")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = check_number("eps", eps, exclusive_minimum=0)
        self.t = 0
        self.m: list[Array] | None = None
        self.s: list[Array] | None = None
        self.tmp: list[Array] | None = None

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """One bias-corrected Adam update of every array in ``params``."""
        _check_lists(params, grads)
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.s = [np.zeros_like(p) for p in params]
            self.tmp = [np.empty_like(p) for p in params]
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1.0 - b1**self.t)
        sqrt_c2 = math.sqrt(1.0 - b2**self.t)
        for p, g, m, s, tmp in zip(params, grads, self.m, self.s, self.tmp, strict=True):
            # in place through one scratch array per parameter: the same operations in the
            # same order as m ← β₁m + (1 − β₁)g, …, w ← w − step·m/denom, without temporaries
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            s *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            s += tmp
            np.sqrt(s, out=tmp)
            tmp /= sqrt_c2
            tmp += self.eps  # denom
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


def global_norm(grads: Sequence[Array]) -> float:
    """‖g‖, the 2-norm of all entries of all arrays together."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads))


def clip_grad_norm(grads: Sequence[Array], max_norm: float) -> float:
    """Rescale ``grads`` in place to global norm ≤ ``max_norm`` (Pascanu et al. 2013).

    Every array is multiplied by min(1, max_norm / (‖g‖ + 1e-6)), where ‖g‖ is
    the 2-norm of all entries of all arrays together (PyTorch's
    ``clip_grad_norm_``); the direction of the update is kept.

    Returns
    -------
    float
        ‖g‖ before clipping.
    """
    max_norm = check_number("max_norm", max_norm, exclusive_minimum=0)
    total = global_norm(grads)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


def norm_and_clip(grads: Sequence[Array], max_norm: float | None) -> tuple[float, bool]:
    """(‖g‖, clipped): the global norm, after clipping in place when ``max_norm`` is set.

    Clipped is True when :func:`clip_grad_norm` rescaled, i.e. ‖g‖ + 1e-6 > max_norm;
    with ``max_norm`` None nothing is rescaled.
    """
    if max_norm is None:
        return global_norm(grads), False
    norm = clip_grad_norm(grads, max_norm)
    return norm, norm + 1e-6 > max_norm


#: ``train.optimizer`` choices: plain SGD, SGD with ``train.momentum``, Adam with ``train.betas``.
OPTIMIZERS = ("sgd", "momentum", "adam")

#: Config keys of the update rule, shared by every training path (see gradlab.schema).
OPTIMIZER_SCHEMA = {
    "train.optimizer": Choice(OPTIMIZERS),
    "train.momentum": Number(minimum=0, below=1),
    "train.betas": Numbers(2, minimum=0, below=1),
    "train.clip_norm": Number(above=0, nullable=True),
}


def make_optimizer(
    name: str, lr: float, momentum: float = 0.9, betas: Sequence[float] = (0.9, 0.999)
) -> SGD | Adam:
    """The optimiser ``train.optimizer`` names.

    ``'sgd'`` is ``SGD(lr)`` (``momentum`` unused), ``'momentum'`` is
    ``SGD(lr, momentum)``, ``'adam'`` is ``Adam(lr, betas)`` (eps 1e-8, PyTorch's).
    """
    name = check_choice("optimizer", name, OPTIMIZERS)
    if name == "adam":
        return Adam(lr, betas)
    return SGD(lr, momentum if name == "momentum" else 0.0)
