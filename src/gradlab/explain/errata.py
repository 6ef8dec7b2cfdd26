"""The notes' errata: where their printed numbers disagree with the engine, and why.

:func:`errata` compares :data:`gradlab.explain.notes.NOTES` with the engine's
:func:`~gradlab.explain.quantities.quantities` for the same network and diagnoses each
disagreement by redoing its step from the notes' own printed inputs (:data:`DIAGNOSES`:
a slip in this step, an earlier slip carried over, or rounding); a slip's wrong
entries, its sign errors and what they flip further on are part of the result.
:mod:`gradlab.explain.errata_md` writes them as Markdown.  Pure math: arrays in,
dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradlab.engine.backprop import Trace
from gradlab.engine.network import MLP
from gradlab.errors import check_choice
from gradlab.explain.notes import NOTES
from gradlab.explain.quantities import quantities

Array = np.ndarray

#: A key of :func:`~gradlab.explain.quantities.quantities` other than ``grad_a``: (kind, layer l).
QUANTITY_KEY = re.compile(r"(z|a|phi_prime|delta|back|nabla_w|nabla_b)(\d+)$")


def _label(key: str, L: int) -> str:
    """LaTeX name of a quantities key, e.g. ``back1`` → (W^{2})ᵀ δ^{2}; L: number of layers."""
    if key == "grad_a":
        return f"\\nabla_a C = a^{{{L}}} - y"
    kind, l = QUANTITY_KEY.match(key).groups()
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
    kind, l = QUANTITY_KEY.match(key).groups()
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
    wrong_entries : tuple of tuple of int
        For a slip in this step: the 0-based indices where the printed value
        and the redone one disagree beyond rounding.
    sign_errors : tuple of tuple of int
        Those of ``wrong_entries`` that are sign errors (:func:`is_sign_error`).
    flips : tuple of (str, int)
        What the sign errors make wrong further on (:func:`_flips`): quantity
        key and 0-based entry (row, for ∇W^l).
    """

    quantity: str
    label: str
    printed_text: str
    printed: Array
    decimals: Array
    computed: Array
    redone: Array | None
    diagnosis: str
    wrong_entries: tuple[tuple[int, ...], ...] = ()
    sign_errors: tuple[tuple[int, ...], ...] = ()
    flips: tuple[tuple[str, int], ...] = ()


#: The notes work to 4 decimals: a printed number may carry that much error from
#: rounded intermediates on top of its own rounding (half a unit of its last decimal).
WORKING_PRECISION = 1e-4

#: A wrong entry is a sign error when minus the printed value is within this
#: fraction of the redone one: −0.0907 printed for +0.0926 is one; 0.167 printed
#: for −0.0209 (a wrong sum) is not.
SIGN_SLACK = 0.1

#: Diagnosis → what it means (shown above every errata table).
DIAGNOSES = {
    "slip in this step": (
        "redone from the notes' own printed inputs, this step gives another value (off by "
        "more than half a unit of the printed decimal plus 10⁻⁴): the arithmetic of this "
        "step is wrong. A **sign error** is an entry printed with the wrong sign at about "
        "the right size"
    ),
    "carried over": (
        "redone from the notes' own printed inputs, this step gives the printed value, "
        "correctly rounded: the step is right and an earlier slip feeds it"
    ),
    "carried over, last digit off": (
        "an earlier slip feeds it, and the step redone from the notes' own printed inputs "
        "matches the printed value to within 10⁻⁴ beyond rounding (the notes' working "
        "precision), not to the printed decimals: one unit off in the last decimal"
    ),
    "rounding": (
        "the printed value is within 10⁻⁴ (the notes' working precision) of the engine's "
        "beyond rounding and no step of it is wrong: rounded intermediates"
    ),
    "wrong": (
        "the printed value differs from the engine's by more than rounding; the step cannot "
        "be redone because the notes do not print all of its inputs"
    ),
}


def is_sign_error(printed: float, redone: float) -> bool:
    """Opposite signs and |printed + redone| ≤ :data:`SIGN_SLACK` · |redone|."""
    return printed * redone < 0 and abs(printed + redone) <= SIGN_SLACK * abs(redone)


#: Quantity kind → the kinds of the same layer whose entry i (row i, for ∇W)
#: carries the sign of its entry i: δ^l = back^l ⊙ φ′(z^l) (eq. 4; eq. 1 with
#: ∇_a C at l = L), ∇b^l = δ^l (eq. 5), row i of ∇W^l = δ^l_i (a^{l-1})ᵀ (eq. 6).
_CARRIES_SIGN = {
    "grad_a": ("delta", "nabla_b", "nabla_w"),
    "back": ("delta", "nabla_b", "nabla_w"),
    "delta": ("nabla_b", "nabla_w"),
}


def _flips(
    name: str, entries: Sequence[tuple[int, ...]], printed: dict[str, Array], q: dict[str, Array]
) -> tuple[tuple[str, int], ...]:
    """Where a sign error in ``entries`` of quantity ``name`` shows up further on.

    For each entry i: the quantities of :data:`_CARRIES_SIGN` whose printed
    entry i (every entry of row i, for ∇W^l) has the opposite sign to the
    engine's ``q``, as (key, i).
    """
    if name == "grad_a":
        kind, l = name, max(int(k[5:]) for k in q if k.startswith("delta"))  # layer L
    else:
        kind, l = QUANTITY_KEY.match(name).groups()
    found = []
    for (i,) in entries if kind in _CARRIES_SIGN else ():  # vectors only
        for key in (f"{k}{l}" for k in _CARRIES_SIGN[kind]):
            if key in printed and np.all(np.sign(printed[key][i]) == -np.sign(q[key][i])):
                found.append((key, i))
    return tuple(found)


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
    own printed inputs: a slip when the redone value is off by more than half a
    printed unit plus :data:`WORKING_PRECISION`, "carried over" only when the
    printed value is the redone one correctly rounded.  A slip records its wrong
    entries, which of them are sign errors (:func:`is_sign_error`) and the
    entries those make wrong further on (:func:`_flips`).

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
        half = 0.5 * 10.0 ** -decimals.astype(float) + 1e-12  # printed rounding, per number
        if np.all(np.abs(values - q[name]) <= half):
            continue
        redone = _redo(name, printed, net, trace.a[0][0], y[0])
        diagnosis = _diagnose(values, half, q[name], redone)
        wrong, signs, flips = (), (), ()
        if diagnosis == "slip in this step":
            off = np.abs(values - redone) > half + WORKING_PRECISION
            wrong = tuple(tuple(int(k) for k in i) for i in np.argwhere(off))
            signs = tuple(i for i in wrong if is_sign_error(values[i], redone[i]))
            flips = _flips(name, signs, printed, q)
        found.append(
            Erratum(
                quantity=name,
                label=_label(name, net.num_layers),
                printed_text=shown,
                printed=values,
                decimals=decimals,
                computed=q[name],
                redone=redone,
                diagnosis=diagnosis,
                wrong_entries=wrong,
                sign_errors=signs,
                flips=flips,
            )
        )
    return found


def _diagnose(printed: Array, half: Array, computed: Array, redone: Array | None) -> str:
    """The :data:`DIAGNOSES` key of a printed value that is not the engine's, rounded.

    ``half`` is half a unit of each printed number's last decimal; all arrays
    have the quantity's shape (``redone``: None if the step cannot be redone).
    """
    tol = half + WORKING_PRECISION
    if redone is not None and np.any(np.abs(printed - redone) > tol):
        return "slip in this step"
    if np.all(np.abs(printed - computed) <= tol):
        return "rounding"
    if redone is None:
        return "wrong"
    if np.all(np.abs(printed - redone) <= half):
        return "carried over"
    return "carried over, last digit off"
