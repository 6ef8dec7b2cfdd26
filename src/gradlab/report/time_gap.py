"""The `rnn_time_gap` figure: error against time gap T − t at initialisation, and its bound.

:func:`time_gap_data` (pure) puts each ``rnn_time_gap`` run's rms ‖δ_t‖ and its
bound, both divided by ‖δ_T‖, beside the time gap; :func:`time_gap_summary`
reduces each run to its measured factor per step and the bound's factor
r = sup|φ′|·‖W_hh‖₂; :func:`plot_time_gap` draws one panel per activation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names
from gradlab.report.frames import NoDataError
from gradlab.report.style import OKABE_ITO, log_y, new_figure, positive

ACTIVATION, RHO = "model.activation", "model.spectral_radius"


def time_gap_data(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """``run_id``, ``activation``, ``rho``, ``time_gap`` (T − t), ``ratio`` (‖δ_t‖/‖δ_T‖),
    ``bound_ratio`` (bound_t/‖δ_T‖) and ``factor`` (sup|φ′|·‖W_hh‖₂), from the init rows.

    With the cost on ŷ_T only, bound_ratio is r^{T−t} (:data:`gradlab.names.TIME_COLUMNS`).
    """
    init = history[history["phase"] == names.PHASE_INIT]
    meta = runs[["run_id", ACTIVATION, RHO, names.BOUND_PER_STEP]]
    table = init.merge(meta, on="run_id")
    if table.empty:
        raise NoDataError(f"no run of the sweep has its {names.ARTIFACT_TIME_HISTORY}")
    parts = []
    for run_id, grp in table.groupby("run_id", sort=False):
        grp = grp.sort_values("time_step")
        T = int(grp["time_step"].max())
        last = float(grp["delta_rms"].iloc[-1])
        parts.append(
            pd.DataFrame(
                {
                    "run_id": run_id,
                    "activation": grp[ACTIVATION].to_numpy(),
                    "rho": pd.to_numeric(grp[RHO]).to_numpy(),
                    "time_gap": T - grp["time_step"].to_numpy(),
                    "ratio": grp["delta_rms"].to_numpy() / last,
                    "bound_ratio": grp["bound"].to_numpy() / last,
                    "factor": grp[names.BOUND_PER_STEP].to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["activation", "rho", "time_gap"], kind="stable", ignore_index=True)


def time_gap_summary(data: pd.DataFrame) -> pd.DataFrame:
    """One row per run: ``activation``, ``rho``, ``factor`` (the bound's r), ``measured``
    ((‖δ_1‖/‖δ_T‖)^{1/(T−1)}, the geometric-mean factor per step) and ``measured / factor``."""
    rows = []
    for (act, rho), grp in data.groupby(["activation", "rho"], sort=False):
        gap = grp["time_gap"].to_numpy()
        far = grp["ratio"].to_numpy()[np.argmax(gap)]
        measured = float(far ** (1.0 / gap.max()))
        factor = float(grp["factor"].iloc[0])
        rows.append((act, rho, factor, measured, measured / factor))
    return pd.DataFrame(rows, columns=["activation", "rho", "factor", "measured", "of_bound"])


def plot_time_gap(runs: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """‖δ_t‖/‖δ_T‖ against T − t (log axis), one panel per activation, one colour per ρ;
    dashed: the bound r^{T−t} with r = sup|φ′|·‖W_hh‖₂ = sup|φ′|·ρ (orthogonal W_hh)."""
    data = time_gap_data(runs, history)
    activations = list(dict.fromkeys(data["activation"]))
    rhos = sorted(data["rho"].unique())
    colour = {r: OKABE_ITO[i % len(OKABE_ITO)] for i, r in enumerate(rhos)}
    fig = new_figure(4.2 * len(activations), 4.4)
    axes = np.atleast_1d(fig.subplots(1, len(activations), sharey=True))
    for ax, act in zip(axes, activations, strict=True):
        for rho in rhos:
            grp = data[(data["activation"] == act) & (data["rho"] == rho)]
            if grp.empty:
                continue
            r = float(grp["factor"].iloc[0])
            ax.plot(grp["time_gap"], positive(grp["ratio"]), "o-", ms=2.5, color=colour[rho],
                    label=f"ρ = {rho:g} (r = {r:.3g})")  # fmt: skip
            ax.plot(grp["time_gap"], positive(grp["bound_ratio"]), "--", lw=1, color=colour[rho])
        log_y(ax)
        ax.set_title(f"{act}: sup|φ′| = {_sup(data, act):g}", fontsize=10)
        ax.set_xlabel("time gap T − t")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel(r"rms $\|\delta_t\|$ / rms $\|\delta_T\|$ at initialisation")
    fig.suptitle(
        "Error against time gap, solid: measured, dashed: bound (sup|φ′|·‖W_hh‖₂)^{T−t}",
        fontsize=10,
    )
    return data, fig


def _sup(data: pd.DataFrame, activation: str) -> float:
    grp = data[data["activation"] == activation]
    return float((grp["factor"] / grp["rho"]).iloc[0])


def time_gap_text(data: pd.DataFrame) -> str:
    """Measured factor per step against the bound's, per activation and ρ."""
    lines = []
    for act, grp in time_gap_summary(data).groupby("activation", sort=False):
        pairs = ", ".join(
            f"ρ = {r.rho:g}: {r.measured:.6g} (bound {r.factor:.6g})" for r in grp.itertuples()
        )
        lines.append(f"- {act}, measured factor per step (‖δ_1‖/‖δ_T‖)^(1/(T−1)): {pairs}.")
    return "\n".join(lines)
