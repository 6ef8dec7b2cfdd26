"""The `rnn_vs_lstm` figure: the adding problem against sequence length, tanh RNN against LSTM.

:func:`success_data` (pure) reads each ``rnn_vs_lstm`` run's test MSE over the
chance MSE 1/6 and calls the run a success below :data:`SUCCESS_RATIO`;
:func:`failure_lengths` gives, per network, the shortest length at which at most
half of the seeds succeed; :func:`error_profiles` takes the per-time-step errors
of the longest sequences, ‖δ_t‖ for the RNN and ‖∂C/∂h_t‖, ‖∂C/∂c_t‖ for the
LSTM, against the time gap; :func:`plot_rnn_vs_lstm` draws both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names
from gradlab.report.frames import NoDataError
from gradlab.report.style import OKABE_ITO, log_y, new_figure, positive

KIND, LENGTH, SEED = "model.kind", "data.length", "seed"
#: A run solves the adding problem if its test MSE is below a tenth of chance (1/60).
SUCCESS_RATIO = 0.1
COLOURS = {"rnn": OKABE_ITO[1], "lstm": OKABE_ITO[0]}


def success_data(runs: pd.DataFrame) -> pd.DataFrame:
    """``run_id``, ``kind``, ``length``, ``seed``, ``mse_ratio`` (test MSE / (1/6)) and
    ``success`` (mse_ratio < SUCCESS_RATIO), sorted by kind, length, seed."""
    need = [KIND, LENGTH, SEED, names.MSE_RATIO]
    if runs.empty or not set(need) <= set(runs.columns):
        raise NoDataError("the sweep has no recurrent run with a test MSE")
    out = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "kind": runs[KIND],
            "length": pd.to_numeric(runs[LENGTH]).astype(int),
            "seed": pd.to_numeric(runs[SEED]).astype(int),
            "mse_ratio": runs[names.MSE_RATIO].astype(float),
        }
    )
    out["success"] = out["mse_ratio"] < SUCCESS_RATIO
    return out.sort_values(["kind", "length", "seed"], ignore_index=True)


def failure_lengths(success: pd.DataFrame) -> dict[str, int | None]:
    """Per kind, the shortest length at which at most half of the seeds succeed (None:
    more than half succeed at every length)."""
    out: dict[str, int | None] = {}
    for kind, grp in success.groupby("kind"):
        share = grp.groupby("length")["success"].mean()
        failed = share[share <= 0.5]
        out[kind] = int(failed.index.min()) if len(failed) else None
    return out


def error_profiles(success: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """``kind``, ``seed``, ``phase``, ``quantity`` ('δ_t' RNN, 'δ_h', 'δ_c' LSTM),
    ``time_gap`` and ``value`` (rms over the probe batch), for the lowest seed at the
    longest length."""
    longest = success[success["length"] == success["length"].max()]
    first = longest.sort_values("seed").groupby("kind").head(1)
    rows = history.merge(first[["run_id", "kind", "seed"]], on="run_id")
    rows = rows[rows["phase"].isin([names.PHASE_INIT, names.PHASE_FINAL])]
    if rows.empty:
        raise NoDataError(f"no run of the longest length has its {names.ARTIFACT_TIME_HISTORY}")
    T = rows.groupby("run_id")["time_step"].transform("max")
    parts = []
    for column, label in (("delta_rms", None), ("delta_c_rms", "δ_c")):
        part = rows.assign(time_gap=T - rows["time_step"], value=rows[column])
        if label is None:
            part["quantity"] = np.where(part["kind"] == "rnn", "δ_t", "δ_h")
        else:
            part = part[part["kind"] == "lstm"].assign(quantity=label)
        parts.append(part[["kind", "seed", "phase", "quantity", "time_gap", "value"]])
    return pd.concat(parts, ignore_index=True)


def plot_rnn_vs_lstm(runs: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """Left: test MSE / chance against length, one point per seed and the median line;
    middle and right: the error against the time gap at initialisation and after training."""
    success = success_data(runs)
    profiles = error_profiles(success, history)
    fig = new_figure(13.0, 4.4)
    ax_mse, ax_init, ax_final = fig.subplots(1, 3)
    for kind, grp in success.groupby("kind", sort=False):
        c = COLOURS.get(kind, "k")
        ax_mse.plot(grp["length"], grp["mse_ratio"], "o", ms=4, color=c, alpha=0.6)
        med = grp.groupby("length")["mse_ratio"].median()
        ax_mse.plot(med.index, med.to_numpy(), "-", color=c, label=f"{kind} (median)")
    ax_mse.axhline(SUCCESS_RATIO, color="k", ls=":", lw=1, label="success below")
    ax_mse.axhline(1.0, color="grey", ls="--", lw=1, label="chance (predict 1)")
    ax_mse.set_xscale("log", base=2)
    ax_mse.set_xticks(sorted(success["length"].unique()))
    ax_mse.set_xticklabels([str(t) for t in sorted(success["length"].unique())])
    ax_mse.set_xlabel("sequence length T")
    ax_mse.set_ylabel("test MSE / chance MSE (1/6)")
    log_y(ax_mse)
    ax_mse.legend(fontsize=8)
    styles = {"δ_t": "-", "δ_h": "-", "δ_c": "--"}
    for ax, phase, what in ((ax_init, names.PHASE_INIT, "at initialisation"),
                            (ax_final, names.PHASE_FINAL, "after training")):  # fmt: skip
        sel = profiles[profiles["phase"] == phase]
        for (kind, qty), grp in sel.groupby(["kind", "quantity"], sort=False):
            ax.plot(grp["time_gap"], positive(grp["value"]), styles[qty],
                    color=COLOURS.get(kind, "k"), label=f"{kind} ‖{qty}‖")  # fmt: skip
        log_y(ax)
        ax.set_xlabel("time gap T − t")
        seed = int(profiles["seed"].min())
        ax.set_title(f"T = {success['length'].max()}, seed {seed}, {what}", fontsize=10)
        ax.legend(fontsize=8)
    ax_init.set_ylabel("rms over the probe batch")
    for ax in (ax_mse, ax_init, ax_final):
        ax.grid(True, which="major", alpha=0.3)
    data = pd.concat([success.assign(part="success"), profiles.assign(part="profile")],
                     ignore_index=True)  # fmt: skip
    return data, fig


def rnn_vs_lstm_text(data: pd.DataFrame) -> str:
    """Success per network and length, and the length at which each fails."""
    success = data[data["part"] == "success"]
    fail = failure_lengths(success)
    lines = []
    for kind, grp in success.groupby("kind", sort=False):
        per = grp.groupby("length").agg(ok=("success", "sum"), n=("success", "size"),
                                        med=("mse_ratio", "median"))  # fmt: skip
        cells = ", ".join(
            f"T = {int(t)}: {int(r.ok)}/{int(r.n)} (median {r.med:.3g})" for t, r in per.iterrows()
        )
        where = f"fails from T = {fail[kind]}" if fail.get(kind) else "succeeds at every length"
        lines.append(f"- {kind}: seeds solving (test MSE < chance/10): {cells}; {where}.")
    return "\n".join(lines)
