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

TESTS = os.path.dirname(os.path.abspath(__file__))
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


INTERRUPTED_CALLS = """
import collections, signal, sys
import numpy as np
from gradlab.engine import kernels

def stop(signum, frame):
    raise KeyboardInterrupt  # what Ctrl-C does, and gradlab's SIGTERM handler

signal.signal(signal.SIGALRM, stop)
rng = np.random.default_rng(1)
z, b, w = rng.normal(size=(256, 512)), np.zeros(512), np.ones((256, 512))
kernels.sigmoid_and_prime(z, b)  # compiled or loaded from numba's cache before the timing
seen = collections.Counter()
for _ in range(100):
    signal.setitimer(signal.ITIMER_REAL, rng.uniform(0.0005, 0.003))
    try:
        while True:
            a, prime = kernels.sigmoid_and_prime(z, b)
            kernels.scale_and_sum(w, prime)
            kernels.subtract_scaled(w, prime, 0.0)
    except BaseException as err:
        seen[type(err).__name__] += 1
print(dict(seen))
"""


def test_an_interrupt_during_a_compiled_kernel_is_raised_as_itself():
    # the signal lands while the compiled code runs (most of each loop's time); numba's
    # dispatcher then reports it as SystemError unless kernels._call unwraps it
    env = {**os.environ, kernels.KERNELS_ENV: "numba"}
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_CALLS], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "{'KeyboardInterrupt': 100}"


INTERRUPTED_LOAD = """
import os, signal, sys, threading
import numpy as np
from gradlab.engine import kernels

def stop(signum, frame):
    raise KeyboardInterrupt  # gradlab's SIGTERM handler

signal.signal(signal.SIGTERM, stop)
z = np.random.default_rng(2).normal(size=(64, 32))
timer = threading.Timer(float(sys.argv[1]), os.kill, (os.getpid(), signal.SIGTERM))
timer.start()
try:
    kernels.sigmoid_and_prime(z)  # the first use imports numba and loads every kernel
    timer.join()  # the signal comes here if loading took less time
    print("no interrupt")
except KeyboardInterrupt:
    pass
a, prime = kernels.sigmoid_and_prime(z.copy())
with kernels.using("numpy"):
    a0, prime0 = kernels.sigmoid_and_prime(z.copy())
print(kernels.backend().split()[0], np.abs(a - a0).max() < 1e-15,
      np.abs(prime - prime0).max() < 1e-15)
"""


def test_a_signal_while_numba_loads_its_kernels_is_handled_after_the_load():
    # delays spread over numba's import (0.2 s here) and the loading (seconds when it
    # compiles) of the kernels: each signal is raised once the load is done, and the
    # kernels then work; without the hold, a signal during the import breaks numba
    env = {**os.environ, kernels.KERNELS_ENV: "numba"}
    delays = (0.05, 0.1, 0.15, 0.3, 0.6, 1.2)
    procs = [subprocess.Popen([sys.executable, "-c", INTERRUPTED_LOAD, str(d)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in delays]  # fmt: skip
    for d, proc in zip(delays, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and err == "", (d, err[-2000:])
        assert out.strip() == "numba True True", (d, out)


NO_LATER_COMPILE = """
import numpy as np
import gradlab
from helpers import train_cfg
from gradlab.engine import _numba_kernels as nk, kernels
from gradlab.engine.activations import ACTIVATIONS
from gradlab.training.loop import prepare, train
from gradlab.training.sequence_loop import prepare_sequence, train_sequence

names = ("sigmoid_and_prime", "bias_sigmoid_and_prime", "scale_and_sum", "subtract_scaled")
kernels.backend()
print([len(getattr(nk, n).signatures) for n in names])
for optimizer in ("sgd", "momentum", "adam"):
    spec, rng, data = prepare(train_cfg(**{"train.epochs": 1, "model.width": 16,
                                           "train.optimizer": optimizer}))
    train(spec, data, rng)
rng = np.random.default_rng(0)
sizes = [4, 6, 6, 3]
sig, quad = ACTIVATIONS["sigmoid"], gradlab.COSTS["quadratic"]
for ensemble in ((), (3,)):
    ws = gradlab.init_weights(rng, sizes, "lecun_normal", 1.0, np.float64, ensemble=ensemble)
    bs = gradlab.init_biases(rng, sizes, 0.2, np.float64, ensemble=ensemble)
    x, y = rng.standard_normal((*ensemble, 5, 4)), rng.uniform(0, 1, (*ensemble, 5, 3))
    gradlab.backprop(ws, bs, x, y, quad, sig, sig)
for model, extra in (("rnn", {"model.activation": "sigmoid"}), ("lstm", {})):
    over = {"data.n_samples": 40, "data.length": 6, "train.batch_size": 20, "train.epochs": 1,
            "train.probe_size": 20, "model.hidden": 8, **extra}
    spec, rng, data = prepare_sequence(train_cfg(model=model, data="adding", **over))
    train_sequence(spec, data, rng)
print([len(getattr(nk, n).signatures) for n in names])
"""


def test_every_specialisation_the_engine_uses_is_made_at_first_use():
    # 1-3 axes for σ and the update, 2-3 for the biased σ and the backward sum; training
    # (three optimisers), an ensemble's backprop, an RNN and an LSTM then compile nothing
    env = {**os.environ, kernels.KERNELS_ENV: "numba"}
    done = subprocess.run([sys.executable, "-c", NO_LATER_COMPILE], env=env, cwd=TESTS,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["[3, 2, 2, 3]", "[3, 2, 2, 3]"], done.stdout
