"""What the derivation notes print: their worked examples' numbers and formula slips.

Data only, typed in once, here, from the derivation notes
``../shared/seed/000_98a32af0b573dab5.txt`` (path from the repository root):
:data:`NOTES` holds the numbers of §5 "Numerical Example", the hand-worked
[2, 2, 1] and [2, 3, 2] networks, exactly as printed; :data:`NOTATION_ERRATA`
the slips in the notes' formulas and notation.  Nothing is computed here:
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


@dataclass(frozen=True)
class FormulaErratum:
    """One slip in the notes' formulas or notation.

    Attributes
    ----------
    key : str
        Stable name, e.g. ``"vjp_order"``; tests/test_notation_errata.py checks
        each key numerically or by shape.
    where : str
        Section of the notes (their numbering; two sections are numbered 2.4).
    notes : str
        What the notes write (Markdown with ``$…$`` math, no ``|``).
    fix : str
        What it should read, and why.
    """

    key: str
    where: str
    notes: str
    fix: str


#: Slips in the notes' formulas and notation, in the order of the notes.
NOTATION_ERRATA: tuple[FormulaErratum, ...] = (
    FormulaErratum(
        "cost_convention",
        "§1–§2, cost convention",
        "$C_0 = (a^{(L)} - y)^2$, hence $\\partial C_0 / \\partial a^{(L)} = 2(a^{(L)} - y)$ "
        "and eq. (1) $\\delta^{(L)} = 2(a^{(L)} - y) \\odot \\sigma'(z^{(L)})$, while §2.5.1, "
        "just before eq. (1), uses $C = \\frac{1}{2}\\lVert a^L - y \\rVert^2$ and "
        "$\\partial C / \\partial a^L = a^L - y$",
        "not wrong, but two conventions side by side: §2.5.1, §3–§5 and gradlab use "
        "$C = \\frac{1}{2}\\lVert a^L - y \\rVert^2$ and $\\nabla_a C = a^L - y$; every "
        "gradient of §1–§2 that carries the factor 2 is twice the one computed here",
    ),
    FormulaErratum(
        "d_previous_activation",
        "§1.5, last equation",
        "$\\partial C_0 / \\partial b^{(L)} = 2(a^{(L)} - y) \\sigma'(z^{(L)}) w^{(L)}$",
        "$\\partial C_0 / \\partial a^{(L-1)} = 2(a^{(L)} - y) \\sigma'(z^{(L)}) w^{(L)}$ "
        "(the derivative with respect to the previous activation; with respect to "
        "$b^{(L)}$ there is no factor $w^{(L)}$, §1.4)",
    ),
    FormulaErratum(
        "layer_letter",
        "§2.1, the example with 6 and 4 neurons",
        "the first layer is called $L=0$ and the second $L=1$",
        "$l = 0$ and $l = 1$: a layer's index is the lower-case $l$, and $L$ names the "
        "last layer only (here $L = 1$; the weights are $\\mathbf{W}^{(1)}$, $4 \\times 6$)",
    ),
    FormulaErratum(
        "sum_upper_limit",
        "§2.4.1, expansion of $z_j^{(L)}$",
        "$z_j^{(L)} = w_{j,0}^{(L)} a_0^{(L-1)} + \\dots + w_{j,i}^{(L)} a_i^{(L-1)} + \\dots "
        "+ w_{j,k}^{(L)} a_k^{(L-1)} + b_j$: the sum ends at the term in $a_k^{(L-1)}$",
        "it runs over all $m$ neurons of layer $L-1$, $k$ among them: "
        "$z_j^{(L)} = \\sum_{i=0}^{m-1} w_{ji}^{(L)} a_i^{(L-1)} + b_j^{(L)}$, as §2.1 "
        "writes it and §2.4.1 itself a few lines further on",
    ),
    FormulaErratum(
        "vjp_order",
        "§2.5.1, the opening formula and the paragraph on the element-wise product",
        "$\\delta^L = \\frac{\\partial a^{(L)}}{\\partial z^{(L)}} \\cdot "
        "\\frac{\\partial C}{\\partial a^{(L)}}$, and "
        "$(\\frac{\\partial C}{\\partial a^L})^\\top \\cdot \\frac{\\partial a^L}{\\partial z^L}$ "
        "rewritten as $J \\cdot v$ (Jacobian times gradient)",
        "the chain rule gives the vector–Jacobian product $v^\\top J$ "
        "($v = \\partial C / \\partial a^L$, $J = \\partial a^L / \\partial z^L$), a "
        "$1 \\times n_L$ row; as a column, $\\delta^L = J^\\top v$. $J v$ gives the same "
        "numbers only because this $J$ is diagonal; for a Jacobian that is not symmetric it "
        "does not (for $z^{l+1}$ as a function of $a^l$, $J = W^{l+1}$ and the product is "
        "$(W^{l+1})^\\top \\delta^{l+1}$, as §3.3 writes it)",
    ),
    FormulaErratum(
        "da_dz_shape",
        "§2.5.1, after the summary table, and its final summary",
        "$\\partial a^L / \\partial z^L = \\sigma(z^L) \\odot (1 - \\sigma(z^L)) "
        "\\in \\mathbb{R}^{2 \\times 1}$, a vector rather than a Jacobian",
        "$\\partial a^L / \\partial z^L$ is the $n_L \\times n_L$ diagonal Jacobian "
        "$\\mathrm{diag}(\\sigma'(z^L))$, as §2.5.1 says earlier (and its summary table); "
        "the $n_L \\times 1$ vector $\\sigma'(z^L)$ is its diagonal, which is what "
        "$\\delta^L = \\nabla_a C \\odot \\sigma'(z^L)$ uses",
    ),
    FormulaErratum(
        "l_and_L",
        "§2.6.1, chain rule for $\\partial C / \\partial w^L_{ij}$",
        "$\\partial z^l_i / \\partial w^L_{ij}$, $\\partial C / \\partial z^l_i = \\delta^l_i$ "
        "and $z^L_i = \\sum_j w^L_{ij} a_j^{L-1} + b^l_i$ in a derivation about layer $L$",
        "$\\partial z^L_i / \\partial w^L_{ij}$, $\\partial C / \\partial z^L_i = \\delta^L_i$ "
        "and $b^L_i$: for $l < L$, $z^l$ does not depend on $w^L$ at all",
    ),
    FormulaErratum(
        "neuron_count",
        "§2.6.1, before the matrix form of eq. (3)",
        "says layer $L-1$ has $m-1$ neurons",
        "layer $L-1$ has $m$ neurons, indexed $0, \\dots, m-1$ (the row of "
        "$\\partial \\mathbf{c} / \\partial \\mathbf{W}^{(L)}$ has $m$ entries)",
    ),
    FormulaErratum(
        "transpose_entries",
        "§5 “Reminder”, $(\\mathbf{W}^{(L)})^\\top$ (printed twice)",
        "row 2 ends in $w_{1,n-1}^{(L)}$ and the last row reads $w_{0,m-1}^{(L)}, "
        "w_{m-1,1}^{(L)}, \\dots, w_{m-1,n-1}^{(L)}$",
        "row $k$, column $j$ holds $w_{j,k}^{(L)}$: row 2 ends in $w_{n-1,1}^{(L)}$ and the "
        "last row is $w_{0,m-1}^{(L)}, w_{1,m-1}^{(L)}, \\dots, w_{n-1,m-1}^{(L)}$",
    ),
    FormulaErratum(
        "missing_sigma_prime",
        "§5 “Reminder”, $\\partial c / \\partial w_{jk}^{(L-1)}$, second line",
        "$a_{k}^{(L-2)} \\sum_{i} \\delta_{i}^{(L)} w_{ij}^{(L)}$ (no $\\sigma'$) in the middle",
        "$a_{k}^{(L-2)} \\sigma'(z_{j}^{(L-1)}) \\sum_{i} \\delta_{i}^{(L)} w_{ij}^{(L)}$, "
        "as the first line and the right-hand side have it",
    ),
    FormulaErratum(
        "row_vector_shape",
        "§5 “Reminder”, $\\partial c / \\partial \\mathbf{W}^{(L-1)}$",
        "the row vector $(\\mathbf{a}^{(L-2)})^\\top$ is labelled $p \\times 1$",
        "it is $1 \\times p$, so that the product with the $m \\times 1$ column is "
        "$m \\times p$, the shape of $\\mathbf{W}^{(L-1)}$",
    ),
    FormulaErratum(
        "k_and_K",
        "§5 “Reminder”, derivation of $\\delta_k^{(L-1)}$",
        "$\\delta_k^{(L-1)} = \\sum_j \\delta_j^{(L)} w_{jK}^{(L)} \\sigma'(z_K^{(L-1)})$ "
        "(capital $K$ on the right, $k$ on the left), after $z_j^{(L)} = \\sum_k \\dots$ "
        "summed over the same $k$",
        "one free index on both sides, another letter for the sum: "
        "$\\delta_k^{(L-1)} = \\sum_{j=0}^{n-1} \\delta_j^{(L)} w_{jk}^{(L)} "
        "\\sigma'(z_k^{(L-1)})$ from $z_j^{(L)} = \\sum_{i=0}^{m-1} w_{ji}^{(L)} "
        "\\sigma(z_i^{(L-1)}) + b_j^{(L)}$; read literally, the right-hand side with a "
        "fixed $K$ is the same for every $k$",
    ),
    FormulaErratum(
        "z_superscript",
        "§5 “Reminder”, derivation of $\\delta_k^{(L-1)}$",
        "$z_j^{(L)} = \\sum_k w_{jk}^{(L)} \\sigma(z_k^{(L) - 1}) + b_j^{(L)}$",
        "$z_j^{(L)} = \\sum_k w_{jk}^{(L)} \\sigma(z_k^{(L-1)}) + b_j^{(L)}$: the layer "
        "index is $L-1$, not $z^{(L)}$ minus 1",
    ),
    FormulaErratum(
        "sigmoid_derivative",
        "“Unstable gradient”, derivative of the sigmoid",
        "$\\frac{\\sigma(x)}{\\partial x} = \\sigma(x)(1 - \\sigma(x))$",
        "$\\frac{d\\sigma(x)}{dx} = \\sigma(x)(1 - \\sigma(x))$",
    ),
)
