"""The numba kernels of :mod:`gradlab.engine.kernels` (imported only where numba is).

Module-level functions, so that numba's on-disk cache (``cache=True``) finds
them again in a new process.  Each loop is one pass; LLVM vectorises it, with
in the exponential fused multiply-adds allowed (``fastmath={'contract'}``) and
nothing else of fast-math: no reassociation, and NaN and ±inf keep IEEE semantics (a NaN z gives
NaN σ and σ′, so a diverged run stays visible).

e^x for x ≤ 0 (``_exp_nonpositive``), the method of fdlibm's ``exp`` with a
Taylor polynomial: k = round(x / ln 2) and r = x − k·ln2_hi − k·ln2_lo
(Cody & Waite: k·ln2_hi is exact), |r| ≤ ln 2 / 2; e^r = 1 + (r + r²P(r)) with
P the Taylor series of (e^r − 1 − r)/r² to r¹¹ (truncation below 5e−18 relative);
then e^x = e^r·2^{k₁}·2^{k−k₁}, k₁ = ⌊k/2⌋, two normal powers of two, so results
down to the smallest subnormal are scaled without leaving the exponent's range.
k and the powers of two come from the rounding of adding 1.5·2⁵², with no
float-to-integer conversion (which AVX2 lacks).  Measured against long double
(``tests/test_kernels.py``): at most about one unit in the last place.
"""

from __future__ import annotations

import numba
import numpy as np

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k·_LN2_HI is exact for |k| < 2²⁰
_LN2_LO = 1.90821492927058770002e-10  # ln 2 − _LN2_HI
_SHIFT = 6755399441055744.0  # 1.5·2⁵²: (t + _SHIFT) − _SHIFT rounds t to an integer
_X_MIN = -746.0  # e^{−746} < 2^{−1075}: rounds to 0, as does every x below it
_X_ZERO = -745.1332191019412  # ln(2^−1075): e^x rounds to 0 at and below it

# FMA contraction only: no reassociation, NaN and ±inf keep IEEE semantics.  The
# backward and update kernels have no contraction either, so they round as NumPy does.
_FLAGS = {"fastmath": {"contract"}, "error_model": "numpy"}
_EXACT = {"error_model": "numpy"}


@numba.njit(inline="always", **_FLAGS)
def _pow2(k):
    """2^k for an integer-valued float k in [−1022, 1023], from its exponent bits."""
    bits = np.float64(k + (_SHIFT + 1023.0)).view(np.int64)  # low bits hold k + 1023
    return np.int64(bits << 52).view(np.float64)


@numba.njit(inline="always", **_FLAGS)
def _exp_nonpositive(x):
    """e^x for x ≤ 0 (NaN stays NaN): Cody–Waite reduction, Taylor to r¹³, two 2^k."""
    x = _X_MIN if x < _X_MIN else x
    k = (x * _LOG2E + _SHIFT) - _SHIFT  # round(x / ln 2), in [−1077, 0]
    r = (x - k * _LN2_HI) - k * _LN2_LO  # |r| ≤ ln 2 / 2
    # e^r = 1 + (r + r²P(r)), P(r) = Σ_{j=2..13} r^{j−2}/j!, the 1 added last so that
    # its rounding is the last one; P by Estrin's scheme (pairs, then r², r⁴, r⁸), so
    # the dependent chain is 4 FMAs deep instead of Horner's 11.
    r2 = r * r
    r4 = r2 * r2
    p1 = 1.0 / 2.0 + r * (1.0 / 6.0)
    p2 = 1.0 / 24.0 + r * (1.0 / 120.0)
    p3 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    p4 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    p5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    p6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    big = (p1 + r2 * p2) + r4 * (p3 + r2 * p4) + (r4 * r4) * (p5 + r2 * p6)
    q = 1.0 + (r + r2 * big)
    k1 = np.floor(0.5 * k)  # 2^k = 2^{k₁}·2^{k−k₁}, both normal down to k = −1077
    # Below ln(2^−1075) the result is 0; selecting it avoids a product that underflows
    # through the subnormals, which costs a microcode assist per element on x86.
    s2 = _pow2(k - k1) if x > _X_ZERO else 0.0
    return q * _pow2(k1) * s2


@numba.njit(inline="always", **_FLAGS)
def _sigmoid_pair(z):
    """(σ(z), σ′(z)) from e = e^{−|z|}: r = σ(|z|), s = e·r = σ(−|z|), σ′ = s·r."""
    e = _exp_nonpositive(-abs(z))
    r = 1.0 / (1.0 + e)
    s = e * r
    return (r if z >= 0.0 else s), s * r


@numba.njit(cache=True, nogil=True, **_FLAGS)
def sigmoid_and_prime(z):
    """(σ(z), σ′(z)) as new arrays, for a C-contiguous z of any shape."""
    a, prime = np.empty_like(z), np.empty_like(z)
    zf, af, pf = z.reshape(-1), a.reshape(-1), prime.reshape(-1)
    for i in range(zf.size):
        af[i], pf[i] = _sigmoid_pair(zf[i])
    return a, prime


@numba.njit(cache=True, nogil=True, **_FLAGS)
def bias_sigmoid_and_prime(z, b):
    """z (..., n, m) += b (..., m) in place, then (σ(z), σ′(z)) as new arrays.

    Both C-contiguous; member e of b is added to each of the n rows of member e of z.
    """
    a, prime = np.empty_like(z), np.empty_like(z)
    n, m = z.shape[-2], z.shape[-1]
    zf, af, pf, bf = z.reshape(-1), a.reshape(-1), prime.reshape(-1), b.reshape(-1)
    for row in range(zf.size // m):
        lo, lo_b = row * m, (row // n) * m
        zr, ar, pr, br = zf[lo : lo + m], af[lo : lo + m], pf[lo : lo + m], bf[lo_b : lo_b + m]
        for j in range(m):
            zj = zr[j] + br[j]
            zr[j] = zj
            ar[j], pr[j] = _sigmoid_pair(zj)
    return a, prime


@numba.njit(cache=True, nogil=True, **_EXACT)
def scale_and_sum(delta, prime):
    """delta (..., n, m) ⊙= prime in place; returns Σ over the n rows, flat (E·m,), in order."""
    n, m = delta.shape[-2], delta.shape[-1]
    df, pf = delta.reshape(-1), prime.reshape(-1)
    total = np.zeros(df.size // n)
    for row in range(df.size // m):
        lo, lo_t = row * m, (row // n) * m
        dr, pr, tr = df[lo : lo + m], pf[lo : lo + m], total[lo_t : lo_t + m]
        for j in range(m):
            d = dr[j] * pr[j]
            dr[j] = d
            tr[j] += d
    return total


@numba.njit(cache=True, nogil=True, **_EXACT)
def subtract_scaled(p, g, lr):
    """p ← p − lr·g in place, both C-contiguous of one shape; lr·g rounded first."""
    pf, gf = p.reshape(-1), g.reshape(-1)
    for i in range(pf.size):
        pf[i] -= lr * gf[i]


@numba.njit(cache=True, nogil=True, **_FLAGS)
def exp_nonpositive(x, out):
    """``out[i] = e^{x[i]}`` for x ≤ 0, the kernels' exponential alone (for tests)."""
    for i in range(x.size):
        out[i] = _exp_nonpositive(x[i])
