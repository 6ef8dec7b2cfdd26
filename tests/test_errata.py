"""The notes' errata (gradlab.explain.errata): checked against hand arithmetic on the
notes' numbers.

The examples come straight from the seed presets (conf/explain/experiment/seed_*.yaml),
the notes' own W, b, x and y; the expected slips are worked out by hand below.
"""

import math

import numpy as np
import pytest
from helpers import ROOT
from omegaconf import OmegaConf

from gradlab.explain.errata import errata, errata_table
from gradlab.explain.example import build_example
from gradlab.explain.notes import NOTATION_ERRATA, NOTES, NotesExample


def seed_example(key: str):
    """The notes' example ``key`` as its preset in conf/explain/experiment/ gives it; its trace."""
    preset = OmegaConf.load(ROOT / "conf" / "explain" / "experiment" / f"seed_{key}.yaml")
    ex = build_example(**OmegaConf.to_container(preset))
    return ex, ex.net.backprop(ex.x, ex.y, cost=ex.cost)


def test_errata_of_example_232_match_hand_arithmetic():
    ex, trace = seed_example("example_232")
    found = {e.quantity: e for e in errata("example_232", ex.net, trace, ex.y, "quadratic")}
    # z^1 is wrong in the notes, so every printed quantity downstream is wrong too
    assert set(found) == set(NOTES["example_232"].printed)
    slips = {k for k, e in found.items() if e.diagnosis == "slip in this step"}
    assert slips == {"z1", "a1", "z2", "back1"}
    assert {e.diagnosis for k, e in found.items() if k not in slips} == {"carried over"}
    np.testing.assert_allclose(found["z1"].computed, [0.23, 0.11, 0.64], atol=1e-12)
    sigma = 1 / (1 + math.exp(-0.63))  # the notes' a^1_3 = σ(0.63) is printed as 0.6522
    assert found["a1"].redone[2] == pytest.approx(sigma) and round(sigma, 4) == 0.6525
    a1 = (0.5597, 0.5275, 0.6522)  # the notes' own a^1 into z^2 = W^2 a^1 + b^2
    z2 = (
        0.3 * a1[0] - 0.7 * a1[1] + 0.2 * a1[2] + 0.05,
        0.6 * a1[0] + 0.1 * a1[1] - 0.5 * a1[2] - 0.05,
    )
    np.testing.assert_allclose(found["z2"].redone, z2, rtol=1e-12)
    d2 = (-0.1138, 0.1291)  # the notes' own δ^2 into (W^2)ᵀδ^2
    back = (0.3 * d2[0] + 0.6 * d2[1], -0.7 * d2[0] + 0.1 * d2[1], 0.2 * d2[0] - 0.5 * d2[1])
    np.testing.assert_allclose(found["back1"].redone, back, rtol=1e-12)
    assert found["back1"].redone[1] > 0 > found["back1"].printed[1]  # the sign slip


def test_errata_of_example_221_are_rounding_only():
    ex, trace = seed_example("example_221")
    found = {e.quantity: e for e in errata("example_221", ex.net, trace, ex.y, "quadratic")}
    # the forward pass is printed right (z^1 = [0.35, 0.3] exactly, by hand) ...
    assert not {"z1", "a1", "z2", "a2"} & set(found)
    # ... and the backward values the engine issue found are off in the 4th decimal only
    assert {"back1", "delta1", "nabla_w2", "nabla_w1"} <= set(found)
    for e in found.values():
        assert e.diagnosis == "rounding"
        assert np.max(np.abs(e.printed - e.computed)) <= 1.5e-4


def test_planted_slip_is_told_from_the_error_it_carries(monkeypatch):
    # Network [2, 2, 1] of the notes; by hand z^1 = [0.1 + 0.15 + 0.1, 0.2 + 0.2 - 0.1]
    # = [0.35, 0.3].  Plant z^1_2 = 0.31 and print a^1 = σ(z^1) from it correctly:
    # σ(0.31) = 0.57689 (the true a^1_2 = σ(0.3) = 0.57444).
    ex, trace = seed_example("example_221")
    planted = {"z1": "0.35 0.31", "a1": "0.5866 0.5769"}
    monkeypatch.setitem(NOTES, "planted", NotesExample("planted", planted))
    found = {e.quantity: e for e in errata("planted", ex.net, trace, ex.y, "quadratic")}
    assert found["z1"].diagnosis == "slip in this step"
    np.testing.assert_allclose(found["z1"].redone, [0.35, 0.3], atol=1e-12)
    assert found["a1"].diagnosis == "carried over"
    np.testing.assert_allclose(found["a1"].redone, [0.58662, 0.57689], atol=1e-5)
    # the same numbers printed right (0.30, not 0.31) leave nothing to report
    monkeypatch.setitem(NOTES, "planted", NotesExample("planted", {"z1": "0.35 0.30"}))
    assert errata("planted", ex.net, trace, ex.y, "quadratic") == []
    assert "Every printed value agrees with the engine." in errata_table("planted", [], 4, 2)


def test_docs_contain_every_erratum():
    text = (ROOT / "docs" / "worked-examples.md").read_text(encoding="utf-8")
    for where, notes, fix in NOTATION_ERRATA:
        assert f"| {where} | {notes} | {fix} |" in text
    for key in ("example_221", "example_232"):
        ex, trace = seed_example(key)
        for e in errata(key, ex.net, trace, ex.y, "quadratic"):
            assert f"| ${e.label}$ | {e.printed_text} |" in text
