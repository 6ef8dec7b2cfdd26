"""The probe's measurement (gradlab.theory.probe) against hand calculations and Monte Carlo.

The acceptance checks of issue 5 on the ensemble functions themselves (the
measured per-layer factor within 10 % of χ₁ for sigmoid, tanh ordered and
critical, ReLU He/LeCun/Xavier; orthogonal weights narrowing the Jacobian
spectrum; Nielsen's 25×) are in tests/test_ensemble.py and are not repeated
here.  This file checks what the probe adds: the config it accepts, the
predicted E‖δ^l‖² it logs beside the measurement, and the metric names.
End to end through experiments/probe.py and MLflow: tests/test_probe_presets.py.
"""

import math

import numpy as np
import pytest
from helpers import compose_config
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

from gradlab import names, theory
from gradlab.jobs import probe as probe_run
from gradlab.theory import ensemble, probe


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def probe_cfg(**overrides) -> dict:
    """conf/probe/config.yaml composed, with dotted-key overrides."""
    values = {k: "null" if v is None else v for k, v in overrides.items()}
    cfg = compose_config([f"{k}={v}" for k, v in values.items()], config_name="probe")
    return OmegaConf.to_container(cfg, resolve=True)


def spec_of(**overrides) -> probe.ProbeSpec:
    return probe.probe_spec(probe_cfg(**overrides))


def test_spec_resolves_sigma_w2_gain_and_the_fixed_point_input():
    he = spec_of(**{"probe.activation": "relu", "probe.init": "he_normal", "probe.width": 8})
    assert he.sigma_w2 == 2.0 and he.gain == 1.0  # He et al.: Var[W] = 2/fan_in
    # σ_w² = 0.5 with LeCun weights: the drawn weights have variance 0.5/n
    s = spec_of(**{"probe.sigma_w2": 0.5, "probe.width": 64, "probe.depth": 4})
    w, _ = ensemble.draw_ensemble(np.random.default_rng(0), [64] * 4, 4, s.init, s.gain)
    assert np.var(np.stack(w)) == pytest.approx(0.5 / 64, rel=0.03)
    # critical: on the edge of chaos, and the inputs start at the fixed point q*
    c = spec_of(**{"probe.sigma_w2": "critical", "probe.sigma_b2": 0.05, "probe.input_std": None})
    assert theory.chi1("tanh", c.sigma_w2, 0.05) == pytest.approx(1.0, abs=1e-9)
    q1 = c.sigma_w2 * c.input_std**2 + c.sigma_b2  # q^1 of inputs N(0, input_std²)
    assert theory.length_map("tanh", q1, c.sigma_w2, c.sigma_b2) == pytest.approx(q1, rel=1e-9)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"probe.kind": "gradient"}, "probe.kind='gradient' is not allowed; choose one of: delta"),
        ({"probe.kind": "nielsen", "probe.activation": "tanh"}, "with probe.kind='nielsen'"),
        ({"probe.sigma_w2": "big"}, "probe.sigma_w2='big' is not allowed; it must be a number > 0"),
        ({"probe.depth": 3}, "probe.depth=3 is not allowed; it must be an integer >= 4"),
        ({"probe.members": 0}, "probe.members=0 is not allowed"),
        (
            {"probe.activation": "relu", "probe.sigma_w2": 4.0, "probe.input_std": None},
            "probe.input_std=None is not allowed",
        ),
    ],
)
def test_bad_values_name_the_key(overrides, needle):
    with pytest.raises(ValueError) as err:
        spec_of(**overrides)
    assert needle in str(err.value)


def test_predictions_by_hand():
    # ReLU, σ_w² = 2, σ_b² = 0: E[relu′²] = ½ at any length and χ₁ = 1, so E‖δ^l‖² = n/2
    s = spec_of(
        **{
            "probe.activation": "relu",
            "probe.init": "he_normal",
            "probe.width": 16,
            "probe.depth": 5,
        }
    )
    mf = probe.mean_field(s)
    np.testing.assert_allclose(mf[names.PROBE_DELTA_SQ_CHI1], 8.0, rtol=1e-12)
    np.testing.assert_allclose(mf[names.PROBE_DELTA_SQ_PROFILE], 8.0, rtol=1e-12)
    # tanh, σ_w² = ½, σ_b² = 0: q* = 0, tanh′(0) = 1, χ₁ = ½: the line is n·2^{−(L−l)}
    t = spec_of(**{"probe.sigma_w2": 0.5, "probe.width": 10, "probe.depth": 6})
    mf = probe.mean_field(t)
    assert mf["q_star"] == 0.0 and mf["chi1"] == pytest.approx(0.5, rel=1e-9)
    np.testing.assert_allclose(mf[names.PROBE_DELTA_SQ_CHI1], 10.0 * 0.5 ** np.arange(5, -1, -1))


def test_logged_prediction_matches_monte_carlo_at_every_layer():
    # tanh, σ_w² = 4 from small inputs: q^l grows from 0.01 towards q* ≈ 2.1 over these
    # four layers, so E[φ′²] at layer L is 1.8× its fixed-point value; the transient-aware
    # prediction n E[φ′(√q^L z)²] Π χ(q^k) must hold in absolute terms at every layer
    # (worst error over seeds 0-9: 3.6 %)
    s = spec_of(
        **{
            "probe.sigma_w2": 4.0,
            "probe.input_std": 0.05,
            "probe.depth": 4,
            "probe.width": 256,
            "probe.members": 8,
            "probe.batch": 16,
        }
    )
    result = probe.measure(s)
    frame = result.profile
    assert list(frame.columns) == list(names.PROBE_COLUMNS)
    np.testing.assert_allclose(
        frame[names.PROBE_DELTA_SQ], frame[names.PROBE_DELTA_SQ_PROFILE], rtol=0.10
    )
    assert result.summary[names.CHI1] == pytest.approx(theory.chi1("tanh", 4.0, 0.0), rel=1e-12)
    assert result.summary[names.CHI1_MEASURED] == pytest.approx(
        math.exp(result.summary[names.LOG_SLOPE]), rel=1e-15
    )
    fit = frame.loc[frame["in_fit"] == 1, "layer"]
    assert (fit.min(), fit.max()) == ensemble.default_fit_layers(4)


def test_nielsen_chain_by_hand():
    s = spec_of(
        **{
            "probe.kind": "nielsen",
            "probe.activation": "sigmoid",
            "probe.width": 3,
            "probe.depth": 6,
        }
    )
    result = probe.measure(s)
    frame = result.profile
    # every z^l = 0: δ^l = w σ′(0) δ^{l+1} = 100 · ¼ · δ^{l+1}, so ‖δ^l‖² = 625^{L−l} ‖δ^L‖²
    ratio = frame[names.PROBE_GRAD_RATIO].to_numpy()
    np.testing.assert_allclose(ratio[:-1], 25.0, rtol=1e-15)
    assert np.isnan(ratio[-1])
    d = frame[names.PROBE_DELTA_SQ].to_numpy()
    np.testing.assert_allclose(d / d[-1], 625.0 ** np.arange(5, -1, -1), rtol=1e-14)
    np.testing.assert_allclose(d, frame[names.PROBE_DELTA_SQ_CHI1], rtol=1e-14)
    assert result.summary[names.NIELSEN_RATIO] == pytest.approx(25.0, rel=1e-15)
    assert result.summary[names.NIELSEN_RATIO_PREDICTED] == 25.0


def test_jacobian_probe_summarises_its_singular_values():
    s = spec_of(
        **{
            "probe.kind": "jacobian",
            "probe.width": 8,
            "probe.depth": 3,
            "probe.members": 3,
            "probe.batch": 2,
        }
    )
    result = probe.measure(s)
    sv = result.singular_values
    assert sv.shape == (3, 2, 8) and result.profile is None
    s2 = sv**2
    assert result.summary[names.JACOBIAN_MEAN_S2] == pytest.approx(np.mean(s2), rel=1e-14)
    assert result.summary[names.JACOBIAN_S2_SPREAD] == pytest.approx(
        np.var(s2) / np.mean(s2) ** 2, rel=1e-12
    )
    chi1 = theory.chi1("tanh", 1.0, 0.0)
    assert result.summary[names.JACOBIAN_MEAN_S2_PREDICTED] == pytest.approx(chi1**3)
    frame = probe.singular_value_frame(sv)
    assert list(frame.columns) == list(names.SINGULAR_VALUE_COLUMNS) and len(frame) == sv.size
    back = frame.set_index(["member", "sample", "index"])["s"].to_numpy().reshape(sv.shape)
    np.testing.assert_array_equal(back, sv)


def test_profile_metrics_are_named_and_stepped_by_layer():
    result = probe.measure(
        spec_of(**{"probe.depth": 4, "probe.width": 8, "probe.members": 2, "probe.batch": 2})
    )
    metrics = probe_run.profile_metrics(result.profile)
    steps = {}
    for key, value, step in metrics:
        steps.setdefault(key, []).append(step)
        assert np.isfinite(value)
    for q in names.PROBE_PROFILES:
        want = [1, 2, 3] if q == names.PROBE_GRAD_RATIO else [1, 2, 3, 4]  # no ratio at l = L
        assert steps[f"probe/{q}"] == want
    d = dict(((k, s), v) for k, v, s in metrics)
    assert d[("probe/delta_sq", 2)] == result.profile[names.PROBE_DELTA_SQ].iloc[1]


def test_failed_run_name_survives_bad_values():
    cfg = probe_cfg(**{"probe.depth": 1})
    cfg["probe"]["activation"] = None
    assert probe.failed_run_name(cfg) == "delta-None-lecun_normal-d1-s0"
