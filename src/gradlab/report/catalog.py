"""Every figure of the report: its stable file name, title, caption, data and drawing.

File names come from the fixed lists :data:`FIGURES` (1–4, from the training
sweep) and :data:`THEORY_FIGURES` (6 onward, from the presets), so
regenerating overwrites and the README can link a figure.  Figure 5 is the
summary table of :func:`gradlab.report.markdown.summary_table`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from gradlab import names
from gradlab.report import markdown
from gradlab.report.clipping import clipping_text, plot_clipping
from gradlab.report.delta_vs_layer import plot_measured_vs_predicted
from gradlab.report.exploding import plot_exploding
from gradlab.report.frames import INIT, NoDataError, deepest_runs, natural_init_runs, pick_deep_run
from gradlab.report.jacobian import plot_jacobian_spectrum
from gradlab.report.layer_figures import plot_gradient_vs_layer, plot_saturation
from gradlab.report.nielsen import plot_nielsen_ch5
from gradlab.report.phase_diagram import plot_phase_diagram
from gradlab.report.presets import SCRIPTS, Inputs
from gradlab.report.remedies import (
    accuracy_text,
    plot_remedy_accuracy,
    plot_remedy_gradients,
    plot_update_ratio,
)
from gradlab.report.rnn_vs_lstm import plot_rnn_vs_lstm, rnn_vs_lstm_text
from gradlab.report.speed import plot_gradient_heatmap, plot_speed_of_learning
from gradlab.report.time_gap import plot_time_gap, time_gap_text
from gradlab.report.trainability import plot_trainability, trainability_text
from gradlab.report.vanishing import plot_vanishing_vs_depth
from gradlab.report.width import plot_width_vs_depth, width_text


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the training sweep: a stable file name, a caption, what to draw and how."""

    name: str
    title: str
    caption: str
    select: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]  # (runs, history) -> runs
    draw: Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, object]]


def _with_history(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    chosen = runs[runs["run_id"].isin(history["run_id"])]
    if len(chosen) == 0:
        raise NoDataError(f"no run has its per-layer history ({names.ARTIFACT_HISTORY})")
    return chosen


def _natural(runs, history):
    return natural_init_runs(_with_history(runs, history))


def _deepest(runs, history):
    return deepest_runs(_with_history(runs, history))


def _speed_run(runs, history):
    chosen = _with_history(runs, history)
    return chosen[chosen["run_id"] == pick_deep_run(chosen)]


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "gradient_vs_layer",
        "Figure 1. Gradient magnitude against layer",
        "‖∇b^l‖ on a log axis against layer l, per activation (with its natural init), one "
        "line per depth, at initialisation and after training; dashed: the rigorous bound "
        "rms_k‖δ^L_k‖ Π_{m>l} sup|φ′| ‖W^m‖₂ (rms over the probe batch); dotted: Nielsen's "
        "(1/4)^{L−l} heuristic for the sigmoid, a reference slope and not a bound (points may "
        "lie above it); ✕ = diverged.",
        _natural,
        plot_gradient_vs_layer,
    ),
    FigureSpec(
        "gradient_vs_layer_by_init",
        "Figure 1b. Gradient magnitude against layer, by initialisation",
        "As figure 1 at the largest depth of each activation, one line per initialisation.",
        _deepest,
        lambda runs, history: plot_gradient_vs_layer(runs, history, line_by=INIT),
    ),
    FigureSpec(
        "vanishing_vs_depth",
        "Figure 2. Vanishing factor against depth",
        "‖∇b^1‖/‖∇b^L‖ at initialisation against depth, one line per activation × init "
        "(median over seeds, band min–max), with the (1/4)^depth reference.",
        lambda runs, history: runs,
        lambda runs, history: plot_vanishing_vs_depth(runs),
    ),
    FigureSpec(
        "speed_of_learning",
        "Figure 3a. Speed of learning of each layer",
        "‖∇b^l‖ of every layer against the SGD step for one deep run (Nielsen, ch. 5): "
        "the layers next to the input learn slowest.",
        _speed_run,
        plot_speed_of_learning,
    ),
    FigureSpec(
        "gradient_heatmap",
        "Figure 3b. Gradient magnitude per layer and step",
        "log10 ‖∇b^l‖ over layer l × SGD step for the run of figure 3a.",
        _speed_run,
        plot_gradient_heatmap,
    ),
    FigureSpec(
        "saturation",
        "Figure 4. Saturated and dead units",
        "Share of units per layer whose batch-mean φ′ is below 0.1·sup|φ′| (saturated "
        "sigmoid/tanh, dead ReLU), at initialisation and after training, as in figure 1.",
        _natural,
        plot_saturation,
    ),
)
FIGURE_NAMES = tuple(f.name for f in FIGURES)


@dataclass(frozen=True)
class TheoryFigure:
    """One theory figure: file name, caption, presets, how to draw and summarise it."""

    name: str
    title: str
    caption: str
    presets: tuple[str, ...]
    draw: Callable[[Inputs], tuple[pd.DataFrame, object]]
    text: Callable[[pd.DataFrame], str]


def _draw_mean_field(inp: Inputs):
    p = names.PRESET_MEAN_FIELD
    return plot_measured_vs_predicted(inp.runs(p), inp.profiles(p))


def _draw_phase(inp: Inputs):
    p = names.PRESET_PHASE_DIAGRAM
    return plot_phase_diagram(inp.runs(p), inp.optional(lambda: inp.profiles(p)))


def _draw_jacobian(inp: Inputs):
    p = names.PRESET_JACOBIAN
    return plot_jacobian_spectrum(inp.runs(p), inp.singular(p))


def _draw_nielsen(inp: Inputs):
    p = names.PRESET_NIELSEN_CH5
    return plot_nielsen_ch5(inp.runs(p), inp.history(p))


def _draw_exploding(inp: Inputs):
    p, mf = names.PRESET_EXPLODING, names.PRESET_MEAN_FIELD
    if inp.sweeps.get(p) is None and inp.sweeps.get(mf) is None:
        raise NoDataError(
            f"no sweep of preset `{p}` (ReLU above σ_w² = 2) or `{mf}` (Nielsen's chain) in "
            f"this experiment; record them with `python experiments/{SCRIPTS[p]} -m "
            f"+experiment={p}` and `python experiments/{SCRIPTS[mf]} -m +experiment={mf}`"
        )
    return plot_exploding(
        inp.optional(lambda: inp.runs(p)),
        inp.optional(lambda: inp.history(p)),
        inp.optional(lambda: inp.runs(mf)),
        inp.optional(lambda: inp.profiles(mf)),
    )


def _draw_trainability(inp: Inputs):
    return plot_trainability(inp.runs(names.PRESET_TRAINABILITY))


def _draw_width(inp: Inputs):
    return plot_width_vs_depth(inp.runs(names.PRESET_WIDTH_VS_DEPTH))


def _draw_time_gap(inp: Inputs):
    p = names.PRESET_RNN_TIME_GAP
    return plot_time_gap(inp.runs(p), inp.time_history(p))


def _draw_clipping(inp: Inputs):
    p = names.PRESET_RNN_CLIPPING
    return plot_clipping(inp.runs(p), inp.steps(p))


def _draw_rnn_vs_lstm(inp: Inputs):
    p = names.PRESET_RNN_VS_LSTM
    return plot_rnn_vs_lstm(inp.runs(p), inp.time_history(p))


def _draw_remedy_gradients(inp: Inputs):
    p = names.PRESET_REMEDIES
    return plot_remedy_gradients(inp.runs(p), inp.history(p))


def _draw_remedy_accuracy(inp: Inputs):
    return plot_remedy_accuracy(inp.runs(names.PRESET_REMEDIES))


def _draw_update_ratio(inp: Inputs):
    p = names.PRESET_REMEDIES
    return plot_update_ratio(inp.runs(p), inp.history(p))


THEORY_FIGURES: tuple[TheoryFigure, ...] = (
    TheoryFigure(
        "theory_delta_vs_layer",
        "Figure 6. Measured against predicted E‖δ^l‖² at initialisation",
        "E‖δ^l‖² per layer (log axis) for wide networks at initialisation, median over seeds, "
        "beside the mean-field χ₁^{L−l} line (solid) and its transient-aware version (dashed); "
        "one panel per activation and init, and Nielsen's 25× chain.",
        (names.PRESET_MEAN_FIELD,),
        _draw_mean_field,
        markdown.mean_field_text,
    ),
    TheoryFigure(
        "theory_phase_diagram",
        "Figure 7. Order-to-chaos phase diagram",
        "Measured per-layer growth rate of E‖δ^l‖² over σ_w² × σ_b² (left) and the predicted "
        "ln χ₁ (right), with the critical line χ₁ = 1: ordered phase (vanishing) on one "
        "side, chaotic phase (exploding) on the other.",
        (names.PRESET_PHASE_DIAGRAM,),
        _draw_phase,
        markdown.phase_text,
    ),
    TheoryFigure(
        "theory_jacobian_spectrum",
        "Figure 8. Input–output Jacobian spectrum, Gaussian against orthogonal",
        "Histograms of the singular values of ∂a^L/∂a^0 at several depths for Gaussian and "
        "orthogonal weights with the same χ₁ = 1: orthogonal weights keep the spectrum "
        "narrow (dynamical isometry), Gaussian ones spread it over decades.",
        (names.PRESET_JACOBIAN,),
        _draw_jacobian,
        markdown.jacobian_text,
    ),
    TheoryFigure(
        "nielsen_ch5_speed",
        "Figure 9. Nielsen, chapter 5: speed of learning of each hidden layer",
        "‖∇b^l‖ of each hidden layer at initialisation for 1 to 4 hidden layers, beside "
        "Nielsen's MNIST numbers (hollow), and during training for 2, 3 and 4 hidden layers.",
        (names.PRESET_NIELSEN_CH5,),
        _draw_nielsen,
        markdown.nielsen_text,
    ),
    TheoryFigure(
        "exploding_gradients",
        "Figure 10. Exploding gradients",
        "Left: Nielsen's construction (w = 100, biases making every z = 0) multiplies the "
        "gradient by 25 per layer.  Right: ReLU above σ_w² = 2 at initialisation, growing by "
        "√χ₁ per layer towards the input (dashed); ✕ marks, for each run that overflowed in "
        "training, the layer where a value first overflowed.",
        (names.PRESET_EXPLODING, names.PRESET_MEAN_FIELD),
        _draw_exploding,
        markdown.exploding_text,
    ),
    TheoryFigure(
        "trainability",
        "Figure 11. Which networks train: test accuracy against σ_w² and depth",
        "Median test accuracy of tanh networks (σ_b² = 0.05) after the same number of SGD "
        "steps, over σ_w² × depth L, with the predicted boundary L = 6 ξ_c (white curve; "
        "Schoenholz et al. 2017, fig. 4), the best-fitting L = k ξ_c (dotted) and the "
        "critical σ_w² where ξ_c diverges (dashed); "
        "red dots: cells whose verdict (accuracy ≥ 0.5) differs from L < 6 ξ_c.",
        (names.PRESET_TRAINABILITY,),
        _draw_trainability,
        trainability_text,
    ),
    TheoryFigure(
        "width_vs_depth",
        "Figure 12. Finite-width fluctuations of the gradient",
        "Var[ln‖δ^1‖²] over networks and inputs at initialisation against β = Σ_j 1/n_j "
        "(Hanin 2018), for ReLU networks with He weights of several depths (colour) and "
        "widths (marker), median over seeds with min–max bars; networks of equal β share "
        "the grey curve.",
        (names.PRESET_WIDTH_VS_DEPTH,),
        _draw_width,
        width_text,
    ),
    TheoryFigure(
        "rnn_time_gap",
        "Figure 13. Vanishing and exploding through time: error against time gap",
        "rms ‖δ_t‖/‖δ_T‖ of RNNs at initialisation (adding problem, T = 50, cost on ŷ_T) "
        "against the time gap T − t, one panel per activation, one colour per spectral "
        "radius ρ of the orthogonal W_hh; dashed: the bound (sup|φ′|·‖W_hh‖₂)^{T−t}, which "
        "the linear RNN meets exactly.",
        (names.PRESET_RNN_TIME_GAP,),
        _draw_time_gap,
        time_gap_text,
    ),
    TheoryFigure(
        "rnn_clipping",
        "Figure 14. Exploding gradients through time and gradient-norm clipping",
        "A tanh RNN with ρ(W_hh) = 3 trained by SGD with momentum (η = 0.1, μ = 0.9) on the "
        "adding problem (T = 20), with and without clipping ‖∇θ‖₂ to 1: the mini-batch cost, "
        "the gradient norm before clipping (dotted: the threshold) and the share of steps "
        "clipped, one line per seed.",
        (names.PRESET_RNN_CLIPPING,),
        _draw_clipping,
        clipping_text,
    ),
    TheoryFigure(
        "rnn_vs_lstm",
        "Figure 15. The adding problem against sequence length: RNN against LSTM",
        "Left: test MSE over the chance MSE 1/6 against T for the tanh RNN (H = 32) and the "
        "LSTM (H = 16) at about equal parameter counts, one point per seed, after 600 Adam "
        "steps; dotted: the success threshold. Middle and right: for the longest T, the "
        "RNN's ‖δ_t‖ and the LSTM's ‖∂C/∂h_t‖ (solid) and ‖∂C/∂c_t‖ (dashed) against the "
        "time gap, at initialisation and after training.",
        (names.PRESET_RNN_VS_LSTM,),
        _draw_rnn_vs_lstm,
        rnn_vs_lstm_text,
    ),
    TheoryFigure(
        "remedies_gradient_vs_layer",
        "Figure 16. Remedies: gradient magnitude against layer",
        "‖∇b^l‖ on the probe batch against layer l at the sweep's middle depth, at "
        "initialisation (dashed) and after training (solid), one panel per activation × "
        "remedy, the plain network in grey; median over seeds, band min–max.  Under batch "
        "norm ∇b^l = 0 in every normed layer (z^l − μ does not depend on b^l): that panel "
        "shows rounding error.",
        (names.PRESET_REMEDIES,),
        _draw_remedy_gradients,
        lambda data: "",
    ),
    TheoryFigure(
        "remedies_accuracy_vs_depth",
        "Figure 17. Remedies: test accuracy against depth",
        "Test accuracy on the held-out digits after training against depth, one line per "
        "remedy (median over seeds, band min–max; a diverged run counts as chance, 0.1); "
        "SELU replaces the activation, so its line is the same in both panels.",
        (names.PRESET_REMEDIES,),
        _draw_remedy_accuracy,
        accuracy_text,
    ),
    TheoryFigure(
        "remedies_update_ratio",
        "Figure 18. Remedies: relative update size per layer, SGD against Adam",
        "‖ΔW^l‖_F/‖W^l‖_F of the updates applied, mean over training, per layer l at the "
        "sweep's middle depth, for plain SGD and for Adam (median over seeds, band min–max).",
        (names.PRESET_REMEDIES,),
        _draw_update_ratio,
        lambda data: "",
    ),
)
THEORY_FIGURE_NAMES = tuple(f.name for f in THEORY_FIGURES)
