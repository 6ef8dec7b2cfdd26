"""What the derivation notes print: their worked examples' numbers and formula slips.

Data only, typed in once, here, from the derivation notes
``../shared/seed/000_98a32af0b573dab5.txt`` (path from the repository root):
:data:`NOTES` holds the numbers of §5 "Numerical Example", the hand-worked
[2, 2, 1] and [2, 3, 2] networks, exactly as printed; :data:`NOTATION_ERRATA`
the slips in the notes' formulas and conventions.  Nothing is computed here:
:mod:`gradlab.explain.errata` compares these numbers with the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NotesExample:
    """What the notes print for one worked example.

    Attributes
    ----------
    where : str
        Section and network, e.g. "§5, first example: network [2, 2, 1]".
    printed : dict of str to str
        A key of :func:`gradlab.explain.quantities.quantities` → the numbers exactly as
        the notes print them (their decimals matter), matrix rows separated by
        ``;``, e.g. ``"nabla_w1": "-0.0149 -0.0075; 0.0258 0.0129"`` for the
        (2, 2) matrix ∇W^1.
    """

    where: str
    printed: dict[str, str]


#: The numbers the derivation notes print in their two §5 examples; the one place
#: they are typed in.  The computed side always comes from the engine.
NOTES: dict[str, NotesExample] = {
    "example_221": NotesExample(
        where="§5, first example: network [2, 2, 1]",
        printed={
            "z1": "0.35 0.3",
            "a1": "0.5866 0.5744",
            "z2": "-0.2287",
            "a2": "0.4431",
            "grad_a": "-0.3569",
            "phi_prime2": "0.2467",
            "delta2": "-0.0880",
            "nabla_w2": "-0.0516 -0.0505",
            "nabla_b2": "-0.0880",
            "back1": "-0.0616 0.1056",
            "phi_prime1": "0.2425 0.2445",
            "delta1": "-0.0149 0.0258",
            "nabla_w1": "-0.0149 -0.0075; 0.0258 0.0129",
            "nabla_b1": "-0.0149 0.0258",
        },
    ),
    "example_232": NotesExample(
        where="§5, second example: network [2, 3, 2]",
        printed={
            "z1": "0.24 0.11 0.63",
            "a1": "0.5597 0.5275 0.6522",
            "z2": "0.167 0.069",
            "a2": "0.5417 0.5172",
            "grad_a": "-0.4583 0.5172",
            "phi_prime2": "0.2483 0.2497",
            "delta2": "-0.1138 0.1291",
            "nabla_w2": "-0.0637 -0.0600 -0.0743; 0.0722 0.0681 0.0842",
            "nabla_b2": "-0.1138 0.1291",
            "back1": "0.0278 -0.0907 -0.0900",
            "phi_prime1": "0.2464 0.2492 0.2267",
            "delta1": "0.0069 -0.0226 -0.0204",
            "nabla_w1": "0.0062 0.0007; -0.0204 -0.0023; -0.0184 -0.0020",
            "nabla_b1": "0.0069 -0.0226 -0.0204",
        },
    ),
}

#: Slips in the notes' formulas: (where, what the notes print, what it should read).
NOTATION_ERRATA: tuple[tuple[str, str, str], ...] = (
    (
        "§1–§2, cost convention",
        "$C_0 = (a^{(L)} - y)^2$, hence $\\partial C_0 / \\partial a^{(L)} = 2(a^{(L)} - y)$ "
        "and eq. (1) $\\delta^{(L)} = 2(a^{(L)} - y) \\odot \\sigma'(z^{(L)})$",
        "not wrong, but a different convention from §3–§5 and gradlab, which use "
        "$C = \\frac{1}{2}\\lVert a^L - y \\rVert^2$ and $\\nabla_a C = a^L - y$: every "
        "gradient of §1–§2 is twice the one computed here",
    ),
    (
        "§1.5, last equation",
        "$\\partial C_0 / \\partial b^{(L)} = 2(a^{(L)} - y) \\sigma'(z^{(L)}) w^{(L)}$",
        "$\\partial C_0 / \\partial a^{(L-1)} = 2(a^{(L)} - y) \\sigma'(z^{(L)}) w^{(L)}$ "
        "(the derivative with respect to the previous activation)",
    ),
    (
        "§2.6.1, after the matrix form of eq. (3)",
        "“We have $m-1$ neuron in the layer $L-1$”",
        "layer $L-1$ has $m$ neurons, indexed $0, \\dots, m-1$",
    ),
    (
        "§5 “Reminder”, $(\\mathbf{W}^{(L)})^\\top$ (printed twice)",
        "row 2 ends in $w_{1,n-1}^{(L)}$ and the last row reads $w_{0,m-1}^{(L)}, "
        "w_{m-1,1}^{(L)}, \\dots, w_{m-1,n-1}^{(L)}$",
        "row $k$, column $j$ holds $w_{j,k}^{(L)}$: row 2 ends in $w_{n-1,1}^{(L)}$ and the "
        "last row is $w_{0,m-1}^{(L)}, w_{1,m-1}^{(L)}, \\dots, w_{n-1,m-1}^{(L)}$",
    ),
    (
        "§5 “Reminder”, $\\partial c / \\partial w_{jk}^{(L-1)}$, second line",
        "$a_{k}^{(L-2)} \\sum_{i} \\delta_{i}^{(L)} w_{ij}^{(L)}$ (no $\\sigma'$) in the middle",
        "$a_{k}^{(L-2)} \\sigma'(z_{j}^{(L-1)}) \\sum_{i} \\delta_{i}^{(L)} w_{ij}^{(L)}$, "
        "as the first line and the right-hand side have it",
    ),
    (
        "§5 “Reminder”, $\\partial c / \\partial \\mathbf{W}^{(L-1)}$",
        "the row vector $(\\mathbf{a}^{(L-2)})^\\top$ is labelled $p \\times 1$",
        "it is $1 \\times p$",
    ),
    (
        "§5 “Reminder”, derivation of $\\delta_k^{(L-1)}$",
        "$z_j^{(L)} = \\sum_k w_{jk}^{(L)} \\sigma(z_k^{(L) - 1}) + b_j^{(L)}$",
        "$z_j^{(L)} = \\sum_k w_{jk}^{(L)} \\sigma(z_k^{(L-1)}) + b_j^{(L)}$",
    ),
    (
        "“Unstable gradient”, derivative of the sigmoid",
        "$\\frac{\\sigma(x)}{\\partial x} = \\sigma(x)(1 - \\sigma(x))$",
        "$\\frac{d\\sigma(x)}{dx} = \\sigma(x)(1 - \\sigma(x))$",
    ),
)
