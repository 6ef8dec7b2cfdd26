"""The probe experiment: gradients at initialisation, measured beside their prediction.

No training: a probe draws networks, sends Gaussian inputs through them and
backpropagates an injected output error (:mod:`gradlab.theory.ensemble`), then sets
what it measured against the mean-field theory (:mod:`gradlab.theory`).
``probe.kind`` chooses what is measured:

``delta``
    E‖δ^l‖² for l = 1..L over ``members`` independent networks at once (one
    batched computation), its fitted per-layer slope against ln χ₁, and two
    predictions (Poole et al. 2016; Schoenholz et al. 2017): the fixed-point
    line n E[φ′(√q* z)²] χ₁^{L−l} and the transient-aware n E[φ′(√q^L z)²]
    Π_{k=l}^{L−1} χ(q^k), which follows the lengths q^l from the actual inputs.
    Also the finite-width spread Var[ln‖δ^1_k‖²] over members and samples
    against β = Σ_j 1/n_j (Hanin 2018; :mod:`gradlab.theory.finite_width`).
``jacobian``
    The singular values of J = ∂a^L/∂a^0 of every member and sample, and their
    mean square against χ₁^L (Pennington, Schoenholz & Ganguli 2017).
``nielsen``
    Nielsen's chain (ch. 5): all weights w, biases making every z^l = 0, so
    each layer multiplies δ by w σ′(0) = w/4 exactly (25 for w = 100).

Every network has L = ``depth`` weight layers of equal width n (n_0 = … = n_L)
and the same φ in every layer, the setting of the theory.  W^l has variance
σ_w²/n (shape and law from ``probe.init``: Gaussian or orthogonal) and
b^l ~ N(0, σ_b²).  Pure: config in, frames and numbers out; the MLflow edge is
:mod:`gradlab.jobs.probe`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.engine.activations import ACTIVATIONS, get_activation
from gradlab.engine.init import INITS
from gradlab.errors import check_number
from gradlab.schema import RUNTIME_SCHEMA, Checked, Choice, Integer, Number, validate
from gradlab.theory import ensemble, finite_width
from gradlab.theory import mean_field as theory

Array = np.ndarray

KINDS = ("delta", "jacobian", "nielsen")
#: ``probe.sigma_w2: critical`` puts the network on the edge of chaos, χ₁ = 1.
CRITICAL = "critical"
#: Smallest depth per kind: a slope needs two layers past the transient and before L
#: (ensemble.default_fit_layers); a ratio needs two layers.
MIN_DEPTH = {"delta": 4, "jacobian": 1, "nielsen": 2}

#: Every key of experiments/probe.py's config and what it accepts (see gradlab.schema);
#: what each key means: the comments of conf/probe/config.yaml.  probe_spec checks
#: the keys marked Checked against the others.
SCHEMA = {
    "probe.kind": Choice(KINDS),
    "probe.depth": Checked("probe_spec: an integer >= MIN_DEPTH[probe.kind]"),
    "probe.width": Integer(1),
    "probe.activation": Choice(tuple(ACTIVATIONS)),
    "probe.init": Choice(tuple(INITS)),
    "probe.sigma_w2": Checked(f"probe_spec: a number > 0, '{CRITICAL}' or null"),
    "probe.sigma_b2": Number(minimum=0),
    "probe.members": Integer(1),
    "probe.batch": Integer(1),
    "probe.input_std": Number(minimum=0, nullable=True),
    "probe.nielsen_w": Number(),
    "seed": Integer(0),
    **RUNTIME_SCHEMA,
}


@dataclass(frozen=True)
class ProbeSpec:
    """A validated probe config; ``sigma_w2`` and ``input_std`` are resolved numbers."""

    kind: str
    depth: int
    width: int
    activation: str
    init: str
    sigma_w2: float
    sigma_b2: float
    members: int
    batch: int
    input_std: float
    nielsen_w: float
    seed: int

    @property
    def gain(self) -> float:
        """The init's gain g that gives σ_w² (σ_w² ∝ g² for every scheme)."""
        return math.sqrt(self.sigma_w2 / theory.sigma_w2_of(self.init, 1.0, self.width, self.width))

    @property
    def bias_std(self) -> float:
        return math.sqrt(self.sigma_b2)

    @property
    def run_name(self) -> str:
        """A name a person can read in the MLflow run list."""
        if self.kind == "nielsen":
            return f"nielsen-w{self.nielsen_w:g}-n{self.width}-d{self.depth}-s{self.seed}"
        return (
            f"{self.kind}-{self.activation}-{self.init}-sw{self.sigma_w2:.3g}"
            f"-sb{self.sigma_b2:.3g}-d{self.depth}-s{self.seed}"
        )


def failed_run_name(cfg: Mapping) -> str:
    """The run name of a probe config, also when its values are invalid."""
    p = cfg.get("probe", {})
    parts = (p.get("kind"), p.get("activation"), p.get("init"), f"d{p.get('depth')}")
    return "-".join(map(str, parts)) + f"-s{cfg.get('seed')}"


def probe_spec(cfg: Mapping) -> ProbeSpec:
    """Validate a composed probe config against :data:`SCHEMA`; ``ValueError`` names the
    bad key (unknown keys included)."""
    v = validate(cfg, SCHEMA)
    kind, activation, init = v["probe.kind"], v["probe.activation"], v["probe.init"]
    if kind == "nielsen" and activation != "sigmoid":
        raise ValueError(
            f"probe.activation={activation!r} is not allowed with probe.kind='nielsen'; "
            "choose one of: sigmoid (the chain needs σ(0) = 1/2 and σ′(0) = 1/4)"
        )
    depth = check_number("probe.depth", v["probe.depth"], integer=True, minimum=MIN_DEPTH[kind])
    width, sigma_b2 = v["probe.width"], v["probe.sigma_b2"]
    sigma_w2 = v["probe.sigma_w2"]
    if sigma_w2 is None:
        sigma_w2 = theory.sigma_w2_of(init, 1.0, width, width)
    elif sigma_w2 == CRITICAL:
        sigma_w2 = theory.critical_sigma_w2(activation, sigma_b2)
    else:
        try:
            sigma_w2 = check_number("probe.sigma_w2", sigma_w2, exclusive_minimum=0)
        except ValueError:
            raise ValueError(
                f"probe.sigma_w2={sigma_w2!r} is not allowed; it must be a number > 0, "
                f"'{CRITICAL}' (χ₁ = 1) or null (the init's own)"
            ) from None
    input_std = v["probe.input_std"]
    if input_std is None:
        input_std = fixed_point_input_std(activation, sigma_w2, sigma_b2)
    return ProbeSpec(
        kind=kind,
        depth=depth,
        width=width,
        activation=activation,
        init=init,
        sigma_w2=float(sigma_w2),
        sigma_b2=sigma_b2,
        members=v["probe.members"],
        batch=v["probe.batch"],
        input_std=float(input_std),
        nielsen_w=v["probe.nielsen_w"],
        seed=v["seed"],
    )


def fixed_point_input_std(activation: str, sigma_w2: float, sigma_b2: float) -> float:
    """The input std v^½ that starts every layer at the fixed point: σ_w² v + σ_b² = q*.

    Raises ``ValueError`` when the length map has no finite fixed point (e.g.
    relu above σ_w² = 2), since then no input is at it.
    """
    q = theory.q_star(activation, sigma_w2, sigma_b2)
    if not math.isfinite(q):
        raise ValueError(
            f"probe.input_std=None is not allowed for activation={activation!r}, "
            f"sigma_w2={sigma_w2:g}, sigma_b2={sigma_b2:g}: the length q^l grows without bound, "
            "so there is no fixed point to start at; give a number"
        )
    return math.sqrt(max(q - sigma_b2, 0.0) / sigma_w2)


@dataclass(frozen=True)
class ProbeResult:
    """What a probe measured.

    Attributes
    ----------
    profile : DataFrame or None
        One row per layer l = 1..L, columns ``names.PROBE_COLUMNS`` (kinds
        ``delta`` and ``nielsen``).
    singular_values : ndarray, shape (E, n, n) or None
        Singular values of J per member and sample, descending (kind ``jacobian``).
    summary : dict
        Summary metrics, keys from ``names.PROBE_SUMMARY_METRICS``.
    """

    profile: pd.DataFrame | None
    singular_values: Array | None
    summary: dict[str, float]


def _mean_square_prime(activation: str, q: float) -> float:
    """E_z[φ′(√q z)²], z ~ N(0, 1): E‖δ^L‖²/n_L for an injected error e ~ N(0, I)."""
    phi = get_activation(activation)
    return theory.gaussian_expectation(lambda u: phi.phi_prime(u) ** 2, q)


def mean_field(spec: ProbeSpec) -> dict[str, float | Array]:
    """The mean-field quantities of a spec: q^l, χ(q^l), q*, χ₁ and both predicted E‖δ^l‖².

    The output error is e ⊙ φ′(z^L) with e ~ N(0, I) (see :mod:`gradlab.theory.ensemble`),
    so E‖δ^L‖² = n_L E[φ′(√q^L z)²]; each step back multiplies it by χ(q^l)
    (Schoenholz et al. 2017, §3), or by χ₁ once q^l has reached q*.

    Returns
    -------
    dict
        ``q`` and ``chi`` of shape (L,), ``q_star``, ``chi1``, and the two
        predictions ``delta_sq_chi1`` and ``delta_sq_profile``, shape (L,).
    """
    L, act, sw2, sb2 = spec.depth, spec.activation, spec.sigma_w2, spec.sigma_b2
    q_in = spec.input_std**2
    q = theory.length_profile(act, sw2, sb2, L, q_in)  # (L,)
    chi = theory.chi_profile(act, sw2, sb2, L, q_in)  # (L,)
    qs = theory.q_star(act, sw2, sb2, q0=float(q[0]))
    chi1 = theory.chi1(act, sw2, sb2, q0=float(q[0]))
    with np.errstate(over="ignore", under="ignore"):
        fixed = spec.width * _mean_square_prime(act, qs) * theory.predicted_delta_sq(chi1, L)
        profile = spec.width * _mean_square_prime(act, float(q[-1]))
        profile = profile * theory.predicted_delta_sq_profile(act, sw2, sb2, L, q_in)
    return {
        "q": q,
        "chi": chi,
        "q_star": qs,
        "chi1": chi1,
        names.PROBE_DELTA_SQ_CHI1: fixed,
        names.PROBE_DELTA_SQ_PROFILE: profile,
    }


def grad_ratio(delta_sq: Array) -> Array:
    """√(E‖δ^l‖² / E‖δ^{l+1}‖²) for l = 1..L−1, NaN at l = L; shape (L,) as the input."""
    d = np.asarray(delta_sq, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.append(np.sqrt(d[:-1] / d[1:]), np.nan)


def _profile_frame(measured: Array, per_member: Array, predicted: dict, fit: tuple[int, int]):
    L = measured.shape[0]
    layer = np.arange(1, L + 1)  # (L,)
    frame = {
        "layer": layer,
        names.PROBE_DELTA_SQ: measured,
        "delta_sq_min": per_member.min(axis=0),
        "delta_sq_max": per_member.max(axis=0),
        names.PROBE_DELTA_SQ_CHI1: predicted[names.PROBE_DELTA_SQ_CHI1],
        names.PROBE_DELTA_SQ_PROFILE: predicted[names.PROBE_DELTA_SQ_PROFILE],
        names.PROBE_GRAD_RATIO: grad_ratio(measured),
        "q": predicted.get("q", np.full(L, np.nan)),
        "chi": predicted.get("chi", np.full(L, np.nan)),
        "in_fit": ((layer >= fit[0]) & (layer <= fit[1])).astype(int),
    }
    return pd.DataFrame(frame)[list(names.PROBE_COLUMNS)]


def _theory_summary(spec: ProbeSpec, mf: dict) -> dict[str, float]:
    chi1 = float(mf["chi1"])
    with np.errstate(divide="ignore"):
        ln_chi1 = float(np.log(chi1))
    return {
        names.CHI1: chi1,
        names.LN_CHI1: ln_chi1,
        names.Q_STAR: float(mf["q_star"]),
        names.SIGMA_W2: spec.sigma_w2,
    }


def measure_delta(spec: ProbeSpec) -> ProbeResult:
    """Kind ``delta``: :func:`gradlab.theory.ensemble.ensemble_backprop` with seed ``spec.seed``."""
    rng = np.random.default_rng(spec.seed)
    probe = ensemble.ensemble_backprop(
        rng,
        spec.width,
        spec.depth,
        spec.activation,
        spec.init,
        spec.gain,
        spec.bias_std,
        spec.members,
        spec.batch,
        input_std=spec.input_std,
    )
    mf = mean_field(spec)
    summary = _theory_summary(spec, mf)
    measured = math.exp(probe.log_slope)
    summary.update(
        {
            names.LOG_SLOPE: probe.log_slope,
            names.CHI1_MEASURED: measured,
            names.CHI1_REL_ERROR: measured / summary[names.CHI1] - 1.0,
            names.WIDTH_BETA: finite_width.beta([spec.width] * (spec.depth + 1)),
            names.LN_DELTA1_SQ_VAR: finite_width.log_variance(probe.delta1_sq_samples),
        }
    )
    frame = _profile_frame(probe.delta_sq, probe.delta_sq_members, mf, probe.fit_layers)
    return ProbeResult(frame, None, summary)


def measure_nielsen(spec: ProbeSpec) -> ProbeResult:
    """Kind ``nielsen``: one chain of width n (n copies of his single-neuron chain).

    The biases are built for one input x ~ N(0, I) (:func:`gradlab.theory.ensemble.nielsen_chain`);
    the injected error e ~ N(0, I) gives δ^L = e σ′(0) = e/4, and the
    prediction is ‖e‖²/16 · (w/4)^{2(L−l)}.
    """
    rng = np.random.default_rng(spec.seed)
    x = rng.standard_normal(spec.width)  # (n,)
    e = rng.standard_normal((1, 1, spec.width))  # (E = 1, batch 1, n_L)
    weights, biases = ensemble.nielsen_chain(spec.depth, x, spec.nielsen_w)
    with np.errstate(over="ignore"):
        d = ensemble.delta_sq(
            [w[None] for w in weights], [b[None] for b in biases], x[None, None], e, "sigmoid"
        )  # (1, L)
        factor = spec.nielsen_w * get_activation("sigmoid").phi_prime(np.zeros(1))[0]  # w σ′(0)
        predicted = np.sum(e**2) / 16.0 * theory.predicted_delta_sq(factor**2, spec.depth)
    ratios = grad_ratio(d[0])[:-1]  # (L−1,)
    fit = (1, spec.depth)  # no transient: every layer sits at z = 0
    summary = {
        names.LOG_SLOPE: ensemble.log_slope(d[0], *fit),
        names.NIELSEN_RATIO: float(np.exp(np.mean(np.log(ratios)))),
        names.NIELSEN_RATIO_PREDICTED: float(factor),
    }
    lines = {names.PROBE_DELTA_SQ_CHI1: predicted, names.PROBE_DELTA_SQ_PROFILE: predicted}
    return ProbeResult(_profile_frame(d[0], d, lines, fit), None, summary)


def measure_jacobian(spec: ProbeSpec) -> ProbeResult:
    """Kind ``jacobian``: singular values of J for ``members`` networks × ``batch`` inputs."""
    rng = np.random.default_rng(spec.seed)
    sizes = [spec.width] * (spec.depth + 1)
    weights, biases = ensemble.draw_ensemble(
        rng, sizes, spec.members, spec.init, spec.gain, spec.bias_std
    )
    x = spec.input_std * rng.standard_normal((spec.members, spec.batch, spec.width))  # (E, n, n_0)
    s = ensemble.jacobian_singular_values(weights, biases, x, spec.activation)  # (E, n, n)
    s2 = s**2
    mf = mean_field(spec)
    summary = _theory_summary(spec, mf)
    with np.errstate(divide="ignore", over="ignore"):
        condition = float(np.median(s[..., 0] / s[..., -1]))
        summary.update(
            {
                names.JACOBIAN_MEAN_S2: float(s2.mean()),
                names.JACOBIAN_MEAN_S2_PREDICTED: float(mf["chi1"]) ** spec.depth,
                names.JACOBIAN_S2_SPREAD: float(s2.var() / s2.mean() ** 2),
                names.JACOBIAN_CONDITION: condition,
            }
        )
    return ProbeResult(None, s, summary)


MEASURE = {"delta": measure_delta, "jacobian": measure_jacobian, "nielsen": measure_nielsen}


def measure(spec: ProbeSpec) -> ProbeResult:
    """Run the probe ``spec.kind`` describes; adds ``probe_seconds`` to the summary."""
    start = time.perf_counter()
    result = MEASURE[spec.kind](spec)
    result.summary[names.PROBE_SECONDS] = time.perf_counter() - start
    return result


def singular_value_frame(s: Array) -> pd.DataFrame:
    """Singular values (E, n, k) as a long table: member, sample, index (0 = largest), s."""
    E, n, k = s.shape
    member, sample, index = np.meshgrid(np.arange(E), np.arange(n), np.arange(k), indexing="ij")
    columns = (member.ravel(), sample.ravel(), index.ravel(), s.ravel())
    return pd.DataFrame(dict(zip(names.SINGULAR_VALUE_COLUMNS, columns, strict=True)))
