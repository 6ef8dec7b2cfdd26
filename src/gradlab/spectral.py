"""Spectral norm ‖W‖₂ by warm-started power iteration.

An SVD per layer per logged step costs O(n³); between two SGD steps W moves
little, so power iteration on WᵀW started from the previous top right singular
vector converges in a handful of matrix-vector products (O(n²) each).  Every
product gives an estimate: ‖W v‖ for a unit v, then ‖Wᵀu‖/‖u‖ for u = W v, and
so on; the sequence increases monotonically to σ_max from below (each term is
‖W v‖² = ⟨v, WᵀW v⟩ ≤ ‖v‖‖WᵀW v‖ by Cauchy–Schwarz; Golub & Van Loan, *Matrix
Computations*, §8.2.1).  We stop when two successive estimates differ by less
than ``rtol`` relative, so a warm start that is already converged costs two
products.
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray


def spectral_norm(
    w: Array, v0: Array | None = None, rtol: float = 1e-9, max_iter: int = 2000
) -> tuple[float, Array]:
    """Largest singular value of ``w`` (n_out, n_in) and its right singular vector.

    Parameters
    ----------
    w : ndarray, shape (n_out, n_in)
    v0 : ndarray, shape (n_in,), optional
        Warm start (the vector this function returned last time).
    rtol : float
        Stop when successive estimates of σ differ by less than rtol·σ.
    max_iter : int
        Upper bound on iterations (each is two matrix-vector products).

    Returns
    -------
    sigma : float
        ‖w‖₂ (a lower bound accurate to about ``rtol``; NaN if ``w`` is not finite).
    v : ndarray, shape (n_in,)
        Unit vector to pass back as ``v0`` next time.
    """
    w = np.asarray(w, dtype=np.float64)
    n_in = w.shape[1]
    # Cold start: Wᵀ1 is orthogonal to the top singular vector only for
    # contrived W, and needs no random numbers.
    v = w.sum(axis=0) if v0 is None else np.asarray(v0, dtype=np.float64)
    norm = math.sqrt(float(v @ v))
    if not math.isfinite(norm):
        return float("nan"), np.full(n_in, np.nan)
    if norm == 0.0:
        v = np.ones(n_in)
        norm = math.sqrt(n_in)
    v = v / norm
    sigma = 0.0
    for _ in range(max_iter):
        u = w @ v  # (n_out,)
        nu = math.sqrt(float(u @ u))  # ‖W v‖, v a unit vector
        if not math.isfinite(nu):
            return float("nan"), v
        if nu == 0.0:
            return sigma, v
        v_new = w.T @ u  # (n_in,) = WᵀW v
        nv = math.sqrt(float(v_new @ v_new))
        s_new = nv / nu  # ‖Wᵀu‖/‖u‖ ≥ ‖W v‖
        if nv == 0.0:
            return max(sigma, nu), v
        v = v_new / nv
        converged = abs(s_new - nu) <= rtol * s_new
        sigma = max(sigma, s_new)
        if converged:
            break
    return sigma, v
