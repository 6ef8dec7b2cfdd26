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
from gradlab.explain import page
from gradlab.explain.errata import errata
from gradlab.explain.errata_md import errata_table, notation_errata
from gradlab.explain.example import Example
from gradlab.explain.mathfmt import fmt
from gradlab.explain.quantities import layer_factors, quantities

Array = np.ndarray

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
    n = trace.a[0].shape[0]
    c = page.Page(net, trace, quantities(net.weights, trace, y, cost), precision, y[0],
              "#" * (level + 1))  # fmt: skip
    out = [f"{'#' * level} {title}", ""]
    out += page.network_lines(c, cost, source, n)
    out += page.forward_lines(c, n)
    out += page.backward_lines(c, cost)
    out += page.gradient_lines(c, n)
    out += page.summary_lines(c)
    out += ["", *_factor_section(net, trace, precision, c.hh)]
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
