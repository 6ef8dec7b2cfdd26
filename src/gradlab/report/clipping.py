"""The `rnn_clipping` figure: exploding gradients through time and gradient-norm clipping.

:func:`clipping_data` (pure) joins each ``rnn_clipping`` run's per-optimiser-step
log (mini-batch cost, pre-clip ‖∇θ‖₂, clipped or not) with its clipping
threshold; :func:`plot_clipping` draws the cost, the pre-clip norm and the
running share of clipped steps against the step, one colour per setting
(Pascanu, Mikolov & Bengio 2013, fig. 6 in spirit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names
from gradlab.report.frames import NoDataError
from gradlab.report.style import OKABE_ITO, log_y, new_figure, positive

CLIP, SEED = "train.clip_norm", "seed"
#: Steps in the running median of the mini-batch cost (one epoch of the preset).
SMOOTH = 40


def _setting(clip: float) -> str:
    return "no clipping" if np.isnan(clip) else f"clip ‖∇θ‖₂ at {clip:g}"


def clipping_data(runs: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """``run_id``, ``setting``, ``clip_norm`` (NaN: none), ``seed``, the columns of
    ``names.STEP_COLUMNS``, ``loss_smooth`` (running median over :data:`SMOOTH` steps)
    and ``clipped_share`` (share of steps 1..step that were clipped)."""
    meta = runs[["run_id", CLIP, SEED]].assign(
        clip_norm=lambda r: pd.to_numeric(r[CLIP], errors="coerce"),
        seed=lambda r: pd.to_numeric(r[SEED]),
    )[["run_id", "clip_norm", "seed"]]
    table = steps.merge(meta, on="run_id")
    if table.empty:
        raise NoDataError(f"no run of the sweep has its {names.ARTIFACT_STEPS}")
    table = table.sort_values(["clip_norm", "seed", "step"], na_position="first", kind="stable")
    table["setting"] = table["clip_norm"].map(_setting)
    by_run = table.groupby("run_id", sort=False)
    table["loss_smooth"] = by_run[names.STEP_LOSS].transform(
        lambda v: v.rolling(SMOOTH, min_periods=1).median()
    )
    table["clipped_share"] = by_run[names.CLIPPED].cumsum() / table["step"]
    cols = ["run_id", "setting", "clip_norm", "seed", *names.STEP_COLUMNS]
    return table[[*cols, "loss_smooth", "clipped_share"]].reset_index(drop=True)


def clipping_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting: runs, median test MSE / chance, median and largest pre-clip ‖∇θ‖₂,
    median share of steps clipped (from the runs' summary metrics)."""
    frame = runs.assign(clip_norm=pd.to_numeric(runs[CLIP], errors="coerce"))
    frame["setting"] = frame["clip_norm"].map(_setting)
    return (
        frame.groupby("setting", sort=False)
        .agg(
            runs=("run_id", "size"),
            mse_ratio=(names.MSE_RATIO, "median"),
            grad_norm_median=(names.GRAD_NORM_MEDIAN, "median"),
            grad_norm_max=(names.GRAD_NORM_MAX, "max"),
            clipped_frac=(names.CLIPPED_FRAC, "median"),
        )
        .reset_index()
    )


def plot_clipping(runs: pd.DataFrame, steps: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """Three panels against the optimiser step: mini-batch cost (running median),
    pre-clip ‖∇θ‖₂ (log axis, threshold dotted) and the running share of clipped steps;
    one colour per setting, one line per seed."""
    data = clipping_data(runs, steps)
    settings = list(dict.fromkeys(data["setting"]))
    colour = {s: OKABE_ITO[i % len(OKABE_ITO)] for i, s in enumerate(settings)}
    fig = new_figure(13.0, 4.2)
    ax_loss, ax_norm, ax_share = fig.subplots(1, 3)
    for _, grp in data.groupby("run_id", sort=False):
        setting = grp["setting"].iloc[0]
        c = colour[setting]
        first = grp["seed"].iloc[0] == data[data["setting"] == setting]["seed"].min()
        label = setting if first else None
        ax_loss.plot(grp["step"], grp["loss_smooth"], color=c, lw=1, label=label)
        ax_norm.plot(grp["step"], positive(grp[names.GRAD_NORM]), color=c, lw=0.6, alpha=0.7)
        ax_share.plot(grp["step"], grp["clipped_share"], color=c, lw=1)
    for clip in data["clip_norm"].dropna().unique():
        ax_norm.axhline(clip, color="k", ls=":", lw=1)
    ax_loss.axhline(1 / 12, color="grey", ls="--", lw=1, label="chance: ½·(1/6)")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel(f"mini-batch cost ½(ŷ − y)², running median of {SMOOTH} steps")
    ax_loss.legend(fontsize=8)
    log_y(ax_norm)
    ax_norm.set_ylabel("‖∇θ‖₂ before clipping")
    ax_share.set_ylabel("share of steps 1..s clipped")
    ax_share.set_ylim(-0.02, 1.02)
    for ax in (ax_loss, ax_norm, ax_share):
        ax.set_xlabel("optimiser step s")
        ax.grid(True, alpha=0.3)
    fig.suptitle("Exploding regime (tanh RNN, ρ(W_hh) = 3): SGD with and without clipping",
                 fontsize=10)  # fmt: skip
    return data, fig


def clipping_text(data: pd.DataFrame) -> str:
    """Per setting: the largest pre-clip norm, the share of steps clipped and the last
    smoothed cost, median over seeds."""
    lines = []
    for setting, grp in data.groupby("setting", sort=False):
        last = grp.sort_values("step").groupby("run_id").tail(1)
        late = grp[grp["step"] > grp["step"].max() // 4]  # after the first quarter
        lines.append(
            f"- {setting}: largest pre-clip ‖∇θ‖₂ {grp[names.GRAD_NORM].max():.4g}, median "
            f"{grp[names.GRAD_NORM].median():.3g}; {last['clipped_share'].median():.0%} of steps "
            f"clipped; smoothed cost after the first quarter of training at most "
            f"{late['loss_smooth'].max():.3g}, at the end {last['loss_smooth'].median():.3g} "
            f"(median over {len(last)} seeds; chance 1/12 ≈ 0.0833)."
        )
    return "\n".join(lines)
