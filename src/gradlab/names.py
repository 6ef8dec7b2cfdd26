"""Every name a user sees in MLflow or on disk, defined once.

Metric names, tags, artifact file names and the history table's columns are
part of gradlab's interface: the UI groups charts by the prefix before ``/``,
and the report scripts find runs and files by these names.  Code elsewhere
imports them from here rather than retyping them.
"""

from __future__ import annotations

# ---- the per-layer table (gradlab.engine.diagnostics.layer_table) ---------
#: Column → formula.  This is the one documentation of every diagnostic.
COLUMNS: dict[str, str] = {
    "layer": "l, 1..L (L = output layer)",
    "width": "n_l, units in layer l",
    "grad_b_norm": "‖∇b^l‖₂, Nielsen's 'speed of learning' of layer l",
    "grad_w_norm": "‖∇W^l‖_F",
    "delta_rms": "sqrt((1/n) Σ_k ‖δ^l_k‖²), the typical size of one sample's error",
    "sigma_prime_mean": "(1/(n·n_l)) Σ_{k,j} φ′(z^l_kj)",
    "saturated_frac": (
        "share of units j with (1/n) Σ_k φ′(z^l_kj) < 0.1·sup|φ′| "
        "(saturated sigmoid/tanh units; dead or nearly dead ReLU units)"
    ),
    "act_mean": "mean of a^l over samples and units",
    "act_std": "standard deviation of a^l over samples and units",
    "weight_norm": "‖W^l‖_F",
    "weight_spectral": (
        "‖W^l‖₂, largest singular value (warm-started Lanczos; exact for layers of ≤ 64 units)"
    ),
    "bound": (
        "‖δ^L‖ · Π_{k=l+1..L} sup|φ′| · ‖W^k‖₂ taken per sample and reported as an "
        "rms like delta_rms; since δ^l = (W^{l+1})ᵀδ^{l+1} ⊙ φ′(z^l), delta_rms ≤ bound "
        "(the rigorous form of Nielsen's (1/4)^{L−l} heuristic for the sigmoid)"
    ),
}

#: Columns the training loop adds to each logged step's layer table (not the engine's:
#: they describe the updates, which a single backprop does not know).
UPDATE_COLUMNS: dict[str, str] = {
    "update_ratio": (
        "‖ΔW^l‖_F / ‖W^l‖_F of the updates actually applied (optimiser, clipping and "
        "weight decay included), mean over the steps since the previous logged step; "
        "NaN at initialisation"
    ),
}

# ---- the per-time-step table (gradlab.engine.time_diagnostics.time_table) --
#: Column → formula for recurrent networks, one row per step t = 1..T.  Columns that
#: only one of the two networks has are NaN for the other.
TIME_COLUMNS: dict[str, str] = {
    "step": "t, 1..T (T = last step)",
    "delta_rms": (
        "sqrt((1/n) Σ_k ‖δ_t,k‖²) with δ_t = ∂C_k/∂z_t (RNN) or ∂C_k/∂h_t (LSTM), "
        "total derivatives through every later step"
    ),
    "delta_c_rms": "sqrt((1/n) Σ_k ‖∂C_k/∂c_t‖²), the LSTM's cell-state error (NaN for the RNN)",
    "grad_b_norm": (
        "‖(1/n) Σ_k δ_t,k‖₂, step t's share of ∇b_h (RNN) or of ∇b with the gates' "
        "pre-activation errors (LSTM)"
    ),
    "bound": (
        "RNN: rms over samples of B_t = ‖e_t‖ + sup|φ′|·‖W_hh‖₂·B_{t+1} (B_{T+1} = 0), "
        "e_t = ((W_hy)ᵀ ∂C_k/∂ŷ_t) ⊙ φ′(z_t); delta_rms ≤ bound, and with the cost on ŷ_T "
        "only it is ‖δ_T‖ (sup|φ′|·‖W_hh‖₂)^{T−t}.  NaN for the LSTM"
    ),
    "sigma_prime_mean": "mean over samples and units of φ′(z_t) (RNN) or tanh′(c_t) (LSTM)",
    "saturated_frac": (
        "share of units j whose batch mean of φ′(z_t,j) (RNN) or tanh′(c_t,j) (LSTM) "
        "is < 0.1·sup|φ′| (saturated sigmoid/tanh units; dead ReLU units)"
    ),
    "act_mean": "mean of h_t over samples and units",
    "act_std": "standard deviation of h_t over samples and units",
    "forget_mean": "mean over samples and units of the LSTM's forget gate f_t (NaN for the RNN)",
}


# ---- metrics -------------------------------------------------------------
#: Per-time-step columns logged as profiles of a recurrent run (step = time step t);
#: columns that are NaN for the run's network (RNN or LSTM) are left out.
TIME_PROFILE_QUANTITIES = (
    "delta_rms",
    "delta_c_rms",
    "grad_b_norm",
    "bound",
    "sigma_prime_mean",
    "saturated_frac",
    "forget_mean",
)
#: Diagnostics logged per layer at every logged step, e.g. ``grad_b_norm/layer_003``.
PER_LAYER_QUANTITIES = (
    "grad_b_norm",
    "grad_w_norm",
    "delta_rms",
    "saturated_frac",
    "bound",
    "update_ratio",
)
#: Profiles logged with step = layer l, so the MLflow chart is the curve vs layer.
PROFILE_QUANTITIES = (*PER_LAYER_QUANTITIES, "sigma_prime_mean", "weight_spectral")
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
#: Global 2-norm ‖g‖ of all gradients of a step, before any clipping: at each logged step
#: the mean over the steps since the previous one; as a summary the median over all steps.
GRAD_NORM = "grad_norm"
GRAD_NORM_MEDIAN = "grad_norm_median"
SUMMARY_METRICS = (
    VANISH_RATIO,
    DECAY_PER_LAYER,
    TRAIN_LOSS,
    TEST_ACCURACY,
    DIVERGED,
    TRAIN_SECONDS,
    GRAD_NORM_MEDIAN,
)
CLIP_FRACTION = "clip_fraction"  # share of steps whose gradient train.clip_norm rescaled
#: Summary metrics of runs with train.clip_norm set only.
CLIP_METRICS = (CLIP_FRACTION,)


def layer_metric(quantity: str, layer: int) -> str:
    """``{quantity}/layer_{l:03d}``: one diagnostic of layer l over training steps."""
    return f"{quantity}/layer_{layer:03d}"


def profile_metric(prefix: str, quantity: str) -> str:
    """``profile_init/{quantity}`` or ``profile_final/{quantity}`` (step = layer l)."""
    return f"{prefix}/{quantity}"


# ---- recurrent runs (model=rnn | lstm) ------------------------------------
MODEL_KIND = "model.kind"  # the config key (and MLflow param) that names the model kind
RECURRENT_KINDS = ("rnn", "lstm")  # its values for gradlab.RNN and gradlab.LSTM
GRAD_NORM = "grad_norm"  # global ‖∇θ‖₂ of each SGD step's mini-batch, before clipping
CLIPPED = "clipped"  # 0/1 per SGD step: train.clip_norm rescaled that step's gradient
STEP_LOSS = "step_loss"  # cost of each SGD step's mini-batch
TEST_MSE = "test_mse"  # mean (ŷ_T − y)² on the test set (regression tasks: adding)
CHANCE_MSE = "chance_mse"  # the MSE of always predicting 1 on the adding problem: 1/6
MSE_RATIO = "mse_ratio"  # test_mse / chance_mse: 1 = chance, 0 = solved
GRAD_NORM_MEDIAN = "grad_norm_median"  # median over SGD steps of the pre-clip ‖∇θ‖₂
GRAD_NORM_MAX = "grad_norm_max"  # largest pre-clip ‖∇θ‖₂ over SGD steps
CLIPPED_FRAC = "clipped_frac"  # share of SGD steps whose gradient was clipped
TIME_VANISH_RATIO = "time_vanish_ratio"  # ‖δ_1‖ / ‖δ_T‖ (rms over samples) at initialisation
DECAY_PER_STEP = "decay_per_step"  # (‖δ_1‖/‖δ_T‖)^{1/(T−1)} at initialisation
BOUND_PER_STEP = "bound_per_step"  # RNN: sup|φ′|·‖W_hh‖₂ at initialisation
W_HH_SPECTRAL_NORM = "w_hh_spectral_norm"  # RNN: ‖W_hh‖₂ at initialisation
W_HH_SPECTRAL_RADIUS = "w_hh_spectral_radius"  # RNN: max |eigenvalue| of W_hh at init
SEQUENCE_SUMMARY_METRICS = (
    TRAIN_LOSS,
    TEST_ACCURACY,
    TEST_MSE,
    CHANCE_MSE,
    MSE_RATIO,
    GRAD_NORM_MEDIAN,
    GRAD_NORM_MAX,
    CLIPPED_FRAC,
    TIME_VANISH_RATIO,
    DECAY_PER_STEP,
    BOUND_PER_STEP,
    W_HH_SPECTRAL_NORM,
    W_HH_SPECTRAL_RADIUS,
    DIVERGED,
    TRAIN_SECONDS,
)

# ---- tags ----------------------------------------------------------------
TAG_SWEEP_ID = "gradlab.sweep_id"  # shared by a multirun's parent and children
TAG_CONFIG_HASH = "gradlab.config_hash"  # hash of the resolved job config (resume)
TAG_VERSION = "gradlab.version"
TAG_GIT_COMMIT = "gradlab.git_commit"
TAG_STATUS = "status"  # "ok" | "diverged"
TAG_KIND = "gradlab.kind"  # "train" | "probe" | "sweep"
TAG_ERROR = "gradlab.error"  # one-line reason a job failed
TAG_PRESET = "gradlab.preset"  # the +experiment=NAME preset a sweep was launched with
TAG_BLAS_THREADS = "gradlab.blas_threads"  # BLAS threads the job trained with
#: Experiment tag that makes MLflow ≥ 3 open the experiment in its "Model training"
#: view (runs table, charts) rather than the GenAI traces view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
STATUS_OK = "ok"
STATUS_DIVERGED = "diverged"

# ---- artifacts -----------------------------------------------------------
ARTIFACT_CONFIG = "config.yaml"  # the resolved job config
ARTIFACT_HISTORY = "history.csv"  # every logged step × layer × diagnostic
ARTIFACT_FIGURE = "gradient_vs_layer.png"  # the run's own figure 1

ARTIFACT_TIME_HISTORY = "time_history.csv"  # recurrent: every logged step × time step
ARTIFACT_STEPS = "steps.csv"  # recurrent: STEP_COLUMNS, one row per SGD step
ARTIFACT_TIME_FIGURE = "gradient_vs_time.png"  # recurrent: the run's ‖δ_t‖ against t

# ---- history table -------------------------------------------------------
#: phase of a history row: at initialisation, during training, after the last step
PHASE_INIT, PHASE_TRAIN, PHASE_FINAL = "init", "train", "final"
HISTORY_COLUMNS = ("step", "epoch", "phase", *COLUMNS, *UPDATE_COLUMNS)
#: A recurrent run's history: SGD step, epoch, phase, then the time table with its step
#: column t renamed ``time_step`` (t = 1..T), one row per logged step × time step.
TIME_HISTORY_COLUMNS = (
    "step",
    "epoch",
    "phase",
    "time_step",
    *(c for c in TIME_COLUMNS if c != "step"),
)
#: The per-SGD-step log of a recurrent run (artifact ARTIFACT_STEPS).
STEP_COLUMNS = ("step", STEP_LOSS, GRAD_NORM, CLIPPED)

# ---- the probe (experiments/probe.py): gradients at initialisation -------
#: Per-layer profiles of a probe run, logged as ``probe/{quantity}`` with step = layer l.
PROFILE_PROBE = "probe"
PROBE_DELTA_SQ = "delta_sq"  # measured E‖δ^l‖², mean over members and samples
PROBE_DELTA_SQ_CHI1 = "delta_sq_chi1"  # mean-field prediction at the fixed point: ∝ χ₁^{L−l}
PROBE_DELTA_SQ_PROFILE = "delta_sq_profile"  # transient-aware prediction: ∝ Π_{k≥l} χ(q^k)
PROBE_GRAD_RATIO = "grad_ratio"  # measured √(E‖δ^l‖² / E‖δ^{l+1}‖²), l = 1..L−1
PROBE_PROFILES = (PROBE_DELTA_SQ, PROBE_DELTA_SQ_CHI1, PROBE_DELTA_SQ_PROFILE, PROBE_GRAD_RATIO)
#: Columns of the probe's per-layer table (artifact ARTIFACT_PROBE), one row per layer l.
PROBE_COLUMNS = (
    "layer",  # l = 1..L
    PROBE_DELTA_SQ,
    "delta_sq_min",  # smallest and largest member's mean over samples of ‖δ^l_k‖²
    "delta_sq_max",
    PROBE_DELTA_SQ_CHI1,
    PROBE_DELTA_SQ_PROFILE,
    PROBE_GRAD_RATIO,  # NaN at l = L
    "q",  # mean-field length q^l of z^l from the inputs (theory.length_profile)
    "chi",  # χ(q^l) = σ_w² E[φ′(√q^l z)²], the per-layer factor at that length
    "in_fit",  # 1 if layer l enters the fitted slope
)

CHI1 = "chi1"  # mean-field χ₁ of the probed σ_w², σ_b² (theory.chi1)
LN_CHI1 = "ln_chi1"
Q_STAR = "q_star"
SIGMA_W2 = "sigma_w2"  # the σ_w² used (the config may say "critical")
LOG_SLOPE = "log_slope"  # measured ln of the per-layer factor of E‖δ^l‖² (compare ln_chi1)
CHI1_MEASURED = "chi1_measured"  # exp(log_slope)
CHI1_REL_ERROR = "chi1_rel_error"  # chi1_measured / chi1 − 1
NIELSEN_RATIO = "nielsen_ratio"  # geometric mean of the measured ‖δ^l‖/‖δ^{l+1}‖ of the chain
NIELSEN_RATIO_PREDICTED = "nielsen_ratio_predicted"  # w σ′(0) = w/4
JACOBIAN_MEAN_S2 = "jacobian_mean_s2"  # mean squared singular value of J = ∂a^L/∂a^0
JACOBIAN_MEAN_S2_PREDICTED = "jacobian_mean_s2_predicted"  # χ₁^L
JACOBIAN_S2_SPREAD = "jacobian_s2_spread"  # Var[s²] / E[s²]²: 0 for an isometry
JACOBIAN_CONDITION = "jacobian_condition"  # median over samples of s_max / s_min
#: β = Σ_j 1/n_j over the hidden widths (theory.finite_width.beta; Hanin 2018)
WIDTH_BETA = "beta"
#: Var[ln ‖δ^1_k‖²] over every member and sample (theory.finite_width.log_variance)
LN_DELTA1_SQ_VAR = "ln_delta1_sq_var"
PROBE_SECONDS = "probe_seconds"
PROBE_SUMMARY_METRICS = (
    CHI1,
    LN_CHI1,
    Q_STAR,
    SIGMA_W2,
    LOG_SLOPE,
    CHI1_MEASURED,
    CHI1_REL_ERROR,
    NIELSEN_RATIO,
    NIELSEN_RATIO_PREDICTED,
    JACOBIAN_MEAN_S2,
    JACOBIAN_MEAN_S2_PREDICTED,
    JACOBIAN_S2_SPREAD,
    JACOBIAN_CONDITION,
    WIDTH_BETA,
    LN_DELTA1_SQ_VAR,
    PROBE_SECONDS,
)

ARTIFACT_PROBE = "probe_profile.csv"  # PROBE_COLUMNS, one row per layer
ARTIFACT_SINGULAR_VALUES = "singular_values.csv"  # member, sample, index, s (kind=jacobian)
SINGULAR_VALUE_COLUMNS = ("member", "sample", "index", "s")

# ---- presets the report draws its theory figures from (conf/*/experiment/)
PRESET_MEAN_FIELD = "probe_mean_field"  # probe.py: measured vs predicted E‖δ^l‖²
PRESET_PHASE_DIAGRAM = "phase_diagram"  # probe.py: tanh over σ_w² × σ_b²
PRESET_JACOBIAN = "jacobian_spectrum"  # probe.py: Gaussian vs orthogonal J spectra
PRESET_NIELSEN_CH5 = "nielsen_ch5"  # train.py: Nielsen's speed of learning, ch. 5
PRESET_EXPLODING = "exploding"  # train.py: ReLU above σ_w² = 2 until it overflows
PRESET_TRAINABILITY = "trainability"  # train.py: tanh over σ_w² × depth, test accuracy
PRESET_WIDTH_VS_DEPTH = "width_vs_depth"  # probe.py: spread of ln‖δ^1‖² over depth × width
PRESET_RNN_TIME_GAP = "rnn_time_gap"  # train.py: ‖δ_t‖ against T − t at initialisation
PRESET_RNN_CLIPPING = "rnn_clipping"  # train.py: ρ > 1 with and without train.clip_norm
PRESET_RNN_VS_LSTM = "rnn_vs_lstm"  # train.py: adding problem against T, RNN and LSTM
RECURRENT_PRESETS = (PRESET_RNN_TIME_GAP, PRESET_RNN_CLIPPING, PRESET_RNN_VS_LSTM)
PRESET_REMEDIES = "remedies"  # train.py: depth × remedy for sigmoid and tanh on the digits
THEORY_PRESETS = (
    PRESET_MEAN_FIELD,
    PRESET_PHASE_DIAGRAM,
    PRESET_JACOBIAN,
    PRESET_NIELSEN_CH5,
    PRESET_EXPLODING,
    PRESET_TRAINABILITY,
    PRESET_WIDTH_VS_DEPTH,
    *RECURRENT_PRESETS,
    PRESET_REMEDIES,
)
