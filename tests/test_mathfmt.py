"""Number and matrix formatting (gradlab.explain.mathfmt), against strings written by hand."""

import numpy as np

from gradlab.explain.mathfmt import bmatrix, col, display, fmt, plain, row


def test_fmt_keeps_small_numbers_visible():
    assert fmt(0.23, 4) == "0.2300"
    assert fmt(-0.0, 4) == "0.0000"
    assert fmt(-0.00004, 4) == "-4.0000 \\times 10^{-5}"
    assert fmt(1.5e-7, 2, latex=False) == "1.50e-7"
    assert fmt(0.004, 4, latex=False, sci_below=0.01) == "4.0000e-3"
    assert fmt(2.5e6, 1, latex=False) == "2.5e6"
    assert fmt(-0.00004, 4, sci_below=0.0) == "0.0000"  # rounds to zero: no sign
    assert fmt(np.inf, 4) == "inf"


def test_matrices_break_after_every_row():
    m = np.array([[1.0, -2.5], [0.25, 3.0]])  # (2, 2)
    assert bmatrix(m, 2) == "\\begin{bmatrix} 1.00 & -2.50 \\\\\n0.25 & 3.00 \\end{bmatrix}"
    assert col([1.0, 2.0], 0) == "\\begin{bmatrix} 1 \\\\\n2 \\end{bmatrix}"
    assert row([1.0, 2.0], 0) == "\\begin{bmatrix} 1 & 2 \\end{bmatrix}"
    assert display("a = 1", "b = 2") == "$$\na = 1\nb = 2\n$$"


def test_plain_is_a_nested_list():
    assert plain([0.5, -1e-5], 2) == "[0.50, -1.00e-5]"
    assert plain(np.array([[1.0, 2.0], [3.0, 4.0]]), 1) == "[[1.0, 2.0], [3.0, 4.0]]"
