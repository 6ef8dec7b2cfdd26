"""The notes' errata: where their printed numbers disagree with the engine, and why.

:func:`errata` compares :data:`gradlab.explain.notes.NOTES` with the engine's
:func:`~gradlab.explain.quantities.quantities` for the same network and diagnoses each
disagreement by redoing its step from the notes' own printed inputs (a slip in
this step, an earlier slip carried over, or rounding).  :func:`errata_table`
and :func:`notation_errata` write the Markdown sections of
docs/worked-examples.md; the second lists :data:`gradlab.explain.notes.NOTATION_ERRATA`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradlab.engine.backprop import Trace
from gradlab.engine.network import MLP
from gradlab.errors import check_choice
from gradlab.explain.mathfmt import plain
from gradlab.explain.notes import NOTATION_ERRATA, NOTES
from gradlab.explain.quantities import quantities

Array = np.ndarray

#: A key of :func:`~gradlab.explain.quantities.quantities` other than ``grad_a``: (kind, layer l).
_KEY = re.compile(r"(z|a|phi_prime|delta|back|nabla_w|nabla_b)(\d+)$")


def _label(key: str, L: int) -> str:
    """LaTeX name of a quantities key, e.g. ``back1`` → (W^{2})ᵀ δ^{2}; L: number of layers."""
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

    The step named by ``key`` (z^l = W^l a^{l-1} + b^l, a^l = φ(z^l), eq. 1 or 4
    for δ^l, eqs. 6 and 5 for ∇W^l and ∇b^l) is evaluated on the values in
    ``printed`` (key → array of the quantity's shape) instead of the engine's.

    Returns
    -------
    ndarray or None
        The quantity's shape; None when an input of the step is not printed.
        x and y are the first sample, shapes (n_0,) and (n_L,).
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

    Attributes
    ----------
    quantity : str
        Key of :func:`~gradlab.explain.quantities.quantities`, e.g. ``"z1"``.
    label : str
        Its LaTeX name, e.g. ``z^{1}``.
    printed_text : str
        The notes' numbers as shown in the table, e.g. ``[0.24, 0.11, 0.63]``.
    printed, decimals, computed : ndarray
        The quantity's shape: the notes' values, how many decimals the notes
        print per number, and the engine's values.
    redone : ndarray or None
        The step redone from the notes' own printed inputs (None if they are
        not all printed).
    diagnosis : str
        A key of :data:`DIAGNOSES`.
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

    Parameters
    ----------
    key : str
        Key of :data:`gradlab.explain.notes.NOTES`.
    net : MLP
        The notes' network: W^l of shape (n_l, n_{l-1}), b^l of shape (n_l,).
    trace : Trace
        ``net.backprop(x, y, cost)`` for the notes' sample x of shape (1, n_0).
    y : ndarray, shape (1, n_L)
        The notes' target.
    cost : str
        The notes' cost (quadratic).

    Returns
    -------
    list of Erratum
        In walkthrough order; empty when every printed value agrees.
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
    """Markdown section: the notes' value, the computed one, the redone step, the diagnosis.

    Parameters
    ----------
    key : str
        Key of :data:`gradlab.explain.notes.NOTES` that ``found`` was computed for.
    found : sequence of Erratum
        ``errata(key, ...)``.
    precision : int
        Decimals of the computed and redone values.
    level : int
        Markdown heading level of the section.
    """
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
    """Markdown section, at heading ``level``, listing
    :data:`gradlab.explain.notes.NOTATION_ERRATA`."""
    out = [
        f"{'#' * level} Errata: formulas and conventions",
        "",
        "| where | the notes print | should read |",
        "|---|---|---|",
    ]
    out += [f"| {where} | {notes} | {fix} |" for where, notes, fix in NOTATION_ERRATA]
    return "\n".join(out) + "\n"
