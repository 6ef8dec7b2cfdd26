"""Activations, their derivatives and bounds; costs and their output errors."""

import numpy as np
import pytest
from gradcheck import check_grad

import gradlab
from gradlab.engine.activations import LEAKY_SLOPE

Z = np.linspace(-6, 6, 241) + 0.013  # avoid the ReLU kink at exactly 0


@pytest.mark.parametrize("name", sorted(gradlab.ACTIVATIONS))
def test_derivative_matches_finite_differences(name):
    act = gradlab.ACTIVATIONS[name]
    eps = 1e-6  # element-wise φ: one central difference per point
    numeric = (act(Z + eps) - act(Z - eps)) / (2 * eps)
    check_grad(act.phi_prime(Z), numeric, rtol=1e-7, what=f"{name}′")


@pytest.mark.parametrize("name", sorted(gradlab.ACTIVATIONS))
def test_sup_prime_is_the_supremum(name):
    act = gradlab.ACTIVATIONS[name]
    grid = np.linspace(-50, 50, 200001)
    peak = act.phi_prime(grid).max()
    assert peak <= act.sup_prime + 1e-15
    assert peak >= act.sup_prime - 1e-6  # attained or approached


def test_reference_formulas():
    z = np.array([-3.0, -0.5, 0.2, 4.0])
    np.testing.assert_allclose(gradlab.ACTIVATIONS["sigmoid"](z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(gradlab.ACTIVATIONS["softplus"](z), np.log1p(np.exp(z)))
    np.testing.assert_allclose(
        gradlab.ACTIVATIONS["leaky_relu"](z), np.where(z > 0, z, LEAKY_SLOPE * z)
    )
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(gradlab.ACTIVATIONS["sigmoid"].phi_prime(z), s * (1 - s))
    np.testing.assert_allclose(gradlab.ACTIVATIONS["tanh"].phi_prime(z), 1 - np.tanh(z) ** 2)


def test_extreme_inputs_are_finite_and_silent():
    # warnings are errors under pytest's config: any overflow warning fails here
    z = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    for act in gradlab.ACTIVATIONS.values():
        assert np.isfinite(act(z)).all() or act.name in ("relu", "leaky_relu", "linear")
        assert np.isfinite(act.phi_prime(z)).all()
    sp = gradlab.ACTIVATIONS["sigmoid"].phi_prime(np.array([40.0, -40.0]))
    # σ′(±40) = e^{-40}/(1+e^{-40})² ≈ 4.25e-18: kept, not rounded to zero
    np.testing.assert_allclose(sp, np.exp(-40.0), rtol=1e-12)


def test_cross_entropy_value_and_stability():
    z = np.array([[-2.0, 0.5, 3.0]])
    y = np.array([[0.0, 1.0, 1.0]])
    a = 1 / (1 + np.exp(-z))
    naive = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    ce = gradlab.COSTS["cross_entropy"]
    np.testing.assert_allclose(ce.value(z, a, y), naive, rtol=1e-12)
    # a saturated wrong answer: the naive formula gives inf, the stable one 1000
    zbig = np.array([[1000.0]])
    assert ce.value(zbig, np.ones((1, 1)), np.zeros((1, 1))) == pytest.approx(1000.0)


def test_quadratic_value_has_the_half():
    q = gradlab.COSTS["quadratic"]
    a = np.array([[0.5, 0.0], [1.0, 1.0]])
    y = np.array([[0.0, 0.0], [0.0, 1.0]])
    # C = (1/2)·(½·0.25 + ½·1) over n = 2 samples
    assert q.value(a, a, y) == pytest.approx((0.125 + 0.5) / 2)


def test_cross_entropy_needs_sigmoid_output():
    net = gradlab.MLP([2, 3, 2], "tanh", "tanh", seed=0)
    with pytest.raises(ValueError, match=r"output_activation='tanh'.*cross_entropy.*sigmoid"):
        net.backprop(np.zeros((1, 2)), np.zeros((1, 2)), cost="cross_entropy")
