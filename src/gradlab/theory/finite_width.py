"""Finite-width fluctuations of the gradient (Hanin 2018).

Mean-field theory describes the average E‖δ^l‖² of infinitely wide networks.  At
finite width the gradient of one network fluctuates around it, and Hanin (2018,
"Which neural net architectures give rise to exploding and vanishing
gradients?", thm. 1) shows that for ReLU networks the spread of the log squared
gradient is governed by β = Σ_j 1/n_j over the hidden widths: networks of
different depth and width but equal β fluctuate alike, and the spread grows with
β (the empirical variance of ln‖δ^1‖² is bounded above and below by
exponentials in β).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def beta(sizes) -> float:
    """β = Σ_{j=1}^{L−1} 1/n_j, the sum of reciprocal hidden widths (Hanin 2018, eq. 5).

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes [n_0, n_1, …, n_L]; the input n_0 and output n_L do not count.

    Returns
    -------
    float
        0 for a network without hidden layer.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes={sizes!r} is not allowed; it must list n_0, …, n_L (at least two "
            "positive integers)"
        )
    return float(sum(1.0 / n for n in sizes[1:-1]))


def log_variance(values: Array) -> float:
    """Var[ln v] over every entry of ``values`` (sample variance, ddof = 1).

    Parameters
    ----------
    values : ndarray, any shape
        Positive numbers, e.g. ‖δ^1_k‖² of every member and sample, shape (E, n).
        Entries that are 0 or not finite are left out (NaN if fewer than two remain).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(v)
    logs = logs[np.isfinite(logs)]
    return float(np.var(logs, ddof=1)) if logs.size >= 2 else float("nan")
