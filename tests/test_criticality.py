"""The edge of chaos: the critical line, the phase of a point, χ₁ of an MLP config."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from gradlab import theory


def chi1_by_quad(phi_prime, sigma_w2, q):
    """σ_w² ∫ φ′(√q z)² N(z; 0, 1) dz by adaptive quadrature (independent of the Hermite rule)."""

    def f(z):
        return phi_prime(np.sqrt(q) * z) ** 2 * np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)

    return (
        sigma_w2 * integrate.quad(f, -12.0, 12.0, epsabs=1e-13)[0]
    )  # N(0,1) mass beyond 12: 1e-33


def test_critical_curve_lies_on_chi1_equal_one():
    b = np.array([0.0, 0.05, 0.3])
    w = theory.critical_curve("tanh", b)
    assert w.shape == (3,)
    assert w[0] == pytest.approx(1.0, rel=1e-9)  # σ_b² = 0: q* = 0, tanh′(0) = 1, χ₁ = σ_w²
    assert (np.diff(w) > 0).all()  # more bias needs larger weights

    def tanh_prime(u):
        return 1.0 - np.tanh(u) ** 2

    for sw2, sb2 in zip(w[1:], b[1:], strict=True):
        q = theory.q_star("tanh", sw2, sb2)
        assert chi1_by_quad(tanh_prime, sw2, q) == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(theory.critical_curve("relu", b), 2.0, rtol=1e-9)  # He et al.


def test_phase_of_names_critical_points_critical():
    ln_chi1 = np.array([-0.5, -1e-12, 0.0, 1e-9, 0.3])
    assert theory.phase_of(ln_chi1).tolist() == [
        "ordered", "critical", "critical", "critical", "chaotic"
    ]  # fmt: skip
    # tanh at σ_w² = 1, σ_b² = 0 is exactly critical
    assert theory.phase_of(np.log(theory.chi1("tanh", 1.0, 0.0))) == "critical"
    assert theory.phase_of(0.01, tolerance=0.1) == "critical"


def test_mlp_chi1_of_relu_is_half_sigma_w2():
    # ReLU: φ′ = 1 on half the line, so χ₁ = σ_w²/2 whatever q; He weights give σ_w² = 2 gain²
    sw2, sb2, chi = theory.mlp_chi1("relu", "he_normal", 2.0, 64, 0.0)
    assert (sw2, sb2) == pytest.approx((8.0, 0.0))
    assert chi == pytest.approx(4.0, rel=1e-10)
    sw2, sb2, chi = theory.mlp_chi1("relu", "lecun_normal", 1.5, 16, 0.3)
    assert (sw2, sb2) == pytest.approx((2.25, 0.09))
    assert chi == pytest.approx(2.25 / 2, rel=1e-10)


def test_predicted_norm_from_output_grows_by_root_chi_per_layer():
    got = theory.predicted_norm_from_output(4.0, 4)  # (L,) for l = 1..4
    np.testing.assert_allclose(got, [8.0, 4.0, 2.0, 1.0])
