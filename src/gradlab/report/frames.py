"""The frames every figure reads, and the pure helpers that select and describe runs.

Frames
------
runs
    One row per training run: ``run_id``, ``run_name``, a bool ``diverged``,
    the summary metrics of :mod:`gradlab.names` (e.g. ``vanish_ratio``) and the
    config keys as typed columns (:data:`gradlab.track.read.PARAM_TYPES`).
    :func:`run_frame` builds it for one run from its flattened config.
history
    ``names.HISTORY_COLUMNS`` (step, epoch, phase, then every column of
    :data:`gradlab.names.COLUMNS`, one row per logged step × layer l = 1..L)
    plus ``run_id``; a single run's table may omit ``run_id``.
probes
    One row per probe run (``experiments/probe.py``): ``run_id``, ``run_name``,
    the params ``probe.kind``, ``probe.activation``, ``probe.init``,
    ``probe.depth``, ``probe.width``, ``probe.sigma_b2``, ``seed`` (typed) and
    the summary metrics of ``names.PROBE_SUMMARY_METRICS``.
profiles, singular
    Rows of ``names.PROBE_COLUMNS`` / ``names.SINGULAR_VALUE_COLUMNS`` plus ``run_id``.

Nothing here draws or reads MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gradlab.track.read import PARAM_TYPES, coerce_params

# ---- config keys the figures group by (flattened, as logged as MLflow params) ----
ACTIVATION, DEPTH, INIT, SEED = "model.activation", "model.depth", "model.init", "seed"
KIND, ACT, PINIT = "probe.kind", "probe.activation", "probe.init"
PDEPTH, WIDTH, SIGMA_B2 = "probe.depth", "probe.width", "probe.sigma_b2"
#: Keys that make two runs different experiments (seeds are repeats: aggregated).
SETUP_KEYS = (
    "model.activation",
    "model.depth",
    "model.init",
    "model.width",
    "model.gain",
    "model.bias_std",
    "model.output_activation",
    "model.dtype",
    "model.residual",
    "model.residual_scale",
    "model.norm",
    "data.name",
    "train.cost",
    "train.lr",
    "train.batch_size",
    "train.epochs",
    "train.weight_decay",
    "train.optimizer",
    "train.momentum",
    "train.clip_norm",
)
_SHORT = {"model.output_activation": "output", "model.bias_std": "bias std", "data.name": "data"}
#: Activations in the order the story is told; others follow alphabetically.
_ACT_ORDER = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "linear")
#: The initialisation each activation was designed with (panel default in the report).
NATURAL_INIT = {
    "sigmoid": "lecun_normal",  # Nielsen ch. 3: N(0, 1/n_in)
    "tanh": "xavier_normal",  # Glorot & Bengio 2010
    "relu": "he_normal",  # He et al. 2015
    "leaky_relu": "he_normal",
    "softplus": "he_normal",
    "linear": "lecun_normal",
}
BANDS = ("minmax", "iqr")


class NoDataError(ValueError):
    """The frames hold nothing this figure can draw (the message says what is missing)."""


def require(frame: pd.DataFrame | None, columns, what: str, *, empty_ok: bool = True):
    """``frame`` if it has ``columns`` (and, unless ``empty_ok``, a row); else NoDataError."""
    if not empty_ok and (frame is None or len(frame) == 0):
        raise NoDataError(f"there are no {what}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        cols = ", ".join(missing)
        raise NoDataError(f"the {what} frame needs column(s) {cols}; they are missing")
    return frame


def run_frame(
    params: Mapping[str, object],
    *,
    run_id: str = "run",
    run_name: str = "",
    diverged: bool = False,
) -> pd.DataFrame:
    """The one-row ``runs`` frame of a single run, from its flattened config.

    ``params`` maps dotted keys (``'model.depth'``) to values, as logged to
    MLflow; this is what a training run needs to draw its own figure 1.
    """
    row = {"run_id": run_id, "run_name": run_name or run_id, **params, "diverged": diverged}
    return coerce_params(
        pd.DataFrame([{k: str(v) if k in PARAM_TYPES else v for k, v in row.items()}])
    )


def activation_order(values) -> list:
    """The distinct activations in ``values``: sigmoid, tanh, relu, … then the rest A–Z."""
    present = list(dict.fromkeys(values))
    ranked = [a for a in _ACT_ORDER if a in present]
    return ranked + sorted(a for a in present if a not in ranked)


def sort_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Training runs in the report's order: activation (story order), init, depth, seed, start."""
    keys = [k for k in (ACTIVATION, INIT, DEPTH, SEED, "start_time") if k in runs]
    rank = {}
    if ACTIVATION in runs:
        rank[ACTIVATION] = {a: i for i, a in enumerate(activation_order(runs[ACTIVATION]))}
    return runs.sort_values(
        keys,
        key=lambda col: col.map(rank[col.name]) if col.name in rank else col,
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)


def format_value(value) -> str:
    """A config value for a label: integral floats without '.0', missing as '?'."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "?"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def short_key(key: str) -> str:
    """The last part of a dotted key ('model.depth' -> 'depth'), or its short name."""
    return _SHORT.get(key, key.rsplit(".", 1)[-1])


def varying(frame: pd.DataFrame, exclude) -> list[str]:
    """Set-up keys that take more than one value in ``frame``."""
    return [
        k
        for k in SETUP_KEYS
        if k in frame and k not in exclude and frame[k].astype(str).nunique() > 1
    ]


def constant_text(frame: pd.DataFrame, keys) -> str:
    """'depth 4, init he_normal' for the ``keys`` that take one value in ``frame``."""
    parts = [
        f"{short_key(k)} {format_value(frame[k].iloc[0])}"
        for k in keys
        if k in frame and frame[k].astype(str).nunique() == 1
    ]
    return ", ".join(parts)


def setup_text(runs: pd.DataFrame, exclude=()) -> str:
    """The set-up shared by every run, e.g. 'data digits, width 30, …, 3 seeds'."""
    keys = [k for k in SETUP_KEYS if k not in exclude and k != ACTIVATION]
    text = constant_text(runs, keys)
    if SEED in runs:
        n = runs[SEED].nunique()
        text += f"{', ' if text else ''}{n} seed{'s' if n != 1 else ''}"
    return text


def probe_setup(probes: pd.DataFrame) -> str:
    """'L 20, width 256, networks per run 8, 2 seed(s)' for what all probe runs share."""
    parts = []
    for key, label in ((PDEPTH, "L"), (WIDTH, "width"), ("probe.members", "networks per run")):
        if key in probes and probes[key].nunique() == 1:
            parts.append(f"{label} {format_value(probes[key].iloc[0])}")
    if SEED in probes:
        parts.append(f"{probes[SEED].nunique()} seed(s)")
    return ", ".join(parts)


def spread_edge(series: pd.Series, kind: str, lower: bool) -> float:
    """The lower or upper edge of the spread over seeds: min/max or the quartiles."""
    if kind == "iqr":
        return float(series.quantile(0.25 if lower else 0.75))
    return float(series.min() if lower else series.max())


def prepare(runs: pd.DataFrame, history: pd.DataFrame | None, need: tuple[str, ...]):
    """Check columns; give a single run's history its run_id; keep runs with history."""
    if runs is None or len(runs) == 0:
        raise NoDataError("there are no runs to plot")
    require(runs, ("run_id", *need), "runs")
    runs = runs.copy()
    if "diverged" not in runs:
        runs["diverged"] = False
    if "run_name" not in runs:
        runs["run_name"] = runs["run_id"]
    if history is None:
        return runs, None
    if "run_id" not in history:
        if len(runs) != 1:
            raise NoDataError("history without a run_id column only works for a single run")
        history = history.assign(run_id=runs["run_id"].iloc[0])
    require(history, ("run_id", "step", "phase", "layer"), "history")
    history = history[history["run_id"].isin(runs["run_id"])]
    if len(history) == 0:
        raise NoDataError("no run has a per-layer history table")
    return runs, history


# ---- selections the report uses ---------------------------------------------------


def natural_init_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation, the runs with its :data:`NATURAL_INIT` (else its most common init)."""
    require(runs, (ACTIVATION, INIT), "runs")
    keep = []
    for act, grp in runs.groupby(ACTIVATION, sort=False):
        want = NATURAL_INIT.get(act)
        counts = grp[INIT].value_counts()
        # else the most common init, ties broken by name so the choice is stable
        init = want if want in counts else min(counts.index[counts == counts.max()])
        keep.append(grp[grp[INIT] == init])
    return pd.concat(keep) if keep else runs.iloc[0:0]


def deepest_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation, the runs of the largest depth."""
    require(runs, (ACTIVATION, DEPTH), "runs")
    top = runs.groupby(ACTIVATION)[DEPTH].transform("max")
    return runs[runs[DEPTH] == top]


def pick_deep_run(runs: pd.DataFrame, activation: str = "sigmoid") -> str:
    """The run_id that best shows the speed-of-learning figure.

    Preference, in order: the given activation, a run that did not diverge, the
    activation's natural init, the largest depth, the smallest seed.
    """
    require(runs, ("run_id",), "runs")
    if len(runs) == 0:
        raise NoDataError("there are no runs to choose from")
    r = runs.copy()
    act = r[ACTIVATION] if ACTIVATION in r else pd.Series("", index=r.index)
    init = r[INIT] if INIT in r else pd.Series("", index=r.index)
    diverged = r["diverged"] if "diverged" in r else pd.Series(False, index=r.index)
    score = pd.DataFrame(
        {
            "act": act != activation,
            "div": diverged.astype(bool),
            "init": init != act.map(NATURAL_INIT),
            "depth": -pd.to_numeric(r.get(DEPTH, 0), errors="coerce").fillna(0),
            "seed": pd.to_numeric(r.get(SEED, 0), errors="coerce").fillna(0),
            "run_id": r["run_id"],
        }
    )
    return str(score.sort_values(list(score.columns)).iloc[0]["run_id"])
