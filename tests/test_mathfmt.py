"""Number and matrix formatting (gradlab.mathfmt), against strings written by hand."""

from gradlab.mathfmt import fmt


def test_fmt_keeps_small_numbers_visible():
    assert fmt(0.23, 4) == "0.2300"
    assert fmt(-0.0, 4) == "0.0000"
    assert fmt(-0.00004, 4) == "-4.0000 \\times 10^{-5}"
    assert fmt(1.5e-7, 2, latex=False) == "1.50e-7"
    assert fmt(0.004, 4, latex=False, sci_below=0.01) == "4.0000e-3"
