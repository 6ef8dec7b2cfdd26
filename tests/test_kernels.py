"""The compiled element-wise kernels against long-double references and the NumPy path.

The references are independent of both paths: e^x, σ and σ′ evaluated in NumPy's
long double (64-bit mantissa on x86-64, 11 more bits than float64), and the
NumPy kernels for the sums and updates, which must be matched bit for bit.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import gradlab
from gradlab.engine import kernels
from gradlab.engine.activations import ACTIVATIONS

nk = pytest.importorskip("gradlab.engine._numba_kernels", reason="numba is not installed")

LONG = np.longdouble
needs_long = pytest.mark.skipif(
    np.finfo(LONG).nmant < 60, reason="long double is float64 on this platform"
)


def _ulps(actual: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|actual − exact| in units of the last place of float64 at the exact value."""
    return np.abs(actual.astype(LONG) - exact) / np.spacing(exact.astype(np.float64)).astype(LONG)


@needs_long
def test_exponential_is_within_one_ulp_down_to_the_smallest_subnormal():
    rng = np.random.default_rng(0)
    x = -np.concatenate([np.linspace(0, 746, 400_001), rng.uniform(0, 1, 200_000)])
    out = np.empty_like(x)
    nk.exp_nonpositive(x, out)
    exact = np.exp(x.astype(LONG))
    normal = exact >= np.finfo(np.float64).tiny
    assert _ulps(out, exact)[normal].max() <= 1.05
    # subnormal results: absolute error within one step of 2^−1074 (rounded twice)
    sub = np.abs(out.astype(LONG) - exact)[~normal] / LONG(np.finfo(np.float64).smallest_subnormal)
    assert sub.max() <= 1.0
    assert out[x < -745.2].max() == 0.0  # below half the smallest subnormal


def test_exponential_special_values():
    x = np.array([0.0, -0.0, -np.inf, np.nan, -1e300, -746.0, -745.0, -708.0])
    out = np.empty_like(x)
    nk.exp_nonpositive(x, out)
    assert out[0] == 1.0 and out[1] == 1.0 and out[2] == 0.0 and np.isnan(out[3])
    assert out[4] == 0.0 and out[5] == 0.0
    assert out[6] == np.exp(-745.0) and out[6] > 0  # the smallest subnormal, 5e−324
    assert out[7] == pytest.approx(np.exp(-708.0), rel=2.3e-16)


@needs_long
def test_fused_sigmoid_is_as_accurate_as_the_numpy_formulas():
    # The formulas round a few times (e, 1 + e, 1/(1 + e), two products): measured on
    # these 230,001 points, σ within 2.7 ulp and σ′ within 4.5 ulp of the exact values
    # on both paths.  The compiled path may not be worse than NumPy's by over 0.5 ulp.
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(0, 8, 200_000), np.linspace(-750, 750, 30_001)])
    zl = z.astype(LONG)
    e = np.exp(-np.abs(zl))
    exact = (np.where(zl >= 0, 1 / (1 + e), e / (1 + e)), e / (1 + e) ** 2)  # σ, σ′
    compiled = kernels.sigmoid_and_prime(z.copy())
    with kernels.using("numpy"):
        numpy_path = kernels.sigmoid_and_prime(z.copy())
    for got, ref, want in zip(compiled, numpy_path, exact, strict=True):
        normal = want >= np.finfo(np.float64).tiny
        worst = _ulps(got, want)[normal].max()
        assert worst <= 5.0
        assert worst <= _ulps(ref, want)[normal].max() + 0.5
        assert np.abs(got - want.astype(np.float64))[~normal].max() <= 1e-323
    # tiny values keep full relative accuracy: σ(−40) and σ′(±40) ≈ 4.2e−18
    a40, p40 = kernels.sigmoid_and_prime(np.array([-40.0, 40.0]))
    ref = np.exp(LONG(-40)) / (1 + np.exp(LONG(-40)))
    assert abs(a40[0] / float(ref) - 1) < 4e-16
    np.testing.assert_allclose(p40, float(ref / (1 + np.exp(LONG(-40)))), rtol=4e-16)


def test_fused_sigmoid_edge_values_and_nan():
    z = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 800.0, -800.0])
    a, prime = kernels.sigmoid_and_prime(z)
    np.testing.assert_array_equal(a[:4], [0.5, 0.5, 1.0, 0.0])
    np.testing.assert_array_equal(prime[:4], [0.25, 0.25, 0.0, 0.0])
    assert np.isnan(a[4]) and np.isnan(prime[4])  # divergence stays visible
    np.testing.assert_array_equal(a[5:], [1.0, 0.0])
    np.testing.assert_array_equal(prime[5:], [0.0, 0.0])


@pytest.mark.parametrize("shape", [(7, 5), (3, 7, 5)])
def test_bias_is_added_in_the_same_pass(shape):
    rng = np.random.default_rng(2)
    z, b = rng.normal(0, 5, shape), rng.normal(0, 1, (*shape[:-2], shape[-1]))
    want_z = z + b[..., None, :]
    got_z = z.copy()
    a, prime = kernels.sigmoid_and_prime(got_z, b)
    np.testing.assert_array_equal(got_z, want_z)  # one rounding, as NumPy's z + b
    a2, p2 = kernels.sigmoid_and_prime(want_z)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(prime, p2)


@pytest.mark.parametrize("shape", [(9, 6), (4, 9, 6)])
def test_backward_kernel_equals_numpy_bit_for_bit(shape):
    rng = np.random.default_rng(3)
    delta, prime = rng.standard_normal(shape), rng.uniform(0, 0.25, shape)
    d1, d2 = delta.copy(), delta.copy()
    total = kernels.scale_and_sum(d1, prime)
    with kernels.using("numpy"):
        want = kernels.scale_and_sum(d2, prime)
    np.testing.assert_array_equal(d1, delta * prime)
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(total, want)
    np.testing.assert_allclose(total, (delta * prime).sum(axis=-2), rtol=1e-14)


def test_update_kernel_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(4)
    p, g = rng.standard_normal((13, 11)), rng.standard_normal((13, 11))
    p1, p2 = p.copy(), p.copy()
    kernels.subtract_scaled(p1, g, 0.37)
    with kernels.using("numpy"):
        kernels.subtract_scaled(p2, g, 0.37)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(p1, p - 0.37 * g)


def test_other_dtypes_and_layouts_take_the_numpy_path():
    z = np.random.default_rng(5).normal(0, 3, (6, 8))
    with kernels.using("numpy"):
        want32 = kernels.sigmoid_and_prime(z.astype(np.float32))
        want_t = kernels.sigmoid_and_prime(z.T)
    for got, want in ((kernels.sigmoid_and_prime(z.astype(np.float32)), want32),
                      (kernels.sigmoid_and_prime(z.T), want_t)):  # fmt: skip
        assert got[0].dtype == want[0].dtype
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("ensemble", [(), (3,)])
def test_backprop_with_compiled_kernels_agrees_with_numpy_kernels(ensemble):
    # a 20-layer sigmoid net: δ^1 is ~1e−12 of δ^L, so agreement is relative per array
    rng = np.random.default_rng(6)
    sizes = [12] + [16] * 19 + [5]
    ws = gradlab.init_weights(rng, sizes, "lecun_normal", 1.0, np.float64, ensemble=ensemble)
    bs = gradlab.init_biases(rng, sizes, 0.2, np.float64, ensemble=ensemble)
    x, y = rng.standard_normal((*ensemble, 24, 12)), rng.uniform(0, 1, (*ensemble, 24, 5))
    sig, quad = ACTIVATIONS["sigmoid"], gradlab.COSTS["quadratic"]
    fast = gradlab.backprop(ws, bs, x, y, quad, sig, sig)
    with kernels.using("numpy"):
        slow = gradlab.backprop(ws, bs, x, y, quad, sig, sig)
    for name in ("z", "a", "phi_prime", "delta", "nabla_w", "nabla_b"):
        for got, want in zip(getattr(fast, name), getattr(slow, name), strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 * np.abs(want).max())


def test_environment_chooses_the_kernels_and_rejects_unknown_names():
    code = "from gradlab.engine import kernels; print(kernels.backend())"
    env = {**os.environ, kernels.KERNELS_ENV: "numpy"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "NumPy (GRADLAB_KERNELS=numpy)"
    env[kernels.KERNELS_ENV] = "cuda"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "GRADLAB_KERNELS='cuda' is not allowed; choose one of: numba, numpy" in done.stderr
    with kernels.using("numba") as about:
        assert about.startswith("numba ")
