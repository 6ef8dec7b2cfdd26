"""The sections of one backprop walkthrough (see :mod:`gradlab.explain.walkthrough`).

Each function returns the Markdown lines of one section for one :class:`Page`:
the network, the forward pass (z^l = W^l a^{l-1} + b^l, a^l = φ(z^l)), the
backward pass (δ^L, notes eq. 1; δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l), eq. 4),
the gradients (eqs. 5 and 6) and the summary table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.engine.backprop import Trace
from gradlab.engine.network import MLP
from gradlab.explain.mathfmt import bmatrix, col, display, plain, row

Array = np.ndarray

#: Each cost's C and ∇_a C, as the walkthrough states them under the layer table.
COST_TEXT = {
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


@dataclass(frozen=True)
class Page:
    """What every section of one walkthrough needs."""

    net: MLP
    trace: Trace
    q: dict  # the numbers, keyed as gradlab.explain.quantities names them
    p: int  # decimals
    y0: Array  # the target of sample 1
    hh: str  # the sections' heading marks

    @property
    def L(self) -> int:
        return self.trace.num_layers

    def phi(self, l: int):
        return self.net.output if l == self.L else self.net.hidden


def network_lines(c: Page, cost: str, source: str, n: int) -> list[str]:
    """The network table, the cost, where the numbers come from, the batch."""
    sizes, L, p = c.net.sizes, c.L, c.p
    layers = ["| layer $l$ | $n_l$ | $W^l$ ($n_l \\times n_{l-1}$) | $b^l$ | $\\varphi$ |"]
    layers.append("|---|---|---|---|---|")
    layers.append(f"| 0 (input $x = a^0$) | {sizes[0]} | | | |")
    for l in range(1, L + 1):
        name = f"{l} (output)" if l == L else str(l)
        layers.append(
            f"| {name} | {sizes[l]} | {sizes[l]} × {sizes[l - 1]} | {sizes[l]} | {c.phi(l).name} |"
        )
    out = [
        f"Network $[{', '.join(map(str, sizes))}]$ with $L = {L}$ weight layers; "
        "$W^l$ is $n_l \\times n_{l-1}$, so that $z^l = W^l a^{l-1} + b^l$.",
        "",
        *layers,
        "",
        f"Cost: {cost}, {COST_TEXT[cost]}",
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
    return out


def forward_lines(c: Page, n: int) -> list[str]:
    """Input and target, then z^l and a^l of every layer with the numbers substituted."""
    p, q = c.p, c.q
    out = [
        "Input and target" + (" (sample 1):" if n > 1 else ":"),
        "",
        display(f"x = a^{{0}} = {col(c.trace.a[0][0], p)}, \\qquad y = {col(c.y0, p)}"),
        "",
        f"{c.hh} Forward pass: $z^l = W^l a^{{l-1}} + b^l$, then $a^l = \\varphi(z^l)$",
        "",
    ]
    for l in range(1, c.L + 1):
        w, b = c.net.weights[l - 1], c.net.biases[l - 1]
        out += [
            f"Layer {l} ($\\varphi$ = {c.phi(l).name}):",
            "",
            display(
                f"z^{{{l}}} = W^{{{l}}} a^{{{l - 1}}} + b^{{{l}}} = {bmatrix(w, p)} "
                f"{col(c.trace.a[l - 1][0], p)} + {col(b, p)} = {col(q[f'z{l}'], p)}"
            ),
            "",
            display(f"a^{{{l}}} = \\varphi(z^{{{l}}}) = {col(q[f'a{l}'], p)}"),
            "",
        ]
    return out


def backward_lines(c: Page, cost: str) -> list[str]:
    """δ^L from the cost (notes, eq. 1), then δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l) (eq. 4)."""
    p, q, L, y0 = c.p, c.q, c.L, c.y0
    out = [f"{c.hh} Backward pass", ""]
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
                f"(W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}} = {bmatrix(c.net.weights[l].T, p)} "
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
    return out


def gradient_lines(c: Page, n: int) -> list[str]:
    """∇W^l = δ^l (a^{l−1})ᵀ and ∇b^l = δ^l (batch means when n > 1)."""
    p, q = c.p, c.q
    out = [
        f"{c.hh} Gradients: $\\nabla W^l = \\delta^l (a^{{l-1}})^\\top$ and "
        "$\\nabla b^l = \\delta^l$",
        "",
    ]
    for l in range(c.L, 0, -1):
        gw, gb = q[f"nabla_w{l}"], q[f"nabla_b{l}"]
        if n == 1:
            out += [
                display(
                    f"\\nabla W^{{{l}}} = \\delta^{{{l}}} (a^{{{l - 1}}})^\\top = "
                    f"{col(q[f'delta{l}'], p)} {row(c.trace.a[l - 1][0], p)} = {bmatrix(gw, p)}"
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
    return out


def summary_lines(c: Page) -> list[str]:
    """One table row per layer: δ^l, ∇W^l, ∇b^l."""
    p, q, L = c.p, c.q, c.L
    out = [
        f"{c.hh} Summary",
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
    return out
