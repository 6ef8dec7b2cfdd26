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


@numba.njit(cache=True, nogil=True, **_FLAGS)
def sigmoid_and_prime(z, a, prime):
    """Write σ(z) into ``a`` and σ′(z) into ``prime``; all three (m,) and contiguous."""
    for i in range(z.size):
        zi = z[i]
        e = _exp_nonpositive(-abs(zi))
        r = 1.0 / (1.0 + e)  # σ(|z|)
        s = e * r  # σ(−|z|)
        prime[i] = s * r
        a[i] = r if zi >= 0.0 else s


@numba.njit(cache=True, nogil=True, **_FLAGS)
def exp_nonpositive(x, out):
    """``out[i] = e^{x[i]}`` for x ≤ 0, the kernels' exponential alone (for tests)."""
    for i in range(x.size):
        out[i] = _exp_nonpositive(x[i])


@numba.njit(cache=True, nogil=True, **_FLAGS)
def bias_sigmoid_and_prime(z, b, a, prime):
    """z (E, n, m) += b (E, m) in place, then σ(z) into ``a`` and σ′(z) into ``prime``."""
    n_e, n, m = z.shape
    for k in range(n_e):
        for i in range(n):
            for j in range(m):
                zi = z[k, i, j] + b[k, j]
                z[k, i, j] = zi
                e = _exp_nonpositive(-abs(zi))
                r = 1.0 / (1.0 + e)
                s = e * r
                prime[k, i, j] = s * r
                a[k, i, j] = r if zi >= 0.0 else s


@numba.njit(cache=True, nogil=True, **_EXACT)
def scale_and_sum(delta, prime, total):
    """delta (E, n, m) ⊙= prime in place; total (E, m) = Σ_i delta[:, i], rows in order."""
    n_e, n, m = delta.shape
    for k in range(n_e):
        for j in range(m):
            total[k, j] = 0.0
        for i in range(n):
            for j in range(m):
                d = delta[k, i, j] * prime[k, i, j]
                delta[k, i, j] = d
                total[k, j] += d


@numba.njit(cache=True, nogil=True, **_EXACT)
def subtract_scaled(p, g, lr):
    """p ← p − lr·g in place, (m,) each; lr·g rounded first, as NumPy's p -= lr * g."""
    for i in range(p.size):
        p[i] -= lr * g[i]
