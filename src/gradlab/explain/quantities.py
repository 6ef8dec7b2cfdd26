"""The numbers a walkthrough shows, computed from one backprop trace.

:func:`quantities` names every vector and matrix of the notes' four equations
for the first sample; :func:`layer_factors` measures, layer by layer, how much
‖δ‖ shrinks or grows and the bound sup|φ′|·‖W^{l+1}‖₂ on that factor.  Pure
math: arrays in, arrays and numbers out.

The notes write one sample as a column vector; the engine stores a batch as
rows, so ``trace.z[l-1][0]`` is z^l of the first sample (list index l-1 for
layer l, because ``trace.z`` starts at layer 1 and ``trace.a`` at layer 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradlab.engine.activations import Activation
from gradlab.engine.backprop import Trace

Array = np.ndarray


def quantities(weights: Sequence[Array], trace: Trace, y: Array, cost: str) -> dict[str, Array]:
    """Every number a walkthrough shows, by name, for the first sample.

    Parameters
    ----------
    weights : sequence of ndarray
        W^l of shape (n_l, n_{l-1}), l = 1..L.
    trace : Trace
        A backprop trace of a batch of n samples (no ensemble axis).
    y : ndarray, shape (n, n_L)
        Targets of the trace.
    cost : str
        The cost of the trace.

    Returns
    -------
    dict of str to ndarray
        In walkthrough order (l = 1..L): ``z{l}``, ``a{l}`` (n_l,); ``grad_a`` =
        ∇_a C = a^L − y (quadratic cost only); ``phi_prime{l}``, ``delta{l}``
        (n_l,); ``back{l}`` = (W^{l+1})ᵀ δ^{l+1} (n_l,) for l < L;
        ``nabla_w{l}`` (n_l, n_{l-1}) and ``nabla_b{l}`` (n_l,), the batch means
        (notes eqs. 1, 4, 6 and 5).
    """
    L = trace.num_layers
    q: dict[str, Array] = {}
    for l in range(1, L + 1):
        q[f"z{l}"] = trace.z[l - 1][0]
        q[f"a{l}"] = trace.a[l][0]
    if cost == "quadratic":
        q["grad_a"] = trace.a[L][0] - y[0]  # ∂C_k/∂a^L for C_k = ½‖a^L − y‖²
    for l in range(L, 0, -1):
        if l < L:
            q[f"back{l}"] = weights[l].T @ trace.delta[l][0]  # (n_l, n_{l+1}) @ (n_{l+1},)
        q[f"phi_prime{l}"] = trace.phi_prime[l - 1][0]
        q[f"delta{l}"] = trace.delta[l - 1][0]
    for l in range(L, 0, -1):
        q[f"nabla_w{l}"] = trace.nabla_w[l - 1]
        q[f"nabla_b{l}"] = trace.nabla_b[l - 1]
    return q


def layer_factors(weights: Sequence[Array], trace: Trace, hidden: Activation) -> list[dict]:
    """How much δ shrinks or grows from layer l+1 to layer l, first sample.

    For l = L−1 down to 1 (notes eq. 4, δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l)):
    ``weights_part`` = ‖(W^{l+1})ᵀδ^{l+1}‖ / ‖δ^{l+1}‖, ``phi_part`` =
    ‖δ^l‖ / ‖(W^{l+1})ᵀδ^{l+1}‖, ``factor`` = their product ‖δ^l‖ / ‖δ^{l+1}‖,
    ``bound`` = sup|φ′| · ‖W^{l+1}‖₂ ≥ factor (since ‖u ⊙ v‖ ≤ max|v|·‖u‖ and
    ‖Wᵀδ‖ ≤ ‖W‖₂‖δ‖), and ``cumulative`` = ‖δ^l‖ / ‖δ^L‖.  Zero norms give nan.

    Parameters
    ----------
    weights : sequence of ndarray
        W^l of shape (n_l, n_{l-1}), l = 1..L.
    trace : Trace
        A backprop trace (no ensemble axis); only sample 0 is used.
    hidden : Activation
        φ of the hidden layers 1..L−1.

    Returns
    -------
    list of dict
        One row per layer l = L−1..1 with the keys above, ``layer`` = l and
        ``delta_next`` = ‖δ^{l+1}‖; empty for L = 1.
    """
    L = trace.num_layers
    top = np.linalg.norm(trace.delta[-1][0])
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for l in range(L - 1, 0, -1):
            d_next = np.linalg.norm(trace.delta[l][0])  # ‖δ^{l+1}‖
            back = np.linalg.norm(weights[l].T @ trace.delta[l][0])  # ‖(W^{l+1})ᵀδ^{l+1}‖
            d = np.linalg.norm(trace.delta[l - 1][0])  # ‖δ^l‖
            spectral = np.linalg.norm(weights[l], 2)  # exact ‖W^{l+1}‖₂ (SVD; small nets)
            rows.append(
                {
                    "layer": l,
                    "delta_next": d_next,
                    "weights_part": back / d_next,
                    "phi_part": d / back,
                    "factor": d / d_next,
                    "bound": hidden.sup_prime * spectral,
                    "cumulative": d / top,
                }
            )
    return rows
