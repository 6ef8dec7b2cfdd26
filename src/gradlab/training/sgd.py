"""Mini-batch stochastic gradient descent with L2 weight decay (Nielsen ch. 3).

With C = C_0 + (λ/2n) Σ w², the update is
    W ← (1 − ηλ/n) W − η ∇W C_0,     b ← b − η ∇b C_0
where n is the size of the training set (Nielsen, eq. 93); λ = 0 is plain SGD.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gradlab.engine.backprop import Trace

Array = np.ndarray


def minibatches(rng: np.random.Generator, n: int, batch_size: int) -> Iterator[Array]:
    """Shuffle 0..n−1 with ``rng`` and yield index arrays of ``batch_size``.

    The last, shorter batch is kept so that every sample is seen once per epoch.
    """
    perm = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]


def sgd_update(
    weights: list[Array],
    biases: list[Array],
    trace: Trace,
    lr: float,
    weight_decay: float = 0.0,
    n_train: int = 1,
) -> None:
    """Apply one SGD step in place, using the batch-mean gradients of ``trace``.

    η∇W^l goes through one scratch array the size of the largest W^l, reused by
    every layer, instead of a new array per layer; ``trace`` is left unchanged.
    """
    shrink = 1.0 - lr * weight_decay / n_train
    scratch = np.empty(max(nw.size for nw in trace.nabla_w), np.result_type(*trace.nabla_w, lr))
    for w, b, nw, nb in zip(weights, biases, trace.nabla_w, trace.nabla_b, strict=True):
        if shrink != 1.0:
            w *= shrink
        step = np.multiply(nw, lr, out=scratch[: nw.size].reshape(nw.shape))
        w -= step
        b -= lr * nb


def all_finite(trace: Trace) -> bool:
    """True when the cost and every gradient are finite (cheap: O(parameters))."""
    if not np.all(np.isfinite(trace.cost)):
        return False
    return all(
        np.isfinite(nw).all() and np.isfinite(nb).all()
        for nw, nb in zip(trace.nabla_w, trace.nabla_b, strict=True)
    )


def first_nonfinite_layer(trace: Trace) -> tuple[int, str] | None:
    """Where a trace first went non-finite, in the order the engine computed it.

    Returns ``(l, "forward")`` for the lowest layer whose z^l or a^l holds NaN
    or inf; otherwise ``(l, "backward")`` for the highest layer whose δ^l, ∇W^l
    or ∇b^l does (backprop runs from L down); ``None`` if everything is finite.
    """
    for i in range(trace.num_layers):
        if not (np.isfinite(trace.z[i]).all() and np.isfinite(trace.a[i + 1]).all()):
            return i + 1, "forward"
    for i in range(trace.num_layers - 1, -1, -1):
        arrays = (trace.delta[i], trace.nabla_w[i], trace.nabla_b[i])
        if not all(np.isfinite(x).all() for x in arrays):
            return i + 1, "backward"
    return None
