"""The notes' errata as Markdown: the sections of docs/worked-examples.md that list them.

:func:`errata_table` writes one worked example's number errata (from
:func:`gradlab.explain.errata.errata`), naming each slip's wrong entries and
sign errors; :func:`notation_errata` lists
:data:`gradlab.explain.notes.NOTATION_ERRATA`.  Math follows the rules of
:mod:`gradlab.explain.mathfmt` (no ``|`` inside ``$…$``, no ``_`` after ``}``).
"""

from __future__ import annotations

from collections.abc import Sequence

from gradlab.explain.errata import DIAGNOSES, QUANTITY_KEY, Erratum
from gradlab.explain.mathfmt import plain
from gradlab.explain.notes import NOTATION_ERRATA, NOTES


def _entry(index: tuple[int, ...]) -> str:
    """0-based (i,) or (i, j) → "2" or "(2, 1)", counted from 1 as the notes' §5 counts."""
    return str(index[0] + 1) if len(index) == 1 else str(tuple(i + 1 for i in index))


def _listed(items: Sequence[str]) -> str:
    """["a", "b", "c"] → "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _flip_label(key: str, i: int) -> str:
    """("delta1", 1) → "$\\delta_{2}^{1}$"; ("nabla_w1", 1) → "row 2 of $\\nabla W^{1}$"."""
    kind, l = QUANTITY_KEY.match(key).groups()
    if kind == "nabla_w":
        return f"row {i + 1} of $\\nabla W^{{{l}}}$"
    symbol = "\\delta" if kind == "delta" else "\\nabla b"
    return f"${symbol}_{{{i + 1}}}^{{{l}}}$"


def _slip_note(e: Erratum) -> str:
    """What is wrong in a slip: which entries, which are sign errors, what they flip."""
    n, wrong = e.printed.size, [_entry(i) for i in e.wrong_entries]
    if len(wrong) == n > 1:
        out = "both entries are wrong" if n == 2 else f"all {n} entries are wrong"
    else:
        one = len(wrong) == 1
        out = f"{'entry' if one else 'entries'} {_listed(wrong)} {'is' if one else 'are'} wrong"
    for i in e.sign_errors:
        d = int(e.decimals[i])
        out += (
            f"; entry {_entry(i)} is a **sign error**: the notes print {e.printed[i]:+.{d}f} "
            f"where their own inputs give {e.redone[i]:+.{d}f}"
        )
    if e.flips:
        flipped = _listed([_flip_label(key, i) for key, i in e.flips])
        out += f", so the notes' {flipped} have the wrong sign too"
    return out


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
    used = {e.diagnosis for e in found}
    out = [
        f"{'#' * level} Errata: {ex.where}",
        "",
        f"The notes print {len(ex.printed)} quantities for this example; {len(found)} of them "
        f"differ from the engine's value rounded to the notes' decimals. Computed values are "
        f"rounded to {precision} decimals. The column “step redone” repeats the step with the "
        "notes' own printed inputs, which tells a slip from an error carried over:",
        "",
        *(f"- **{d}**: {text}." for d, text in DIAGNOSES.items() if d in used),
        "",
    ]
    if not found:
        return "\n".join([*out[:3], "Every printed value agrees with the engine.", ""])
    out += [
        "Entries are counted from 1, as §5 counts them ($z_1^2$, $z_2^2$).",
        "",
        "| quantity | the notes print | computed | step redone from the notes' inputs "
        "| diagnosis |",
        "|---|---|---|---|---|",
    ]
    for e in found:
        redone = "—" if e.redone is None else plain(e.redone, precision)
        diagnosis = e.diagnosis + (f": {_slip_note(e)}" if e.wrong_entries else "")
        out.append(
            f"| ${e.label}$ | {e.printed_text} | {plain(e.computed, precision)} | {redone} "
            f"| {diagnosis} |"
        )
    return "\n".join(out) + "\n"


def notation_errata(level: int) -> str:
    """Markdown section, at heading ``level``, listing
    :data:`gradlab.explain.notes.NOTATION_ERRATA`."""
    out = [
        f"{'#' * level} Errata: formulas and notation",
        "",
        "Sections are the notes' own numbers; the notes number two sections 2.4, and §2.4.1 "
        "and §2.4.2 belong to the second (on the previous layer's activations). Each entry is "
        "checked numerically or by shape in tests/test_notation_errata.py.",
        "",
        "| where | the notes print | should read |",
        "|---|---|---|",
    ]
    out += [f"| {e.where} | {e.notes} | {e.fix} |" for e in NOTATION_ERRATA]
    return "\n".join(out) + "\n"
