"""Every name a user sees in MLflow or on disk, defined once.

Metric names, tags, artifact file names and the history table's columns are
part of gradlab's interface: the UI groups charts by the prefix before ``/``,
and the report scripts find runs and files by these names.  Code elsewhere
imports them from here rather than retyping them.
"""

from __future__ import annotations

from gradlab.diagnostics import COLUMNS, PER_LAYER_METRICS

# ---- metrics -------------------------------------------------------------
#: Per-layer metric at every logged step, e.g. ``grad_b_norm/layer_003``.
PER_LAYER_QUANTITIES = PER_LAYER_METRICS
#: Profiles logged with step = layer l, so the MLflow chart is the curve vs layer.
PROFILE_QUANTITIES = (*PER_LAYER_METRICS, "sigma_prime_mean", "weight_spectral")
PROFILE_INIT = "profile_init"
PROFILE_FINAL = "profile_final"

VANISH_RATIO = "vanish_ratio"  # ‖∇b^1‖ / ‖∇b^L‖ at initialisation
DECAY_PER_LAYER = "decay_per_layer"  # geometric mean of ‖∇b^l‖/‖∇b^{l+1}‖ at init
TRAIN_LOSS = "train_loss"  # cost on the probe batch at the logged step
TEST_ACCURACY = "test_accuracy"  # classification data only
DIVERGED = "diverged"  # 0/1
DIVERGED_STEP = "diverged_step"  # SGD step at which a non-finite value appeared
DIVERGED_LAYER = "diverged_layer"  # layer l where it appeared
TRAIN_SECONDS = "train_seconds"
SUMMARY_METRICS = (
    VANISH_RATIO,
    DECAY_PER_LAYER,
    TRAIN_LOSS,
    TEST_ACCURACY,
    DIVERGED,
    TRAIN_SECONDS,
)


def layer_metric(quantity: str, layer: int) -> str:
    """``{quantity}/layer_{l:03d}``: one diagnostic of layer l over training steps."""
    return f"{quantity}/layer_{layer:03d}"


def profile_metric(prefix: str, quantity: str) -> str:
    """``profile_init/{quantity}`` or ``profile_final/{quantity}`` (step = layer l)."""
    return f"{prefix}/{quantity}"


# ---- tags ----------------------------------------------------------------
TAG_SWEEP_ID = "gradlab.sweep_id"  # shared by a multirun's parent and children
TAG_CONFIG_HASH = "gradlab.config_hash"  # hash of the resolved job config (resume)
TAG_VERSION = "gradlab.version"
TAG_GIT_COMMIT = "gradlab.git_commit"
TAG_STATUS = "status"  # "ok" | "diverged"
TAG_KIND = "gradlab.kind"  # "train" | "probe" | "sweep"
TAG_ERROR = "gradlab.error"  # one-line reason a job failed
TAG_PRESET = "gradlab.preset"  # the +experiment=NAME preset a sweep was launched with
STATUS_OK = "ok"
STATUS_DIVERGED = "diverged"

# ---- artifacts -----------------------------------------------------------
ARTIFACT_CONFIG = "config.yaml"  # the resolved job config
ARTIFACT_HISTORY = "history.csv"  # every logged step × layer × diagnostic
ARTIFACT_FIGURE = "gradient_vs_layer.png"  # the run's own figure 1

# ---- history table -------------------------------------------------------
#: phase of a history row: at initialisation, during training, after the last step
PHASE_INIT, PHASE_TRAIN, PHASE_FINAL = "init", "train", "final"
HISTORY_COLUMNS = ("step", "epoch", "phase", *COLUMNS)
