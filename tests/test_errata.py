"""The notes' number errata (gradlab.explain.errata, gradlab.explain.errata_md): checked
against hand arithmetic on the notes' printed numbers.

The examples come straight from the seed presets (``+experiment=seed_example_*``),
the notes' own W, b, x and y; the expected slips are worked out by hand below.
"""

import inspect
import math

import numpy as np
import pytest
from helpers import ROOT, compose_config
from omegaconf import OmegaConf

from gradlab.explain.errata import errata
from gradlab.explain.errata_md import errata_table
from gradlab.explain.example import build_example
from gradlab.explain.notes import NOTATION_ERRATA, NOTES, NotesExample


def seed_example(key: str):
    """The notes' example ``key`` as ``+experiment=seed_<key>`` composes it, and its trace."""
    cfg = compose_config([f"+experiment=seed_{key}"], config_name="explain")
    spec = OmegaConf.to_container(cfg, resolve=True)
    ex = build_example(**{k: spec[k] for k in inspect.signature(build_example).parameters})
    return ex, ex.net.backprop(ex.x, ex.y, cost=ex.cost)


def test_errata_of_example_232_match_hand_arithmetic():
    ex, trace = seed_example("example_232")
    found = {e.quantity: e for e in errata("example_232", ex.net, trace, ex.y, "quadratic")}
    # z^1 is wrong in the notes, so every printed quantity downstream is wrong too
    assert set(found) == set(NOTES["example_232"].printed)
    slips = {k for k, e in found.items() if e.diagnosis == "slip in this step"}
    assert slips == {"z1", "a1", "z2", "back1"}
    np.testing.assert_allclose(found["z1"].computed, [0.23, 0.11, 0.64], atol=1e-12)
    assert found["z1"].wrong_entries == ((0,), (2,))  # 0.24 for 0.23, 0.63 for 0.64
    # the notes' a^1_3 = σ(0.63) = 0.65248 is printed as 0.6522
    assert found["a1"].redone[2] == pytest.approx(1 / (1 + math.exp(-0.63)), rel=1e-14)
    assert found["a1"].wrong_entries == ((2,),)
    a1 = (0.5597, 0.5275, 0.6522)  # the notes' own a^1 into z^2 = W^2 a^1 + b^2
    z2 = (
        0.3 * a1[0] - 0.7 * a1[1] + 0.2 * a1[2] + 0.05,
        0.6 * a1[0] + 0.1 * a1[1] - 0.5 * a1[2] - 0.05,
    )
    np.testing.assert_allclose(found["z2"].redone, z2, rtol=1e-12)
    d2 = (-0.1138, 0.1291)  # the notes' own δ^2 into (W^2)ᵀδ^2
    back = (0.3 * d2[0] + 0.6 * d2[1], -0.7 * d2[0] + 0.1 * d2[1], 0.2 * d2[0] - 0.5 * d2[1])
    np.testing.assert_allclose(found["back1"].redone, back, rtol=1e-12)


def test_carried_over_means_the_notes_inputs_give_the_printed_value():
    # Redone by hand from the notes' printed inputs:
    #   δ^2     = (−0.4583·0.2483, 0.5172·0.2497) = (−0.11380, 0.12914), printed (−0.1138, 0.1291);
    #   δ^1_1   = 0.0278·0.2464 = 0.0068499, printed 0.0069 (rounded: 0.0068);
    #   ∇W^2_13 = −0.1138·0.6522 = −0.074220, printed −0.0743 (rounded: −0.0742);
    #   ∇W^1_21 = −0.0226·0.9 = −0.02034, printed −0.0204 (rounded: −0.0203).
    ex, trace = seed_example("example_232")
    found = {e.quantity: e for e in errata("example_232", ex.net, trace, ex.y, "quadratic")}
    hand = {
        ("delta2", (0,)): -0.4583 * 0.2483,
        ("delta2", (1,)): 0.5172 * 0.2497,
        ("delta1", (0,)): 0.0278 * 0.2464,
        ("nabla_w2", (0, 2)): -0.1138 * 0.6522,
        ("nabla_w1", (1, 0)): -0.0226 * 0.9,
    }
    for (key, i), value in hand.items():
        assert found[key].redone[i] == pytest.approx(value, rel=1e-12), key
    assert found["delta2"].diagnosis == "carried over"
    last_digit = {k for k, e in found.items() if e.diagnosis == "carried over, last digit off"}
    assert last_digit == {"delta1", "nabla_w2", "nabla_w1"}
    # "carried over" promises the printed value is the redone one, correctly rounded
    for e in found.values():
        if e.diagnosis == "carried over":
            half = 0.5 * 10.0**-e.decimals
            assert np.all(np.abs(e.printed - e.redone) <= half + 1e-12), e.quantity


def test_the_sign_error_is_named_with_what_it_flips():
    # By hand from the notes' δ^2 = (−0.1138, 0.1291): the second entry of (W^2)ᵀδ^2 is
    # −0.7·(−0.1138) + 0.1·0.1291 = +0.0926; the notes print −0.0907.  δ^1_2 = that entry
    # times σ′(z^1_2) > 0, ∇b^1_2 = δ^1_2 and row 2 of ∇W^1 = δ^1_2·x with x > 0 all carry
    # its sign: the engine's are positive, the notes print them negative.
    ex, trace = seed_example("example_232")
    found = {e.quantity: e for e in errata("example_232", ex.net, trace, ex.y, "quadratic")}
    back = found["back1"]
    assert back.sign_errors == ((1,),)
    assert back.redone[1] == pytest.approx(-0.7 * -0.1138 + 0.1 * 0.1291, rel=1e-12)
    assert back.printed[1] * back.redone[1] < 0
    assert back.flips == (("delta1", 1), ("nabla_b1", 1), ("nabla_w1", 1))
    assert trace.delta[0][0, 1] > 0 and np.all(trace.nabla_w[0][1] > 0)
    assert found["delta1"].printed[1] < 0 and np.all(found["nabla_w1"].printed[1] < 0)
    # z^2_1: printed 0.167, from the notes' own a^1 −0.0209: opposite sign, but a wrong
    # sum (8 times too large), not a sign error
    assert found["z2"].printed[0] * found["z2"].redone[0] < 0
    assert found["z2"].sign_errors == ()
    rows = errata_table("example_232", list(found.values()), 4, 2).splitlines()
    row = next(r for r in rows if r.startswith("| $(W^{2})^\\top"))
    assert "**sign error**" in row and "-0.0907" in row and "+0.0926" in row
    assert "$\\delta_{2}^{1}$, $\\nabla b_{2}^{1}$ and row 2 of $\\nabla W^{1}$" in row


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


def test_planted_sign_error_is_told_from_a_wrong_size(monkeypatch):
    # Network [2, 2, 1] of the notes, whose (W^2)ᵀδ^2 = (0.7, −1.2)·(−0.0880) is printed
    # right as (−0.0616, 0.1056).  Plant −0.1056 and carry it: δ^1_2 = −0.1056·0.2445.
    ex, trace = seed_example("example_221")
    printed = dict(NOTES["example_221"].printed)
    printed.update(back1="-0.0616 -0.1056", delta1="-0.0149 -0.0258", nabla_b1="-0.0149 -0.0258")
    monkeypatch.setitem(NOTES, "planted", NotesExample("planted", printed))
    found = {e.quantity: e for e in errata("planted", ex.net, trace, ex.y, "quadratic")}
    assert found["back1"].diagnosis == "slip in this step"
    assert found["back1"].sign_errors == ((1,),)
    assert found["back1"].flips == (("delta1", 1), ("nabla_b1", 1))  # ∇W^1 printed right
    # the same entry printed at twice its size, right sign: a slip, not a sign error
    printed.update(back1="-0.0616 0.2112", delta1="-0.0149 0.0516", nabla_b1="-0.0149 0.0516")
    monkeypatch.setitem(NOTES, "planted", NotesExample("planted", printed))
    found = {e.quantity: e for e in errata("planted", ex.net, trace, ex.y, "quadratic")}
    assert found["back1"].wrong_entries == ((1,),) and found["back1"].sign_errors == ()


def test_docs_contain_every_erratum():
    text = (ROOT / "docs" / "worked-examples.md").read_text(encoding="utf-8")
    for e in NOTATION_ERRATA:
        assert f"| {e.where} | {e.notes} | {e.fix} |" in text
    assert len({e.key for e in NOTATION_ERRATA}) == len(NOTATION_ERRATA)
    for key in ("example_221", "example_232"):
        ex, trace = seed_example(key)
        for e in errata(key, ex.net, trace, ex.y, "quadratic"):
            assert f"| ${e.label}$ | {e.printed_text} |" in text
