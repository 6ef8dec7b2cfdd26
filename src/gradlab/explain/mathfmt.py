"""Numbers and matrices as LaTeX for GitHub-rendered Markdown.

Rules for GitHub's MathJax, which every function here keeps: inline math in
``$…$`` (no ``|``, which would split a table cell); display math in ``$$``
blocks on lines of their own with a line break after every ``\\``; never ``_``
right after ``}`` or ``)``, which GitHub's Markdown pass can read as the start
of emphasis.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def fmt(v: float, precision: int, latex: bool = True, sci_below: float | None = None) -> str:
    """One number with ``precision`` decimals; scientific when that would hide it.

    Nonzero values below ``sci_below`` (default 10^-precision: they would print as
    0.0000) and values of 10^6 or more are written m × 10^k, ``precision``
    decimals in m.

    Parameters
    ----------
    v : float
        The number; nan and ±inf print as Python does.
    precision : int
        Decimals shown (of m, when scientific).
    latex : bool
        True: ``m \\times 10^{k}`` for math mode; False: ``mek`` for plain text.
    sci_below : float or None
        Magnitude below which a nonzero value switches to scientific notation.

    Returns
    -------
    str
        Never ``-0.0000``: a value that rounds to zero prints unsigned.
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
    """A 2-D array (rows, cols) as ``\\begin{bmatrix}``, one line per row (GitHub's rule)."""
    rows = [" & ".join(fmt(v, precision) for v in row) for row in np.array(m, ndmin=2)]
    return "\\begin{bmatrix} " + " \\\\\n".join(rows) + " \\end{bmatrix}"


def col(v: Array, precision: int) -> str:
    """A vector (n,) as an n × 1 column."""
    return bmatrix(np.asarray(v).reshape(-1, 1), precision)


def row(v: Array, precision: int) -> str:
    """A vector (n,) as a 1 × n row."""
    return bmatrix(np.asarray(v).reshape(1, -1), precision)


def plain(v: Array, precision: int) -> str:
    """A vector (n,) or matrix (rows, cols) as ``[a, b]`` / ``[[a, b], [c, d]]`` for table cells."""
    v = np.asarray(v)
    if v.ndim == 2:
        return "[" + ", ".join(plain(r, precision) for r in v) + "]"
    return "[" + ", ".join(fmt(x, precision, latex=False) for x in v.ravel()) + "]"


def display(*lines: str) -> str:
    """A ``$$`` display-math block, the delimiters on lines of their own."""
    return "$$\n" + "\n".join(lines) + "\n$$"
