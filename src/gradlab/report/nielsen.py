"""Figure 9: Nielsen's speed of learning of each hidden layer (ch. 5), ours beside his.

:func:`nielsen_table` (his table at initialisation) and :func:`nielsen_series`
(every hidden layer against the SGD step) are pure; :func:`plot_nielsen_ch5`
draws them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gradlab import names
from gradlab.report.frames import DEPTH, SEED, NoDataError, format_value, require
from gradlab.report.style import OKABE_ITO, log_y, new_figure, positive, wrap

#: Nielsen (2015), "Neural Networks and Deep Learning", ch. 5, section "The vanishing
#: gradient problem": ‖δ^l‖ = ‖∂C/∂b^l‖ of each hidden layer at initialisation, averaged over
#: the first 1000 MNIST training images ([784, 30, …, 30, 10] sigmoid networks, N(0, 1/n_in)
#: weights, N(0, 1) biases, cross-entropy).  The book prints the two-layer values as
#: "0.07…" and "0.31…".
NIELSEN_MNIST = {2: (0.07, 0.31), 3: (0.012, 0.060, 0.283), 4: (0.003, 0.017, 0.070, 0.285)}
NIELSEN_SOURCE = (
    "http://neuralnetworksanddeeplearning.com/chap5.html#the_vanishing_gradient_problem"
)


def nielsen_table(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """‖∇b^l‖ of every hidden layer at initialisation, ours beside Nielsen's MNIST numbers.

    One row per hidden layer l of each depth (hidden layers = ``model.depth``):
    ``model.depth``, ``layer``, ``gradlab`` (median over seeds of the history's
    ``grad_b_norm`` at step 0), ``n_runs``, ``nielsen_mnist`` (NaN where he
    gives no number, e.g. one hidden layer).
    """
    runs = require(runs, ("run_id", DEPTH), "training runs", empty_ok=False)
    need = ("run_id", "phase", "layer", "grad_b_norm")
    history = require(history, need, "history", empty_ok=False)
    init = history[history["phase"] == names.PHASE_INIT].merge(runs[["run_id", DEPTH]], on="run_id")
    init = init[init["layer"] <= init[DEPTH]]  # hidden layers only: l = 1..depth
    if len(init) == 0:
        raise NoDataError("no run has its gradients at initialisation")
    table = (
        init.groupby([DEPTH, "layer"])
        .agg(gradlab=("grad_b_norm", "median"), n_runs=("run_id", "nunique"))
        .reset_index()
    )
    table["nielsen_mnist"] = [
        NIELSEN_MNIST.get(int(d), ())[int(l) - 1]
        if int(l) <= len(NIELSEN_MNIST.get(int(d), ()))
        else np.nan
        for d, l in zip(table[DEPTH], table["layer"], strict=True)
    ]
    return table


def nielsen_series(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """``source`` ('gradlab' | 'nielsen_mnist'), ``model.depth``, ``layer``, ``step``,
    ``value``: ours the median over seeds of ‖∇b^l‖ of each hidden layer at every
    logged step, his (:data:`NIELSEN_MNIST`) at step 0."""
    table = nielsen_table(runs, history)
    h = history.merge(runs[["run_id", DEPTH]], on="run_id")
    h = h[h["layer"] <= h[DEPTH]]
    # 'final' repeats the last step: one value per run, step and layer
    h = h.drop_duplicates(["run_id", "step", "layer"], keep="last")
    ours = h.groupby([DEPTH, "layer", "step"])["grad_b_norm"].median().rename("value")
    ours = ours.reset_index().assign(source="gradlab")
    his = table.dropna(subset=["nielsen_mnist"])[[DEPTH, "layer", "nielsen_mnist"]]
    his = his.rename(columns={"nielsen_mnist": "value"}).assign(step=0, source="nielsen_mnist")
    return pd.concat([ours, his], ignore_index=True)[["source", DEPTH, "layer", "step", "value"]]


def plot_nielsen_ch5(runs: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """Nielsen's speed of learning (ch. 5): ‖∇b^l‖ of each hidden layer, at init and in training.

    First panel (his table): ‖∇b^l‖ at initialisation against hidden layer l,
    one line per number of hidden layers, ours (filled, solid) beside his MNIST
    numbers (hollow, dashed).  Then one panel per network with 2, 3 and 4 hidden
    layers (his figures): ‖∇b^l‖ of every hidden layer against the SGD step,
    median over seeds.

    Returns
    -------
    data : DataFrame
        ``source`` ('gradlab' | 'nielsen_mnist'), ``model.depth``, ``layer``,
        ``step``, ``value``; Nielsen's rows are at step 0.
    fig : Figure
    """
    table = nielsen_table(runs, history)
    data = nielsen_series(runs, history)
    ours = data[data["source"] == "gradlab"]
    depths = sorted(int(d) for d in table[DEPTH].unique())
    trained = [d for d in depths if d >= 2]
    fig = new_figure(3.6 * (1 + len(trained)) + 0.6, 4.6)
    axes = fig.subplots(1, 1 + len(trained), squeeze=False)[0]
    _draw_table(axes[0], table, depths)
    for ax, depth in zip(axes[1:], trained, strict=True):
        d = ours[ours[DEPTH] == depth]
        for layer, grp in d.groupby("layer"):
            ax.plot(
                grp["step"],
                positive(grp["value"]),
                color=OKABE_ITO[(int(layer) - 1) % 7],
                label=f"hidden layer {layer}",
            )
        log_y(ax)
        ax.set_title(f"{depth} hidden layers, during training (his figure)", fontsize=10)
        ax.set_xlabel("SGD step (mini-batches of 10)")
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    setup = _train_setup(runs)
    fig.suptitle(
        wrap(
            "Speed of learning of each hidden layer (Nielsen, ch. 5), ours on 8×8 digits, "
            f"his on MNIST\n{setup}",
            fig.get_figwidth(),
        ),
        fontsize=11,
    )
    return data, fig


def _draw_table(ax, table: pd.DataFrame, depths: list[int]) -> None:
    """His table: ‖∇b^l‖ at initialisation, ours filled and solid, his hollow and dashed."""
    for i, depth in enumerate(depths):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        t = table[table[DEPTH] == depth]
        ax.plot(t["layer"], t["gradlab"], "o-", color=colour, label=f"{depth} hidden: gradlab")
        if t["nielsen_mnist"].notna().any():
            ax.plot(
                t["layer"],
                t["nielsen_mnist"],
                "o--",
                mfc="none",
                color=colour,
                label=f"{depth} hidden: Nielsen (MNIST)",
            )
    log_y(ax)
    ax.set_title("at initialisation (his table)", fontsize=10)
    ax.set_xlabel(r"hidden layer $l$")
    ax.set_ylabel(r"speed of learning $\|\nabla b^l\|$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)


def _train_setup(runs: pd.DataFrame) -> str:
    keys = (
        ("model.activation", ""),
        ("model.width", "width "),
        ("model.init", ""),
        ("model.bias_std", "bias std "),
        ("train.cost", ""),
        ("train.lr", "η = "),
        ("train.batch_size", "batch "),
        ("train.epochs", "epochs "),
        ("data.name", "data "),
    )
    parts = [
        f"{label}{format_value(runs[k].iloc[0])}"
        for k, label in keys
        if k in runs and runs[k].astype(str).nunique() == 1
    ]
    if SEED in runs:
        parts.append(f"{runs[SEED].nunique()} seed(s)")
    return ", ".join(parts)
