"""Spectral norm ‖W‖₂: exact for small layers, warm-started Lanczos otherwise.

An SVD per layer per logged step costs O(n³); between two SGD steps W moves
little, so an iteration on WᵀW started from the previous top right singular
vector needs only a few matrix-vector products (O(n²) each).  Plain power
iteration converges like (σ₂/σ₁)^{2k}, which is slow for random-like layers
whose top singular values crowd together; the Lanczos process (Golub & Van
Loan, *Matrix Computations*, §10.1) builds the Krylov space of the same
products, so it is never slower, and its top Ritz value converges far faster.
Like the power iteration's estimates, every Ritz value is a lower bound that
increases monotonically to σ_max² (Cauchy interlacing), and we stop when two
successive estimates of σ differ by less than ``rtol`` relative.

For layers with min(n_out, n_in) ≤ ``EXACT_BELOW`` the largest eigenvalue of the
small Gram matrix is cheaper than any Python-level iteration, and exact.
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray

#: Up to this min(n_out, n_in), ‖W‖₂ is sqrt(λ_max) of the Gram matrix (LAPACK).
EXACT_BELOW = 64
#: Lanczos vectors kept before restarting from the best Ritz vector.
KRYLOV_MAX = 32


def _exact(w: Array) -> tuple[float, Array]:
    """sqrt(λ_max) of the smaller Gram matrix, and the top right singular vector.

    λ_max from ``eigvalsh`` is accurate to rounding.  The vector comes from one
    step of inverse iteration with a shift just above λ_max, which multiplies
    its component by 1e12 relative to the others; ``eigh`` would give it too, but
    stalls for milliseconds under multi-threaded OpenBLAS (measured).
    """
    tall = w.shape[0] >= w.shape[1]
    gram = w.T @ w if tall else w @ w.T  # (n, n), n = min(n_out, n_in)
    lam = float(np.linalg.eigvalsh(gram)[-1])
    n = gram.shape[0]
    x = np.ones(n)
    if lam > 0.0:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                x = np.linalg.solve(gram - lam * (1.0 + 1e-12) * np.eye(n), x)  # (n,)
        except np.linalg.LinAlgError:  # the shift hit an eigenvalue exactly
            pass
    v = x if tall else w.T @ x  # right singular vector: Wᵀ u for a left one u
    nv = math.sqrt(float(v @ v))
    if nv == 0.0 or not math.isfinite(nv):
        v, nv = np.ones(w.shape[1]), math.sqrt(w.shape[1])
    return math.sqrt(max(lam, 0.0)), v / nv


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
    if min(w.shape) <= EXACT_BELOW:  # the warm start is not needed
        if not np.isfinite(w).all():
            return float("nan"), np.full(n_in, np.nan)
        scale = float(np.max(np.abs(w)))
        if scale == 0.0:
            return 0.0, np.full(n_in, 1.0 / math.sqrt(n_in))
        sigma, v = _exact(w / scale)  # WᵀW/max|w|² neither overflows nor underflows
        return scale * sigma, v
    # Cold start: Wᵀ1 is orthogonal to the top singular vector only for
    # contrived W, and needs no random numbers.
    v = w.sum(axis=0) if v0 is None else np.asarray(v0, dtype=np.float64)
    peak = float(np.max(np.abs(v)))  # normalise in two steps: v·v may overflow
    if not math.isfinite(peak):
        return float("nan"), np.full(n_in, np.nan)
    v = v / peak if peak > 0.0 else np.ones(n_in)
    v /= math.sqrt(float(v @ v))
    with np.errstate(over="ignore", invalid="ignore"):
        sigma, v_new = _iterate(w, v, rtol, max_iter)
    if not math.isfinite(sigma) and np.isfinite(w).all():
        # finite entries so large that WᵀW v overflows: iterate on W / max|w|
        scale = float(np.max(np.abs(w)))
        sigma, v_new = _iterate(w / scale, v, rtol, max_iter)
        sigma *= scale
    return sigma, v_new


def _iterate(w: Array, v: Array, rtol: float, max_iter: int) -> tuple[float, Array]:
    """Restarted Lanczos from the unit vector ``v`` until converged or ``max_iter``."""
    sigma, done = 0.0, 0
    while done < max_iter:
        sigma_new, v, steps, converged = _lanczos(w, v, min(KRYLOV_MAX, w.shape[1]), rtol, sigma)
        done += steps
        if not math.isfinite(sigma_new):
            return float("nan"), v
        sigma = max(sigma, sigma_new)
        if converged:
            break
    return sigma, v


def _lanczos(
    w: Array, v: Array, k_max: int, rtol: float, sigma_prev: float
) -> tuple[float, Array, int, bool]:
    """At most ``k_max`` Lanczos steps on WᵀW from the unit vector ``v``.

    Returns (σ estimate, unit top Ritz vector, steps taken, converged).  Full
    reorthogonalisation keeps the basis orthonormal in floating point.
    """
    n_in = w.shape[1]
    basis = np.empty((k_max, n_in))  # rows q_1..q_k
    alpha, beta = np.empty(k_max), np.empty(k_max)
    q, sigma, converged = v, sigma_prev, False
    for j in range(k_max):
        basis[j] = q
        u = w @ q  # (n_out,)
        r = w.T @ u  # (n_in,) = WᵀW q_j
        alpha[j] = float(u @ u)  # q_jᵀ WᵀW q_j
        for _ in range(2):  # classical Gram–Schmidt twice is enough
            r -= basis[: j + 1].T @ (basis[: j + 1] @ r)
        beta[j] = math.sqrt(float(r @ r))
        t = np.diag(alpha[: j + 1]) + np.diag(beta[:j], 1) + np.diag(beta[:j], -1)
        theta = float(np.linalg.eigvalsh(t)[-1])  # top Ritz value ≤ σ_max²
        if not math.isfinite(theta):
            return float("nan"), v, j + 1, True
        s_new = math.sqrt(max(theta, 0.0))
        converged = abs(s_new - sigma) <= rtol * s_new or beta[j] <= 1e-14 * s_new**2
        sigma = max(sigma, s_new)
        if converged or j == k_max - 1:
            break
        q = r / beta[j]
    k = j + 1
    t = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    y = np.linalg.eigh(t)[1][:, -1]  # (k,)
    v = basis[:k].T @ y  # (n_in,) top Ritz vector
    return sigma, v / math.sqrt(float(v @ v)), k, converged
