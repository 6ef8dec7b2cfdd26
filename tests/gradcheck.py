"""Central finite-difference gradient checker (after HIPS/autograd's test_util).

Used by every test of a derivative; on failure it prints the analytic and the
numeric value side by side.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, perturbing ``x`` in place entry by entry."""
    g = np.empty_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + eps
        fp = f()
        x[idx] = old - eps
        fm = f()
        x[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


def check_grad(
    analytic: np.ndarray, numeric: np.ndarray, rtol: float = 1e-6, what: str = "gradient"
) -> None:
    """Assert ‖analytic − numeric‖ ≤ rtol · max(‖analytic‖, ‖numeric‖, 1e-12)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape, (what, analytic.shape, numeric.shape)
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric), 1e-12)
    err = np.linalg.norm(analytic - numeric) / scale
    assert err <= rtol, (
        f"{what}: relative error {err:.3e} > {rtol:.1e}\nanalytic:\n{analytic}\nnumeric:\n{numeric}"
    )
