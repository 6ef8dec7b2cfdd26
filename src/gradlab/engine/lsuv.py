"""Layer-sequential unit-variance initialisation (Mishkin & Matas 2015, Algorithm 1).

Start from orthogonal weights (Saxe et al. 2013), then, for each hidden layer in
turn from the input, divide W^l by √Var(z^l) measured on a batch until the
variance is within a tolerance of 1.  Var is over every entry of z^l (batch and
units), as the paper's variance of a layer's output; the biases are kept.
"""

from __future__ import annotations

import numpy as np

from gradlab.engine.activations import Activation
from gradlab.engine.backprop import Remedies, forward
from gradlab.engine.init import INITS

Array = np.ndarray


def lsuv(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: Activation,
    remedies: Remedies | None,
    rng: np.random.Generator,
    tol: float = 0.1,
    max_iter: int = 10,
) -> list[float]:
    """Re-initialise ``weights`` in place; returns Var(z^l) reached for l = 1..L−1.

    Parameters
    ----------
    weights, biases : list of ndarray
        W^l (n_l, n_{l-1}) and b^l (n_l,); every W^l is redrawn orthogonal (gain 1).
    x : ndarray, shape (n, n_0)
        The batch the variances are measured on.
    hidden : Activation
        φ of layers 1..L−1.
    remedies : Remedies or None
        Skips and norms of the network (batch norm in training mode).
    rng : np.random.Generator
        Source of the orthogonal draws.
    tol : float
        Stop rescaling W^l once |Var(z^l) − 1| ≤ tol.
    max_iter : int
        Most rescalings per layer (one suffices with zero biases: z^l scales exactly).
    """
    for w in weights:
        w[...] = INITS["orthogonal"](rng, w.shape, 1.0, w.dtype)
    reached = []
    for i in range(len(weights) - 1):
        # a^{l-1} does not depend on W^l: one forward through layers 1..l gives it
        acts = forward(weights[: i + 1], biases[: i + 1], x, hidden, hidden, remedies)[1]
        a_prev = acts[i]  # (n, n_{l-1})
        for _ in range(max_iter):
            var = float(np.var(a_prev @ weights[i].T + biases[i]))
            if abs(var - 1.0) <= tol:
                break
            weights[i] /= np.sqrt(var)
        reached.append(float(np.var(a_prev @ weights[i].T + biases[i])))
    return reached
