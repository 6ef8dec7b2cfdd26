"""Backprop walkthroughs in the notes' notation, every number from the engine.

The derivation notes (§5) teach backpropagation by hand on a [2, 2, 1] and a
[2, 3, 2] network.  :func:`walkthrough` writes such a walkthrough as Markdown for
any small network and one backprop :class:`~gradlab.engine.backprop.Trace`:

    z^l  = W^l a^{l-1} + b^l,  a^l = φ(z^l)           forward pass, numbers substituted
    δ^L  = ∇_a C ⊙ φ′(z^L)                             eq. 1
    δ^l  = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l)              eq. 4, both factors shown
    ∇W^l = δ^l (a^{l-1})ᵀ,  ∇b^l = δ^l                 eqs. 6 and 5

then the notes' summary table and, per layer, the factor ‖δ^l‖ / ‖δ^{l+1}‖ by
which the error shrank or grew next to its bound sup|φ′|·‖W^{l+1}‖₂.
:func:`explain` adds the notes' errata to the walkthrough of an
:class:`~gradlab.explain.example.Example` that names one; :func:`worked_examples_page`
is docs/worked-examples.md.  Everything here is pure: arrays in, a Markdown
string out.

Where the pieces live: the numbers in :mod:`gradlab.explain.quantities`, their LaTeX
(and GitHub's math rules) in :mod:`gradlab.explain.mathfmt`, what the notes print in
:mod:`gradlab.explain.notes`, the comparison with it in :mod:`gradlab.explain.errata`
and its Markdown in :mod:`gradlab.explain.errata_md`.

With several samples the walkthrough shows the first one (the first row of x;
the notes write a sample as a column) and the batch-mean gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradlab.engine.backprop import Trace
from gradlab.engine.network import MLP
from gradlab.errors import check_number
from gradlab.explain.errata import errata
from gradlab.explain.errata_md import errata_table, notation_errata
from gradlab.explain.example import Example
from gradlab.explain.mathfmt import bmatrix, col, display, fmt, plain, row
from gradlab.explain.quantities import layer_factors, quantities

Array = np.ndarray

#: Each cost's C and ∇_a C, as the walkthrough states them under the layer table.
_COST_TEXT = {
    "quadratic": (
        "$C = \\frac{1}{2}\\lVert a^L - y \\rVert^2$, so $\\nabla_a C = a^L - y$. This is the "
        "convention of gradlab and of the notes' §2.5.1 and §3–§5; the rest of §1–§2 writes "
        "$C_0 = (a^{(L)} - y)^2$ without the ½, so every gradient there with a factor 2 is "
        "twice the one here."
    ),
    "cross_entropy": (
        "$C = -\\sum_j [y_j \\ln a^L_j + (1 - y_j) \\ln(1 - a^L_j)]$ with a sigmoid output, "
        "for which $\\nabla_a C \\odot \\sigma'(z^L)$ simplifies to $a^L - y$ "
        "(Nielsen, ch. 3, eq. 66)."
    ),
}


#: What the bound says about the sigmoid's ¼, appended to the factor section's text.
_SIGMOID_HEURISTIC = (
    " For the sigmoid the ceiling is $\\frac{1}{4}\\lVert W^{l+1} \\rVert_2$, so ¼ per layer "
    "(the $(1/4)^{L-l}$ heuristic of Nielsen's chapter 5; the derivation notes stop at "
    "$\\sigma' = \\sigma(1 - \\sigma)$) is the ceiling when $\\lVert W^{l+1} \\rVert_2 = 1$, "
    "not a law."
)


def walkthrough(
    net: MLP,
    trace: Trace,
    y: Array,
    cost: str,
    *,
    title: str,
    source: str = "",
    precision: int = 4,
    level: int = 1,
) -> str:
    """The Markdown walkthrough of one backprop trace (module docstring).

    Parameters
    ----------
    net : MLP
        The network the trace was computed with.
    trace : Trace
        ``net.backprop(x, y, cost)``, batch of n samples (no ensemble axis).
    y : ndarray, shape (n, n_L)
        Targets of the trace.
    cost : str
        The cost of the trace.
    title, source : str
        Heading, and one sentence on where the parameters came from.
    precision : int
        Decimals of every number.
    level : int
        Markdown heading level of the title; sections are one level deeper.
    """
    p = precision
    L = trace.num_layers
    sizes = net.sizes
    n = trace.a[0].shape[0]
    q = quantities(net.weights, trace, y, cost)
    h, hh = "#" * level, "#" * (level + 1)
    out = [f"{h} {title}", ""]

    layers = ["| layer $l$ | $n_l$ | $W^l$ ($n_l \\times n_{l-1}$) | $b^l$ | $\\varphi$ |"]
    layers.append("|---|---|---|---|---|")
    layers.append(f"| 0 (input $x = a^0$) | {sizes[0]} | | | |")
    for l in range(1, L + 1):
        phi = net.output if l == L else net.hidden
        name = f"{l} (output)" if l == L else str(l)
        layers.append(
            f"| {name} | {sizes[l]} | {sizes[l]} × {sizes[l - 1]} | {sizes[l]} | {phi.name} |"
        )
    out += [
        f"Network $[{', '.join(map(str, sizes))}]$ with $L = {L}$ weight layers; "
        "$W^l$ is $n_l \\times n_{l-1}$, so that $z^l = W^l a^{l-1} + b^l$.",
        "",
        *layers,
        "",
        f"Cost: {cost}, {_COST_TEXT[cost]}",
        "",
        f"Parameters and data: {source}" if source else "",
        f"Numbers are rounded to {p} decimals; smaller ones are written $m \\times 10^k$.",
        "",
    ]
    if n > 1:
        out += [
            f"The batch has $n = {n}$ samples. The forward and backward steps show sample 1 "
            "(the first row of x); the gradients are the batch means "
            "$\\nabla W^l = \\frac{1}{n}\\sum_k \\delta_k^l (a_k^{l-1})^\\top$ and "
            "$\\nabla b^l = \\frac{1}{n}\\sum_k \\delta_k^l$ of $C = \\frac{1}{n}\\sum_k C_k$.",
            "",
        ]
    x0, y0 = trace.a[0][0], y[0]
    out += [
        "Input and target" + (" (sample 1):" if n > 1 else ":"),
        "",
        display(f"x = a^{{0}} = {col(x0, p)}, \\qquad y = {col(y0, p)}"),
        "",
        f"{hh} Forward pass: $z^l = W^l a^{{l-1}} + b^l$, then $a^l = \\varphi(z^l)$",
        "",
    ]
    for l in range(1, L + 1):
        w, b = net.weights[l - 1], net.biases[l - 1]
        phi = net.output if l == L else net.hidden
        out += [
            f"Layer {l} ($\\varphi$ = {phi.name}):",
            "",
            display(
                f"z^{{{l}}} = W^{{{l}}} a^{{{l - 1}}} + b^{{{l}}} = {bmatrix(w, p)} "
                f"{col(trace.a[l - 1][0], p)} + {col(b, p)} = {col(q[f'z{l}'], p)}"
            ),
            "",
            display(f"a^{{{l}}} = \\varphi(z^{{{l}}}) = {col(q[f'a{l}'], p)}"),
            "",
        ]

    out += [f"{hh} Backward pass", ""]
    dL = col(q[f"delta{L}"], p)
    if cost == "quadratic":
        out += [
            f"Output error $\\delta^{{{L}}} = \\nabla_a C \\odot \\varphi'(z^{{{L}}})$:",
            "",
            display(
                f"\\nabla_a C = a^{{{L}}} - y = {col(q[f'a{L}'], p)} - {col(y0, p)} "
                f"= {col(q['grad_a'], p)}"
            ),
            "",
            display(
                f"\\delta^{{{L}}} = \\nabla_a C \\odot \\varphi'(z^{{{L}}}) = "
                f"{col(q['grad_a'], p)} \\odot {col(q[f'phi_prime{L}'], p)} = {dL}"
            ),
            "",
        ]
    else:
        out += [
            f"Output error (the $\\sigma'(z^{{{L}}})$ factor cancels for this cost):",
            "",
            display(
                f"\\delta^{{{L}}} = a^{{{L}}} - y = {col(q[f'a{L}'], p)} - {col(y0, p)} = {dL}"
            ),
            "",
        ]
    for l in range(L - 1, 0, -1):
        back = q[f"back{l}"]
        out += [
            f"Layer {l}, $\\delta^{{{l}}} = ((W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}}) "
            f"\\odot \\varphi'(z^{{{l}}})$:",
            "",
            display(
                f"(W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}} = {bmatrix(net.weights[l].T, p)} "
                f"{col(q[f'delta{l + 1}'], p)} = {col(back, p)}"
            ),
            "",
            display(
                f"\\delta^{{{l}}} = ((W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}}) \\odot "
                f"\\varphi'(z^{{{l}}}) = {col(back, p)} \\odot {col(q[f'phi_prime{l}'], p)} "
                f"= {col(q[f'delta{l}'], p)}"
            ),
            "",
        ]

    out += [
        f"{hh} Gradients: $\\nabla W^l = \\delta^l (a^{{l-1}})^\\top$ and "
        "$\\nabla b^l = \\delta^l$",
        "",
    ]
    for l in range(L, 0, -1):
        gw, gb = q[f"nabla_w{l}"], q[f"nabla_b{l}"]
        if n == 1:
            out += [
                display(
                    f"\\nabla W^{{{l}}} = \\delta^{{{l}}} (a^{{{l - 1}}})^\\top = "
                    f"{col(q[f'delta{l}'], p)} {row(trace.a[l - 1][0], p)} = {bmatrix(gw, p)}"
                ),
                "",
                display(f"\\nabla b^{{{l}}} = \\delta^{{{l}}} = {col(gb, p)}"),
                "",
            ]
        else:
            out += [
                display(
                    f"\\nabla W^{{{l}}} = \\frac{{1}}{{n}}\\sum_k \\delta_k^{{{l}}} "
                    f"(a_k^{{{l - 1}}})^\\top = {bmatrix(gw, p)}"
                ),
                "",
                display(
                    f"\\nabla b^{{{l}}} = \\frac{{1}}{{n}}\\sum_k \\delta_k^{{{l}}} = {col(gb, p)}"
                ),
                "",
            ]

    out += [
        f"{hh} Summary",
        "",
        "| layer $l$ | $\\delta^l$ | $\\nabla W^l$ | $\\nabla b^l$ |",
        "|---|---|---|---|",
    ]
    for l in range(L, 0, -1):
        name = f"{l} (output)" if l == L else str(l)
        out.append(
            f"| {name} | {plain(q[f'delta{l}'], p)} | {plain(q[f'nabla_w{l}'], p)} "
            f"| {plain(q[f'nabla_b{l}'], p)} |"
        )
    out += ["", *_factor_section(net, trace, p, hh)]
    return "\n".join(out).rstrip() + "\n"


def _factor_section(net: MLP, trace: Trace, p: int, hh: str) -> list[str]:
    """Lines of the section on :func:`~gradlab.explain.quantities.layer_factors`, heading ``hh``."""
    rows = layer_factors(net.weights, trace, net.hidden)
    out = [f"{hh} How the error changes from layer to layer", ""]
    if not rows:
        return [*out, "With $L = 1$ there is no hidden layer to propagate the error to.", ""]
    out += [
        "Going from layer $l+1$ to layer $l$, $\\lVert\\delta\\rVert$ is multiplied by "
        "$\\lVert (W^{l+1})^\\top \\delta^{l+1} \\rVert / \\lVert\\delta^{l+1}\\rVert$ (the "
        "weights) and then by $\\lVert\\delta^l\\rVert / \\lVert (W^{l+1})^\\top \\delta^{l+1} "
        "\\rVert$ (the $\\varphi'(z^l)$ factor). Their product, the factor, can never exceed "
        "$\\sup\\lvert\\varphi'\\rvert \\, \\lVert W^{l+1} \\rVert_2$ "
        f"(here $\\sup\\lvert\\varphi'\\rvert = {net.hidden.sup_prime:g}$), since "
        "$\\lVert u \\odot \\varphi' \\rVert \\le \\sup\\lvert\\varphi'\\rvert \\, "
        "\\lVert u \\rVert$ and $\\lVert W^\\top \\delta \\rVert \\le \\lVert W \\rVert_2 "
        "\\lVert \\delta \\rVert$. The bound is a ceiling, not a rate: when it is below 1, "
        "$\\lVert\\delta^l\\rVert$ is at most that fraction of "
        "$\\lVert\\delta^{l+1}\\rVert$; above 1 the error may grow."
        + (_SIGMOID_HEURISTIC if net.hidden.name == "sigmoid" else ""),
        "",
        "| $l$ | $\\lVert\\delta^{l+1}\\rVert$ | through $(W^{l+1})^\\top$ "
        "| through $\\varphi'(z^l)$ "
        "| factor $\\lVert\\delta^l\\rVert / \\lVert\\delta^{l+1}\\rVert$ "
        "| bound $\\sup\\lvert\\varphi'\\rvert \\, \\lVert W^{l+1} \\rVert_2$ "
        "| $\\lVert\\delta^l\\rVert / \\lVert\\delta^L\\rVert$ |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        # norms span many decades: below 0.01 they switch to m e k to keep p digits
        cells = [fmt(r["delta_next"], p, latex=False, sci_below=0.01)]
        cells += [fmt(r[k], p, latex=False) for k in ("weights_part", "phi_part", "factor")]
        cells += [fmt(r["bound"], p, latex=False)]
        cells += [fmt(r["cumulative"], p, latex=False, sci_below=0.01)]
        out.append(f"| {r['layer']} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _sections(
    example: Example, precision: int, level: int, errata_level: int
) -> tuple[str, str | None]:
    """The walkthrough of ``example`` and its errata section (None if it names no notes)."""
    trace = example.net.backprop(example.x, example.y, cost=example.cost)
    text = walkthrough(
        example.net,
        trace,
        example.y,
        example.cost,
        title=example.title,
        source=example.source,
        precision=precision,
        level=level,
    )
    if example.notes is None:
        return text, None
    found = errata(example.notes, example.net, trace, example.y, example.cost)
    return text, errata_table(example.notes, found, precision, errata_level)


def explain(example: Example, precision: int = 4, level: int = 1) -> str:
    """Walkthrough of ``example`` and, if it names an example of the notes, its errata.

    Parameters
    ----------
    example : Example
        From :func:`gradlab.explain.example.build_example`.
    precision : int
        Decimals of every number.
    level : int
        Markdown heading level of the title; the errata section is one deeper.
    """
    precision = check_number("precision", precision, integer=True, minimum=0)
    text, errata_section = _sections(example, precision, level, level + 1)
    return text if errata_section is None else text + "\n" + errata_section


def worked_examples_page(examples: Sequence[Example], precision: int, command: str) -> str:
    """The docs page: every example's walkthrough, then all errata of the notes.

    Parameters
    ----------
    examples : sequence of Example
        In page order; those that name an example of the notes add its errata.
    precision : int
        Decimals of every number.
    command : str
        How the page was generated (quoted in its header).

    Returns
    -------
    str
        The Markdown of docs/worked-examples.md: the walkthroughs, then the
        formula errata, then each example's errata.
    """
    precision = check_number("precision", precision, integer=True, minimum=0)
    intro = [
        "# Worked examples: backpropagation by the numbers",
        "",
        f"<!-- Generated by `{command}`; do not edit by hand. "
        "tests/test_explain.py fails when this file and the generator disagree. -->",
        "",
        "The derivation notes (`shared/seed/000_98a32af0b573dab5.txt`) teach backpropagation "
        "with hand-worked examples, and hand arithmetic goes wrong. This page redoes the "
        "notes' §5 examples with gradlab's engine in the notes' notation: every number below "
        f"is computed in float64 and rounded to {precision} decimals. The Errata sections at "
        "the end list what a line-by-line reading of the notes found: the slips in their "
        "formulas and notation, and every number of the two examples that the engine "
        "contradicts, with the notes' value, the computed one and the step redone from the "
        "notes' own inputs.",
        "",
        "Any other small network gets the same walkthrough with "
        "`python experiments/explain.py` (keys in `conf/explain/config.yaml`); for example "
        "`python experiments/explain.py +experiment=deep_sigmoid` follows an error down a "
        "deep sigmoid stack.",
        "",
    ]
    parts = ["\n".join(intro)]
    tables = [notation_errata(2)]
    for ex in examples:
        text, errata_section = _sections(ex, precision, 2, 2)
        parts.append(text)
        if errata_section is not None:
            tables.append(errata_section)
    return "\n".join(parts + tables)
