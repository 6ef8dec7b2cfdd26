"""The in-place sigmoid and tanh of the recurrent loops against textbook formulas.

The references are written here from the definitions, independently of the
engine: σ(z) = 1/(1 + e^{−z}), σ′ = e^{−|z|}/(1 + e^{−|z|})², tanh from NumPy and
tanh′ = 1 − tanh² where that has no cancellation, e^{−2|z|}·4/(1 + e^{−2|z|})²
everywhere.  The grid reaches the tails where a naive formula rounds to 0 or
overflows.
"""

import numpy as np
import pytest

import gradlab
from gradlab.engine.recurrent import sigmoid_clip, sigmoid_into, tanh_into

Z = np.concatenate(
    [np.linspace(-60, 60, 2401), [-800.0, -745.0, -700.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 700.0]]
)


def _run(kernel, z, alias):
    """(value, prime) from ``kernel``, with prime written over a copy of z if ``alias``."""
    z = z.copy()
    value = np.empty_like(z)
    prime = z if alias else np.empty_like(z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        kernel(z, value, prime)
    return value, prime


@pytest.mark.parametrize("alias", [False, True])
def test_sigmoid_into_matches_the_definition_to_rounding(alias):
    value, prime = _run(sigmoid_into, Z, alias)
    with np.errstate(over="ignore"):
        ref_value = 1.0 / (1.0 + np.exp(-Z))
    e = np.exp(-np.abs(Z))
    ref_prime = e / (1.0 + e) ** 2
    # atol: σ(−745) ≈ 5e−324 is the smallest subnormal, which the quotient may round to 0
    np.testing.assert_allclose(value, ref_value, rtol=1e-15, atol=1e-323)
    np.testing.assert_allclose(prime, ref_prime, rtol=1e-15, atol=0)
    # the tails keep full relative accuracy: σ(−40) and σ′(±40) are about 4e−18
    assert value[Z == -40.0][0] == pytest.approx(np.exp(-40.0), rel=1e-15)
    assert prime[Z == 40.0][0] == pytest.approx(np.exp(-40.0), rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_into_holds_the_derivative_above_the_clip(dtype):
    clip = sigmoid_clip(dtype)
    assert clip == {np.float64: 708.0, np.float32: 87.0}[dtype]
    z = np.array([clip, clip + 1.5, 800.0, np.finfo(dtype).max, np.inf], dtype=dtype)
    value, prime = _run(sigmoid_into, z, alias=False)
    assert value.dtype == prime.dtype == dtype
    assert np.all(value == 1.0)
    edge = np.exp(-clip) / (1.0 + np.exp(-clip)) ** 2  # in float64
    np.testing.assert_allclose(prime, edge, rtol=10 * np.finfo(dtype).eps)
    assert edge > np.finfo(dtype).tiny  # still a normal number of the dtype


@pytest.mark.parametrize("alias", [False, True])
def test_tanh_into_matches_the_definition_to_rounding(alias):
    value, prime = _run(tanh_into, Z, alias)
    e = np.exp(-2.0 * np.abs(Z))
    ref_prime = 4.0 * e / (1.0 + e) ** 2
    np.testing.assert_array_equal(value, np.tanh(Z))
    np.testing.assert_allclose(prime, ref_prime, rtol=1e-15, atol=0)
    small = np.abs(Z) < 0.5  # where 1 − tanh² has no cancellation
    np.testing.assert_allclose(prime[small], 1.0 - np.tanh(Z[small]) ** 2, rtol=1e-15)
    # sech² keeps tanh′(20) ≈ 1.7e−17, which 1 − tanh² rounds to 0
    assert prime[np.isclose(Z, 20.0)][0] == pytest.approx(4.0 * np.exp(-40.0), rel=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_rnn_phi_prime_is_the_activation_derivative_of_z(activation):
    # the in-place kernels (tanh, sigmoid) and the generic path (relu) give the
    # same trace as the activation's own functions applied to the trace's z
    net = gradlab.RNN(3, 8, 2, activation, gain=1.5, bias_std=1.0, seed=4)
    rng = np.random.default_rng(5)
    trace = net.backprop(rng.standard_normal((6, 9, 3)) * 4, rng.standard_normal((6, 2)))
    act = net.activation
    np.testing.assert_allclose(trace.h, act.phi(trace.z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(trace.phi_prime, act.phi_prime(trace.z), rtol=1e-14, atol=1e-300)
