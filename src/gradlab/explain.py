"""Backprop walkthroughs in the notes' notation, every number from the engine.

The derivation notes (§5) teach backpropagation by hand on a [2, 2, 1] and a
[2, 3, 2] network.  :func:`walkthrough` writes such a walkthrough as Markdown for
any small network and one backprop :class:`~gradlab.backprop.Trace`:

    z^l  = W^l a^{l-1} + b^l,  a^l = φ(z^l)           forward pass, numbers substituted
    δ^L  = ∇_a C ⊙ φ′(z^L)                             eq. 1
    δ^l  = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l)              eq. 4, both factors shown
    ∇W^l = δ^l (a^{l-1})ᵀ,  ∇b^l = δ^l                 eqs. 6 and 5

then the notes' summary table and, per layer, the factor ‖δ^l‖ / ‖δ^{l+1}‖ by
which the error shrank or grew next to its bound sup|φ′|·‖W^{l+1}‖₂.

:data:`NOTES` is the one table of the numbers the notes print; :func:`errata`
compares it with the engine, and :data:`NOTATION_ERRATA` lists the notes'
formula slips.  Everything here is pure: arrays in, a Markdown string out.

The notes write one sample as a column vector; the engine stores a batch as
rows, so ``trace.z[l-1][0]`` is z^l of the first sample.  With several samples
the walkthrough shows the first one and the batch-mean gradients.

Markdown rules for GitHub's MathJax: inline math in ``$…$`` (no ``|``, which
would split a table cell); display math in ``$$`` blocks on lines of their own
with a line break after every ``\\``; never ``_`` right after ``}`` or ``)``,
which GitHub's Markdown pass can read as the start of emphasis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradlab.activations import Activation, get_activation
from gradlab.backprop import Trace
from gradlab.costs import get_cost
from gradlab.errors import check_choice, check_number
from gradlab.init import INITS, init_biases, init_weights
from gradlab.network import MLP

Array = np.ndarray


# --------------------------------------------------------------------------- numbers


def fmt(v: float, precision: int, latex: bool = True, sci_below: float | None = None) -> str:
    """One number with ``precision`` decimals; scientific when that would hide it.

    Nonzero values below ``sci_below`` (default 10^-precision: they would print as
    0.0000) and values of 10^6 or more are written m × 10^k, ``precision``
    decimals in m.
    """
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    small = 10.0**-precision if sci_below is None else sci_below
    if v != 0.0 and not small <= abs(v) < 1e6:
        mantissa, exponent = f"{v:.{precision}e}".split("e")
        if latex:
            return f"{mantissa} \\times 10^{{{int(exponent)}}}"
        return f"{mantissa}e{int(exponent)}"
    s = f"{v:.{precision}f}"
    return s[1:] if s.startswith("-") and float(s) == 0.0 else s


def bmatrix(m: Array, precision: int) -> str:
    """A 2-D array as ``\\begin{bmatrix}``, one line per row (GitHub needs the breaks)."""
    rows = [" & ".join(fmt(v, precision) for v in row) for row in np.array(m, ndmin=2)]
    return "\\begin{bmatrix} " + " \\\\\n".join(rows) + " \\end{bmatrix}"


def col(v: Array, precision: int) -> str:
    """A vector (n,) as an n × 1 column."""
    return bmatrix(np.asarray(v).reshape(-1, 1), precision)


def row(v: Array, precision: int) -> str:
    """A vector (n,) as a 1 × n row."""
    return bmatrix(np.asarray(v).reshape(1, -1), precision)


def plain(v: Array, precision: int) -> str:
    """A vector or matrix as ``[a, b]`` / ``[[a, b], [c, d]]`` for table cells."""
    v = np.asarray(v)
    if v.ndim == 2:
        return "[" + ", ".join(plain(r, precision) for r in v) + "]"
    return "[" + ", ".join(fmt(x, precision, latex=False) for x in v.ravel()) + "]"


# --------------------------------------------------------------------------- the example


@dataclass(frozen=True)
class Example:
    """A network, a batch (x, y) and a cost: everything a walkthrough needs.

    Attributes
    ----------
    net : MLP
        W^l of shape (n_l, n_{l-1}), b^l of shape (n_l,).
    x : ndarray, shape (n, n_0)
        Inputs a^0, one sample per row.
    y : ndarray, shape (n, n_L)
        Targets.
    cost : str
        Key of :data:`gradlab.costs.COSTS`.
    title : str
        Heading of the walkthrough.
    source : str
        Where W, b, x and y came from (config or seeded draws), one sentence.
    notes : str or None
        Key of :data:`NOTES` to compare with, or None.
    """

    net: MLP
    x: Array
    y: Array
    cost: str
    title: str
    source: str
    notes: str | None = None


def _array(key: str, value: object, shape: tuple[int, ...], need: str) -> Array:
    """``value`` as a float array of ``shape``; the error names key and both shapes."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{key}={value!r} is not allowed; it must be a rectangular list of numbers"
        ) from None
    if arr.shape != shape:
        raise ValueError(f"{key} has shape {arr.shape}; {need} needs shape {shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{key} contains NaN or inf; it must be finite")
    return arr


def _rows(key: str, value: object, width: int, need: str) -> Array:
    """One sample (list) or several (list of lists) as an (n, width) array."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{key}={value!r} is not allowed; it must be a list of numbers or of rows"
        ) from None
    arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
    return _array(key, arr, (arr.shape[0] if arr.ndim else 1, width), need)


def build_example(
    *,
    sizes: Sequence[int],
    activation: str = "sigmoid",
    output_activation: str | None = None,
    cost: str = "quadratic",
    weights: Sequence | None = None,
    biases: Sequence | None = None,
    x: Sequence | None = None,
    y: Sequence | None = None,
    init: str = "lecun_normal",
    gain: float = 1.0,
    bias_std: float = 0.0,
    seed: int = 0,
    title: str | None = None,
    notes: str | None = None,
) -> Example:
    """Validate a walkthrough spec and draw whatever it leaves out.

    ``weights``, ``biases``, ``x`` and ``y`` are nested lists, or None to draw
    them, in that order, from ``np.random.default_rng(seed)``: W^l by ``init``
    and ``gain``, b^l ~ N(0, bias_std²), one sample x ~ N(0, I) and
    y ~ U(0, 1)^{n_L}.  Explicit W^l must have shape (n_l, n_{l-1}) for
    ``sizes`` = [n_0, …, n_L]; any mismatch raises ``ValueError`` naming the
    layer and both shapes.
    """
    if not isinstance(sizes, Sequence) or isinstance(sizes, str) or len(sizes) < 2:
        raise ValueError(
            f"sizes={sizes!r} is not allowed; it must be a list [n_0, ..., n_L] of at least "
            "2 integers"
        )
    sizes = [check_number(f"sizes[{j}]", s, integer=True, minimum=1) for j, s in enumerate(sizes)]
    L = len(sizes) - 1
    get_activation(activation, "activation")
    out = get_activation(output_activation or activation, "output_activation")
    get_cost(cost, "cost").check_output(out.name)
    check_choice("init", init, INITS)
    gain = check_number("gain", gain, minimum=0)
    bias_std = check_number("bias_std", bias_std, minimum=0)
    seed = check_number("seed", seed, integer=True, minimum=0)
    if notes is not None:
        check_choice("notes", notes, NOTES)
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title={title!r} is not allowed; it must be a string or null")

    rng = np.random.default_rng(seed)
    drawn = []
    if weights is None:
        ws = init_weights(rng, sizes, init, gain)
        drawn.append(f"W^l ~ {init} (gain {gain:g})")
    else:
        if not isinstance(weights, Sequence) or len(weights) != L:
            n = len(weights) if isinstance(weights, Sequence) else weights
            raise ValueError(f"weights has {n} matrices; sizes={sizes} needs {L} (W^1..W^L)")
        need = f"sizes={sizes} (W^l is n_l × n_(l-1))"
        ws = [
            _array(f"weights[{i}] (W^{i + 1}, layer {i + 1})", w, (sizes[i + 1], sizes[i]), need)
            for i, w in enumerate(weights)
        ]
    if biases is None:
        bs = init_biases(rng, sizes, bias_std)
        drawn.append(f"b^l ~ N(0, {bias_std:g}²)" if bias_std > 0 else "b^l = 0")
    else:
        if not isinstance(biases, Sequence) or len(biases) != L:
            n = len(biases) if isinstance(biases, Sequence) else biases
            raise ValueError(f"biases has {n} vectors; sizes={sizes} needs {L} (b^1..b^L)")
        need = f"sizes={sizes} (b^l has n_l entries)"
        bs = [
            _array(f"biases[{i}] (b^{i + 1}, layer {i + 1})", b, (sizes[i + 1],), need)
            for i, b in enumerate(biases)
        ]
    if x is None:
        xs = rng.standard_normal((1, sizes[0]))
        drawn.append("x ~ N(0, I)")
    else:
        xs = _rows("x", x, sizes[0], f"sizes={sizes} (one row of n_0 = {sizes[0]} per sample)")
    if y is None:
        ys = rng.uniform(0.0, 1.0, (1, sizes[-1]))
        drawn.append("y ~ U(0, 1)")
    else:
        ys = _rows("y", y, sizes[-1], f"sizes={sizes} (one row of n_L = {sizes[-1]} per sample)")
    if ys.shape[0] != xs.shape[0]:
        raise ValueError(f"y has {ys.shape[0]} rows and x has {xs.shape[0]}; they must be equal")

    given = [
        name for name, v in (("W", weights), ("b", biases), ("x", x), ("y", y)) if v is not None
    ]
    parts = []
    if given:
        parts.append(f"given in the config: {', '.join(given)}")
    if drawn:
        parts.append(f"drawn from seed {seed}: {', '.join(drawn)}")
    net = MLP.from_arrays(ws, bs, activation, output_activation, dtype="float64")
    default_title = f"network {sizes}, {activation}, {cost} cost"
    return Example(net, xs, ys, cost, title or default_title, "; ".join(parts) + ".", notes)


# --------------------------------------------------------------------------- quantities


def quantities(weights: Sequence[Array], trace: Trace, y: Array, cost: str) -> dict[str, Array]:
    """Every number a walkthrough shows, by name, for the first sample.

    Keys (l = 1..L): ``z{l}``, ``a{l}`` (n_l,); ``grad_a`` = ∇_a C = a^L − y
    (quadratic cost only); ``phi_prime{l}``, ``delta{l}`` (n_l,);
    ``back{l}`` = (W^{l+1})ᵀ δ^{l+1} (n_l,) for l < L; ``nabla_w{l}``
    (n_l, n_{l-1}) and ``nabla_b{l}`` (n_l,), the batch means.
    """
    L = trace.num_layers
    q: dict[str, Array] = {}
    for l in range(1, L + 1):
        q[f"z{l}"] = trace.z[l - 1][0]
        q[f"a{l}"] = trace.a[l][0]
    if cost == "quadratic":
        q["grad_a"] = trace.a[L][0] - y[0]  # ∂C_k/∂a^L for C_k = ½‖a^L − y‖²
    for l in range(L, 0, -1):
        if l < L:
            q[f"back{l}"] = weights[l].T @ trace.delta[l][0]  # (n_l, n_{l+1}) @ (n_{l+1},)
        q[f"phi_prime{l}"] = trace.phi_prime[l - 1][0]
        q[f"delta{l}"] = trace.delta[l - 1][0]
    for l in range(L, 0, -1):
        q[f"nabla_w{l}"] = trace.nabla_w[l - 1]
        q[f"nabla_b{l}"] = trace.nabla_b[l - 1]
    return q


def layer_factors(weights: Sequence[Array], trace: Trace, hidden: Activation) -> list[dict]:
    """How much δ shrinks or grows from layer l+1 to layer l, first sample.

    For l = L−1 down to 1 (notes eq. 4, δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ φ′(z^l)):
    ``weights_part`` = ‖(W^{l+1})ᵀδ^{l+1}‖ / ‖δ^{l+1}‖, ``phi_part`` =
    ‖δ^l‖ / ‖(W^{l+1})ᵀδ^{l+1}‖, ``factor`` = their product ‖δ^l‖ / ‖δ^{l+1}‖,
    ``bound`` = sup|φ′| · ‖W^{l+1}‖₂ ≥ factor (since ‖u ⊙ v‖ ≤ max|v|·‖u‖ and
    ‖Wᵀδ‖ ≤ ‖W‖₂‖δ‖), and ``cumulative`` = ‖δ^l‖ / ‖δ^L‖.  Zero norms give nan.
    """
    L = trace.num_layers
    top = np.linalg.norm(trace.delta[-1][0])
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for l in range(L - 1, 0, -1):
            d_next = np.linalg.norm(trace.delta[l][0])  # ‖δ^{l+1}‖
            back = np.linalg.norm(weights[l].T @ trace.delta[l][0])  # ‖(W^{l+1})ᵀδ^{l+1}‖
            d = np.linalg.norm(trace.delta[l - 1][0])  # ‖δ^l‖
            spectral = np.linalg.norm(weights[l], 2)  # exact ‖W^{l+1}‖₂ (SVD; small nets)
            rows.append(
                {
                    "layer": l,
                    "delta_next": d_next,
                    "weights_part": back / d_next,
                    "phi_part": d / back,
                    "factor": d / d_next,
                    "bound": hidden.sup_prime * spectral,
                    "cumulative": d / top,
                }
            )
    return rows


# --------------------------------------------------------------------------- walkthrough

_COST_TEXT = {
    "quadratic": (
        "$C = \\frac{1}{2}\\lVert a^L - y \\rVert^2$, so $\\nabla_a C = a^L - y$. This is the "
        "convention of the notes' §3–§5 and of gradlab; §1–§2 write $C_0 = (a^{(L)} - y)^2$ "
        "without the ½, so every gradient there is twice the one here."
    ),
    "cross_entropy": (
        "$C = -\\sum_j [y_j \\ln a^L_j + (1 - y_j) \\ln(1 - a^L_j)]$ with a sigmoid output, "
        "for which $\\nabla_a C \\odot \\sigma'(z^L)$ simplifies to $a^L - y$ "
        "(Nielsen, ch. 3, eq. 66)."
    ),
}


def _display(*lines: str) -> str:
    return "$$\n" + "\n".join(lines) + "\n$$"


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
        _display(f"x = a^{{0}} = {col(x0, p)}, \\qquad y = {col(y0, p)}"),
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
            _display(
                f"z^{{{l}}} = W^{{{l}}} a^{{{l - 1}}} + b^{{{l}}} = {bmatrix(w, p)} "
                f"{col(trace.a[l - 1][0], p)} + {col(b, p)} = {col(q[f'z{l}'], p)}"
            ),
            "",
            _display(f"a^{{{l}}} = \\varphi(z^{{{l}}}) = {col(q[f'a{l}'], p)}"),
            "",
        ]

    out += [f"{hh} Backward pass", ""]
    dL = col(q[f"delta{L}"], p)
    if cost == "quadratic":
        out += [
            f"Output error $\\delta^{{{L}}} = \\nabla_a C \\odot \\varphi'(z^{{{L}}})$:",
            "",
            _display(
                f"\\nabla_a C = a^{{{L}}} - y = {col(q[f'a{L}'], p)} - {col(y0, p)} "
                f"= {col(q['grad_a'], p)}"
            ),
            "",
            _display(
                f"\\delta^{{{L}}} = \\nabla_a C \\odot \\varphi'(z^{{{L}}}) = "
                f"{col(q['grad_a'], p)} \\odot {col(q[f'phi_prime{L}'], p)} = {dL}"
            ),
            "",
        ]
    else:
        out += [
            f"Output error (the $\\sigma'(z^{{{L}}})$ factor cancels for this cost):",
            "",
            _display(
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
            _display(
                f"(W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}} = {bmatrix(net.weights[l].T, p)} "
                f"{col(q[f'delta{l + 1}'], p)} = {col(back, p)}"
            ),
            "",
            _display(
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
                _display(
                    f"\\nabla W^{{{l}}} = \\delta^{{{l}}} (a^{{{l - 1}}})^\\top = "
                    f"{col(q[f'delta{l}'], p)} {row(trace.a[l - 1][0], p)} = {bmatrix(gw, p)}"
                ),
                "",
                _display(f"\\nabla b^{{{l}}} = \\delta^{{{l}}} = {col(gb, p)}"),
                "",
            ]
        else:
            out += [
                _display(
                    f"\\nabla W^{{{l}}} = \\frac{{1}}{{n}}\\sum_k \\delta_k^{{{l}}} "
                    f"(a_k^{{{l - 1}}})^\\top = {bmatrix(gw, p)}"
                ),
                "",
                _display(
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
        f"(here $\\sup\\lvert\\varphi'\\rvert = {net.hidden.sup_prime:g}$): the notes' "
        "$(1/4)^{L-l}$ law for the sigmoid, one layer at a time.",
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


def explain(example: Example, precision: int = 4, level: int = 1) -> str:
    """Walkthrough of ``example`` and, if it names an example of the notes, its errata."""
    precision = check_number("precision", precision, integer=True, minimum=0)
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
        return text
    found = errata(example.notes, example.net, trace, example.y, example.cost)
    return text + "\n" + errata_table(example.notes, found, precision, level + 1)


# --------------------------------------------------------------------------- the notes


@dataclass(frozen=True)
class NotesExample:
    """What the notes print for one worked example.

    ``printed`` maps a key of :func:`quantities` to the numbers exactly as the
    notes print them (their decimals matter), matrix rows separated by ``;``.
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

_KEY = re.compile(r"(z|a|phi_prime|delta|back|nabla_w|nabla_b)(\d+)$")


def _label(key: str, L: int) -> str:
    """LaTeX name of a :func:`quantities` key, e.g. ``back1`` → (W^{2})ᵀ δ^{2}."""
    if key == "grad_a":
        return f"\\nabla_a C = a^{{{L}}} - y"
    kind, l = _KEY.match(key).groups()
    l = int(l)
    return {
        "z": f"z^{{{l}}}",
        "a": f"a^{{{l}}}",
        "phi_prime": f"\\varphi'(z^{{{l}}})",
        "delta": f"\\delta^{{{l}}}",
        "back": f"(W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}}",
        "nabla_w": f"\\nabla W^{{{l}}}",
        "nabla_b": f"\\nabla b^{{{l}}}",
    }[kind]


def _redo(key: str, printed: dict[str, Array], net: MLP, x: Array, y: Array) -> Array | None:
    """One step of the walkthrough recomputed from the notes' own printed inputs.

    None when an input of the step is not printed.  x, y: first sample (n_0,), (n_L,).
    """
    L = net.num_layers

    def a(l: int) -> Array | None:
        return x if l == 0 else printed.get(f"a{l}")

    if key == "grad_a":
        aL = a(L)
        return None if aL is None else aL - y
    kind, l = _KEY.match(key).groups()
    l = int(l)
    phi = net.output if l == L else net.hidden
    get = printed.get
    if kind == "z":
        prev = a(l - 1)
        return None if prev is None else net.weights[l - 1] @ prev + net.biases[l - 1]
    if kind in ("a", "phi_prime"):
        z = get(f"z{l}")
        return None if z is None else (phi.phi(z) if kind == "a" else phi.phi_prime(z))
    if kind == "back":
        d = get(f"delta{l + 1}")
        return None if d is None else net.weights[l].T @ d
    if kind == "delta":
        first = get("grad_a") if l == L else get(f"back{l}")
        prime = get(f"phi_prime{l}")
        return None if first is None or prime is None else first * prime
    d, prev = get(f"delta{l}"), a(l - 1)
    if kind == "nabla_b":
        return d
    return None if d is None or prev is None else np.outer(d, prev)


@dataclass(frozen=True)
class Erratum:
    """One quantity the notes print wrongly.

    ``printed`` and ``computed`` share the quantity's shape; ``decimals`` gives,
    per number, how many decimals the notes print; ``redone`` is the step redone
    from the notes' own printed inputs (None if they are not all printed).
    """

    quantity: str
    label: str
    printed_text: str
    printed: Array
    decimals: Array
    computed: Array
    redone: Array | None
    diagnosis: str


#: The notes work to 4 decimals: a printed number may carry that much error from
#: rounded intermediates on top of its own rounding (half a unit of its last decimal).
WORKING_PRECISION = 1e-4

#: Diagnosis → what it means (shown above every errata table).
DIAGNOSES = {
    "slip in this step": (
        "redone from the notes' own printed inputs, this step gives another value: the "
        "arithmetic of this step is wrong"
    ),
    "carried over": "this step is right for the notes' own inputs; an earlier slip feeds it",
    "rounding": (
        "the printed value is off only by an intermediate that was rounded or truncated "
        "(within 10⁻⁴, the notes' working precision)"
    ),
}


def _parse_printed(text: str) -> tuple[Array, Array, str]:
    """'0.1 -0.25; 0.3 0.4' → values (rows, cols), decimals (rows, cols), '[[0.1, -0.25], …]'."""
    rows = [r.split() for r in text.split(";")]
    values = np.array([[float(t) for t in r] for r in rows])
    decimals = np.array([[len(t.partition(".")[2]) for t in r] for r in rows])
    shown = ["[" + ", ".join(r) + "]" for r in rows]
    return values, decimals, shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"


def errata(key: str, net: MLP, trace: Trace, y: Array, cost: str) -> list[Erratum]:
    """Every quantity of ``NOTES[key]`` whose printed value the engine contradicts.

    A printed number is wrong when it is not the computed value correctly rounded
    to the decimals the notes print (|printed − computed| > half a unit).  Each
    erratum is diagnosed (:data:`DIAGNOSES`) by redoing its step from the notes'
    own printed inputs; "agrees" then means within half a printed unit plus
    :data:`WORKING_PRECISION`.
    """
    ex = NOTES[check_choice("notes", key, NOTES)]
    q = quantities(net.weights, trace, y, cost)
    parsed = {}
    for name, text in ex.printed.items():
        values, decimals, shown = _parse_printed(text)
        if values.size != q[name].size:
            raise ValueError(
                f"NOTES[{key!r}][{name!r}] has {values.size} numbers, not {q[name].size}"
            )
        parsed[name] = (values.reshape(q[name].shape), decimals.reshape(q[name].shape), shown)
    printed = {name: v for name, (v, _, _) in parsed.items()}
    found = []
    for name in q:  # walkthrough order
        if name not in parsed:
            continue
        values, decimals, shown = parsed[name]
        half = 0.5 * 10.0 ** -decimals.astype(float)  # printed rounding, per number
        tol = half + WORKING_PRECISION + 1e-12
        off = np.abs(values - q[name])
        if np.all(off <= half + 1e-12):
            continue
        redone = _redo(name, printed, net, trace.a[0][0], y[0])
        if redone is not None and np.any(np.abs(values - redone) > tol):
            diagnosis = "slip in this step"
        elif np.all(off <= tol):
            diagnosis = "rounding"
        else:
            diagnosis = "carried over"
        found.append(
            Erratum(
                name,
                _label(name, net.num_layers),
                shown,
                values,
                decimals,
                q[name],
                redone,
                diagnosis,
            )
        )
    return found


def errata_table(key: str, found: Sequence[Erratum], precision: int, level: int) -> str:
    """Markdown section: the notes' value, the computed one, the redone step, the diagnosis."""
    ex = NOTES[key]
    out = [
        f"{'#' * level} Errata: {ex.where}",
        "",
        f"The notes print {len(ex.printed)} quantities for this example; {len(found)} of them "
        f"differ from the engine's value rounded to the notes' decimals. Computed values are "
        f"rounded to {precision} decimals. The column “step redone” repeats the step with the "
        "notes' own printed inputs, which tells a slip from an error carried over:",
        "",
        *(f"- **{d}**: {meaning}." for d, meaning in DIAGNOSES.items()),
        "",
    ]
    if not found:
        return "\n".join([*out[:3], "Every printed value agrees with the engine.", ""])
    out += [
        "| quantity | the notes print | computed | step redone from the notes' inputs "
        "| diagnosis |",
        "|---|---|---|---|---|",
    ]
    for e in found:
        redone = "—" if e.redone is None else plain(e.redone, precision)
        out.append(
            f"| ${e.label}$ | {e.printed_text} | {plain(e.computed, precision)} | {redone} "
            f"| {e.diagnosis} |"
        )
    return "\n".join(out) + "\n"


def notation_errata(level: int) -> str:
    """Markdown section listing :data:`NOTATION_ERRATA`."""
    out = [
        f"{'#' * level} Errata: formulas and conventions",
        "",
        "| where | the notes print | should read |",
        "|---|---|---|",
    ]
    out += [f"| {where} | {notes} | {fix} |" for where, notes, fix in NOTATION_ERRATA]
    return "\n".join(out) + "\n"


def worked_examples_page(examples: Sequence[Example], precision: int, command: str) -> str:
    """The docs page: every example's walkthrough, then all errata of the notes.

    ``command`` is how the page was generated (quoted in its header).
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
        "the end list every place where the notes print something else, with the notes' value "
        "and the computed one.",
        "",
        "Any other small network gets the same walkthrough with "
        "`python experiments/explain.py` (keys in `conf/explain.yaml`); for example "
        "`python experiments/explain.py +experiment=deep_sigmoid` follows an error down a "
        "deep sigmoid stack.",
        "",
    ]
    parts = ["\n".join(intro)]
    tables = [notation_errata(2)]
    for ex in examples:
        trace = ex.net.backprop(ex.x, ex.y, cost=ex.cost)
        parts.append(
            walkthrough(
                ex.net,
                trace,
                ex.y,
                ex.cost,
                title=ex.title,
                source=ex.source,
                precision=precision,
                level=2,
            )
        )
        if ex.notes is not None:
            found = errata(ex.notes, ex.net, trace, ex.y, ex.cost)
            tables.append(errata_table(ex.notes, found, precision, 2))
    return "\n".join(parts + tables)
