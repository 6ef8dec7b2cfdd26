"""Figure 10: exploding gradients, Nielsen's chain and ReLU above the critical σ_w² = 2.

:func:`exploding_data` (pure) puts the chain's logged profile and each
exploding training run's rms δ at initialisation beside their predictions
(from :mod:`gradlab.theory`); :func:`plot_exploding` draws one panel each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gradlab import names, theory
from gradlab.report.frames import DEPTH, KIND, SEED, WIDTH, NoDataError, format_value
from gradlab.report.style import LAYER_AXIS, OKABE_ITO, log_y, new_figure, positive

PANELS = (
    ("nielsen_chain", "Nielsen's chain: w = 100, z = 0 in every layer"),
    ("relu", "ReLU, He weights × gain > 1, at initialisation"),
)


def exploding_data(
    runs: pd.DataFrame | None,
    history: pd.DataFrame | None,
    probes: pd.DataFrame | None,
    profiles: pd.DataFrame | None,
) -> pd.DataFrame:
    """``part`` ('nielsen_chain' | 'relu'), ``run_id``, ``line``, ``layer``, ``value``,
    ``predicted``, ``diverged``, ``diverged_step``, ``diverged_layer``.

    The chain: ‖δ^l‖ of the smallest seed's chain probe and its exact
    (w/4)^{L−l} ‖δ^L‖ as logged.  ReLU: rms_k ‖δ^l_k‖ of each training run at
    initialisation and χ₁^{(L−l)/2} times the measured value at layer L, with
    χ₁ from the run's init, gain, width and bias std (:func:`gradlab.theory.mlp_chi1`).
    """
    parts = [
        p for p in (_nielsen_chain(probes, profiles), _relu_growth(runs, history)) if p is not None
    ]
    if not parts:
        raise NoDataError("there is neither a Nielsen chain probe nor an exploding training run")
    return pd.concat(parts, ignore_index=True)


def plot_exploding(
    runs: pd.DataFrame | None,
    history: pd.DataFrame | None,
    probes: pd.DataFrame | None,
    profiles: pd.DataFrame | None,
) -> tuple[pd.DataFrame, Figure]:
    """Exploding gradients: Nielsen's chain, and ReLU trained above σ_w² = 2.

    Left: ‖δ^l‖ of Nielsen's chain (kind ``nielsen`` probe runs) against layer
    l, with the exact (w/4)^{L−l} ‖δ^L‖.  Right: the training runs (preset
    ``exploding``) at initialisation, rms_k ‖δ^l_k‖ against layer l with the
    mean-field √χ₁^{L−l} (χ₁ = σ_w²/2 = gain² for ReLU with He weights) from
    layer L; each run that diverged in training gets a ✕ on its curve at the
    layer where a value first overflowed and the SGD step and layer in the legend.

    Returns
    -------
    data : DataFrame
        ``part`` ('nielsen_chain' | 'relu'), ``run_id``, ``line``, ``layer``,
        ``value``, ``predicted``, ``diverged``, ``diverged_step``, ``diverged_layer``.
    fig : Figure
    """
    data = exploding_data(runs, history, probes, profiles)
    fig = new_figure(12.0, 5.4)
    axes = fig.subplots(1, 2)
    for ax, (part, what) in zip(axes, PANELS, strict=True):
        _draw_part(ax, data[data["part"] == part], what)
    axes[0].set_ylabel(r"$\|\delta^l\|$  (one input)")
    axes[1].set_ylabel(r"rms$_k\,\|\delta^l_k\|$ at initialisation")
    dashed = [
        Line2D(
            [],
            [],
            color="0.3",
            ls="--",
            lw=1,
            label=r"dashed: predicted, $(w/4)^{L-l}\,\|\delta^L\|$ "
            "(left), $\\chi_1^{(L-l)/2}$ from layer $L$ with $\\chi_1 = \\sigma_w^2/2$ (right)",
        )
    ]
    fig.legend(handles=dashed, loc="outside lower center", fontsize=8)
    fig.suptitle(
        "Exploding gradients: each layer multiplies the gradient by a factor > 1", fontsize=11
    )
    return data, fig


def _draw_part(ax, d: pd.DataFrame, what: str) -> None:
    """One panel: each line measured (solid) and predicted (dashed); a diverged run's ✕ sits
    on its layer where the overflow appeared (``diverged_layer``), or is left out."""
    ax.set_title(what, fontsize=10)
    ax.set_xlabel(LAYER_AXIS)
    ax.grid(True, which="major", alpha=0.3)
    if len(d) == 0:
        ax.text(0.5, 0.5, "no run of this kind in the store", ha="center", transform=ax.transAxes)
        return
    for i, (line, grp) in enumerate(d.groupby("line", sort=False)):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        grp = grp.sort_values("layer")
        r = grp.iloc[0]
        at = grp[grp["layer"] == r["diverged_layer"]]  # where the overflow appeared
        label = line
        if r["diverged"]:
            label += f"\n{'✕ ' if len(at) else ''}diverged in training: step "
            label += format_value(r["diverged_step"])
            label += f", layer {format_value(r['diverged_layer'])}" if len(at) else ""
        ax.plot(grp["layer"], positive(grp["value"]), "o-", ms=3.5, color=colour, label=label)
        ax.plot(grp["layer"], positive(grp["predicted"]), "--", color=colour, lw=1)
        if r["diverged"] and len(at):
            ax.plot(at["layer"], at["value"], "x", color="k", ms=10, mew=2)
    log_y(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7, loc="upper right", framealpha=0.9)


def _nielsen_chain(probes, profiles) -> pd.DataFrame | None:
    if probes is None or profiles is None or KIND not in probes:
        return None
    chain = probes[probes[KIND] == "nielsen"]
    if len(chain) == 0:
        return None
    first = chain.sort_values([SEED, "run_id"]).iloc[0]  # one chain: the smallest seed
    p = profiles[profiles["run_id"] == first["run_id"]].sort_values("layer")
    if len(p) == 0:
        return None
    w = format_value(first.get("probe.nielsen_w", 100))
    return pd.DataFrame(
        {
            "part": "nielsen_chain",
            "run_id": first["run_id"],
            "line": f"sigmoid, w = {w}, width {format_value(first[WIDTH])}, seed {first[SEED]}",
            "layer": p["layer"].to_numpy(),
            "value": np.sqrt(p[names.PROBE_DELTA_SQ].to_numpy()),
            "predicted": np.sqrt(p[names.PROBE_DELTA_SQ_CHI1].to_numpy()),
            "diverged": False,
            "diverged_step": np.nan,
            "diverged_layer": np.nan,
        }
    )


def _relu_growth(runs, history) -> pd.DataFrame | None:
    if runs is None or history is None or len(runs) == 0 or len(history) == 0:
        return None
    h = history[history["phase"] == names.PHASE_INIT]
    out = []
    for _, r in runs.iterrows():
        hh = h[h["run_id"] == r["run_id"]].sort_values("layer")
        if len(hh) == 0:
            continue
        sw2, _, chi1 = theory.mlp_chi1(
            str(r["model.activation"]),
            str(r["model.init"]),
            float(r.get("model.gain", 1.0)),
            int(r.get("model.width", 1)),
            float(r.get("model.bias_std", 0.0)),
        )
        value = hh["delta_rms"].to_numpy(dtype=float)
        layers = hh["layer"].to_numpy(dtype=int)
        ratio = theory.predicted_norm_from_output(chi1, int(layers.max()))  # (L,)
        predicted = value[-1] * ratio[layers - 1]
        out.append(
            pd.DataFrame(
                {
                    "part": "relu",
                    "run_id": r["run_id"],
                    "line": f"σ_w² = {sw2:.3g} (χ₁ = {chi1:.3g}), depth {format_value(r[DEPTH])}",
                    "layer": hh["layer"].to_numpy(),
                    "value": value,
                    "predicted": predicted,
                    "diverged": bool(r.get("diverged", False)),
                    "diverged_step": r.get(names.DIVERGED_STEP, np.nan),
                    "diverged_layer": r.get(names.DIVERGED_LAYER, np.nan),
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else None
