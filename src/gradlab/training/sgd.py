"""Mini-batch stochastic gradient descent with L2 weight decay (Nielsen ch. 3).

With C = C_0 + (λ/2n) Σ w², the update is
    W ← (1 − ηλ/n) W − η ∇W C_0,     b ← b − η ∇b C_0
where n is the size of the training set (Nielsen, eq. 93); λ = 0 is plain SGD.
The training loop applies the shrink (:func:`decay_weights`) and then any
optimiser of :mod:`gradlab.training.optim`; :func:`sgd_update` is both steps
for SGD, written out.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gradlab.engine.backprop import Trace
from gradlab.engine.kernels import subtract_scaled

Array = np.ndarray


def batch_starts(n: int, batch_size: int, min_rows: int = 1) -> list[int]:
    """Start index of every mini-batch of one epoch over n samples.

    The last, shorter batch is kept so that every sample is seen once per epoch;
    if it has fewer than ``min_rows`` rows (batch norm needs 2) it is merged into
    the batch before it.
    """
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] < min_rows:
        starts.pop()
    return starts


def minibatches(
    rng: np.random.Generator, n: int, batch_size: int, min_rows: int = 1
) -> Iterator[Array]:
    """Shuffle 0..n−1 with ``rng`` and yield the index arrays of :func:`batch_starts`."""
    perm = rng.permutation(n)
    starts = batch_starts(n, batch_size, min_rows)
    for start, stop in zip(starts, [*starts[1:], n], strict=True):
        yield perm[start:stop]


def decay_weights(weights: list[Array], lr: float, weight_decay: float, n_train: int) -> None:
    """W ← (1 − ηλ/n) W in place, Nielsen's weight decay before the gradient step."""
    shrink = 1.0 - lr * weight_decay / n_train
    if shrink != 1.0:
        for w in weights:
            w *= shrink


def sgd_update(
    weights: list[Array],
    biases: list[Array],
    trace: Trace,
    lr: float,
    weight_decay: float = 0.0,
    n_train: int = 1,
) -> None:
    """Apply one SGD step in place, using the batch-mean gradients of ``trace``.

    The decay of :func:`decay_weights`, then W ← W − η∇W and b ← b − η∇b, each in
    one pass where the kernels are compiled (:func:`gradlab.engine.kernels.subtract_scaled`);
    ``trace`` is left unchanged.
    """
    decay_weights(weights, lr, weight_decay, n_train)
    for w, b, nw, nb in zip(weights, biases, trace.nabla_w, trace.nabla_b, strict=True):
        subtract_scaled(w, nw, lr)
        subtract_scaled(b, nb, lr)


def all_finite(trace: Trace) -> bool:
    """True when the cost and every gradient (γ, β too) are finite (cheap: O(parameters))."""
    if not np.all(np.isfinite(trace.cost)):
        return False
    return all(np.isfinite(g).all() for g in trace.gradients())


def first_nonfinite_layer(trace: Trace) -> tuple[int, str] | None:
    """Where a trace first went non-finite, in the order the engine computed it.

    Returns ``(l, "forward")`` for the lowest layer whose z^l or a^l holds NaN
    or inf; otherwise ``(l, "backward")`` for the highest layer whose δ^l, ∇W^l,
    ∇b^l, ∇γ^l or ∇β^l does (backprop runs from L down); ``None`` if everything is
    finite.
    """
    for i in range(trace.num_layers):
        if not (np.isfinite(trace.z[i]).all() and np.isfinite(trace.a[i + 1]).all()):
            return i + 1, "forward"
    for i in range(trace.num_layers - 1, -1, -1):
        arrays = [trace.delta[i], trace.nabla_w[i], trace.nabla_b[i]]
        if trace.nabla_gamma is not None and trace.nabla_gamma[i] is not None:
            arrays += [trace.nabla_gamma[i], trace.nabla_beta[i]]
        if not all(np.isfinite(x).all() for x in arrays):
            return i + 1, "backward"
    return None
