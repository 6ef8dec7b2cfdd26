"""Spectral norm ‖W‖₂ by warm-started power iteration.

An SVD per layer per logged step costs O(n³); between two SGD steps W moves
little, so power iteration on WᵀW started from the previous top right singular
vector converges in a handful of matrix-vector products (O(n²) each).  The
estimate σ_k = ‖W v_k‖ increases monotonically to σ_max from below (Golub & Van
Loan, *Matrix Computations*, §8.2.1); we stop when it changes by less than
``rtol`` relative.
"""

from __future__ import annotations

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
        ‖w‖₂ (a lower bound accurate to about ``rtol``).
    v : ndarray, shape (n_in,)
        Unit vector to pass back as ``v0`` next time.
    """
    w = np.asarray(w, dtype=np.float64)
    n_in = w.shape[1]
    # Cold start: Wᵀ1 is orthogonal to the top singular vector only for
    # contrived W, and needs no random numbers.
    v = w.sum(axis=0) if v0 is None else np.asarray(v0, dtype=np.float64)
    norm = np.linalg.norm(v)
    if not np.isfinite(norm):
        return float("nan"), np.full(n_in, np.nan)
    if norm == 0.0:
        v = np.ones(n_in)
        norm = np.sqrt(n_in)
    v = v / norm
    sigma = 0.0
    for _ in range(max_iter):
        u = w @ v  # (n_out,)
        s_new = float(np.linalg.norm(u))
        if s_new == 0.0:
            return 0.0, v
        v_new = w.T @ u  # (n_in,) = WᵀW v
        nv = np.linalg.norm(v_new)
        if nv == 0.0:
            return s_new, v
        v = v_new / nv
        if abs(s_new - sigma) <= rtol * s_new:
            sigma = s_new
            break
        sigma = s_new
    # One more product gives the estimate for the final v (Rayleigh quotient).
    return max(sigma, float(np.linalg.norm(w @ v))), v
