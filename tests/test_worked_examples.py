"""The notes' two worked examples (§5), recomputed by a scalar reference and compared
with the engine and with the numbers the notes print.

The reference below is written from the notes' component formulas with plain
Python floats and ``math.exp`` (no numpy, no gradlab), so it shares no code with
the engine.  The notes' printed numbers come from ``gradlab.explain.notes.NOTES``,
the one place they are typed in; the networks are typed here again from the notes,
independently of the presets docs/worked-examples.md is generated from.
"""

import math

import numpy as np
import pytest
from helpers import compose_config
from omegaconf import OmegaConf

import gradlab
from gradlab.explain.notes import NOTES


def sigma(z):
    return 1.0 / (1.0 + math.exp(-z))


def scalar_backprop(W, b, x, y):
    """z_j = Σ_k w_jk a_k + b_j; δ^L_j = (a_j − y_j)σ′(z_j); δ^l_k = Σ_j δ_j w_jk σ′(z_k).

    Returns every quantity the notes print, by the keys of ``NOTES[...].printed``:
    lists for vectors, lists of rows for ∇W.
    """
    acts, zs = [list(x)], []
    for Wl, bl in zip(W, b, strict=True):
        z = [
            sum(w * a for w, a in zip(row, acts[-1], strict=True)) + bj
            for row, bj in zip(Wl, bl, strict=True)
        ]
        zs.append(z)
        acts.append([sigma(v) for v in z])
    L = len(W)
    primes = [[sigma(v) * (1 - sigma(v)) for v in z] for z in zs]
    out = {f"{k}{l + 1}": v[l] for l in range(L) for k, v in (("z", zs), ("a", acts[1:]))}
    out["grad_a"] = [a - t for a, t in zip(acts[-1], y, strict=True)]
    deltas = [None] * L
    deltas[-1] = [g * p for g, p in zip(out["grad_a"], primes[-1], strict=True)]
    for l in range(L - 2, -1, -1):
        nxt, Wn = deltas[l + 1], W[l + 1]
        back = [sum(nxt[j] * Wn[j][k] for j in range(len(nxt))) for k in range(len(zs[l]))]
        out[f"back{l + 1}"] = back
        deltas[l] = [g * p for g, p in zip(back, primes[l], strict=True)]
    for l in range(L):
        out[f"phi_prime{l + 1}"] = primes[l]
        out[f"delta{l + 1}"] = out[f"nabla_b{l + 1}"] = deltas[l]
        out[f"nabla_w{l + 1}"] = [[d * a for a in acts[l]] for d in deltas[l]]
    return out


def printed(key: str, name: str) -> np.ndarray:
    """The notes' numbers for one quantity as NOTES types them ('0.1 0.2; 0.3 0.4'),
    one row per ``;`` (a vector is one row), shape (rows, cols)."""
    text = NOTES[key].printed[name]
    return np.array([[float(t) for t in row.split()] for row in text.split(";")])


def reference(ref: dict, name: str) -> np.ndarray:
    """A reference quantity in the layout of :func:`printed`: (rows, cols)."""
    return np.atleast_2d(np.array(ref[name]))


EXAMPLES = {
    # notes §5, network [2, 2, 1]
    "221": dict(
        W=[[[0.1, 0.3], [0.2, 0.4]], [[0.7, -1.2]]], b=[[0.1, -0.1], [0.05]], x=[1.0, 0.5], y=[0.8]
    ),
    # notes §5, network [2, 3, 2]
    "232": dict(
        W=[[[0.1, 0.4], [0.2, 0.3], [0.5, -0.1]], [[0.3, -0.7, 0.2], [0.6, 0.1, -0.5]]],
        b=[[0.1, -0.1, 0.2], [0.05, -0.05]],
        x=[0.9, 0.1],
        y=[1.0, 0.0],
    ),
}


def engine_trace(name: str):
    """The engine's backprop trace of ``EXAMPLES[name]``."""
    ex = EXAMPLES[name]
    net = gradlab.MLP.from_arrays(
        [np.array(w) for w in ex["W"]], [np.array(v) for v in ex["b"]], "sigmoid"
    )
    return net.backprop(np.array([ex["x"]]), np.array([ex["y"]]), cost="quadratic")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_engine_matches_scalar_reference(name):
    ref = scalar_backprop(**EXAMPLES[name])
    trace = engine_trace(name)
    for i in range(2):
        l = i + 1
        np.testing.assert_allclose(trace.z[i][0], ref[f"z{l}"], rtol=1e-14)
        np.testing.assert_allclose(trace.a[l][0], ref[f"a{l}"], rtol=1e-14)
        np.testing.assert_allclose(trace.phi_prime[i][0], ref[f"phi_prime{l}"], rtol=1e-12)
        np.testing.assert_allclose(trace.delta[i][0], ref[f"delta{l}"], rtol=1e-12)
        np.testing.assert_allclose(trace.nabla_b[i], ref[f"nabla_b{l}"], rtol=1e-12)
        np.testing.assert_allclose(trace.nabla_w[i], ref[f"nabla_w{l}"], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_docs_presets_are_the_notes_networks(name):
    cfg = compose_config([f"+experiment=seed_example_{name}"], config_name="explain")
    preset = OmegaConf.to_container(cfg, resolve=True)
    ex = EXAMPLES[name]
    assert preset["notes"] == f"example_{name}"
    assert (preset["weights"], preset["biases"]) == (ex["W"], ex["b"])
    assert (preset["x"], preset["y"]) == (ex["x"], ex["y"])


def test_the_notes_221_agree_with_the_reference_to_their_precision():
    # Every number the notes print for [2, 2, 1] is the reference value to within half a
    # unit of its last decimal plus 10⁻⁴ (the notes round δ before multiplying); the
    # forward pass is exact to the printed decimals.
    ref = scalar_backprop(**EXAMPLES["221"])
    for name, text in NOTES["example_221"].printed.items():
        decimals = max(len(t.partition(".")[2]) for t in text.replace(";", " ").split())
        half = 0.5 * 10.0**-decimals
        extra = 0.0 if name in ("z1", "a1", "z2", "a2") else 1e-4
        shown, want = printed("example_221", name), reference(ref, name)
        assert shown.shape == want.shape, name
        np.testing.assert_allclose(shown, want, atol=half + extra + 1e-12, rtol=0, err_msg=name)


def test_the_notes_232_go_wrong_at_z1_and_flip_the_sign_of_delta1_2():
    ref = scalar_backprop(**EXAMPLES["232"])
    # by hand: z^1 = (0.1·0.9 + 0.4·0.1 + 0.1, 0.2·0.9 + 0.3·0.1 − 0.1, 0.5·0.9 − 0.1·0.1 + 0.2)
    #              = (0.23, 0.11, 0.64); the notes print (0.24, 0.11, 0.63)
    z1 = engine_trace("232").z[0]  # (1, 3)
    np.testing.assert_allclose(z1, [[0.23, 0.11, 0.64]], rtol=0, atol=1e-15)
    off = printed("example_232", "z1") - z1
    np.testing.assert_allclose(off, [[0.01, 0.0, -0.01]], rtol=0, atol=1e-12)
    # the notes' δ^1_2, ∇b^1_2 and row 2 of ∇W^1 have the opposite sign to the reference's
    for name, where in (("delta1", (0, 1)), ("nabla_b1", (0, 1)), ("nabla_w1", 1)):
        signs = np.sign(printed("example_232", name)[where] * reference(ref, name)[where])
        np.testing.assert_array_equal(signs, -1, err_msg=name)
    # and every quantity of the backward pass is off somewhere by more than 10⁻³
    for name in ("delta2", "delta1", "nabla_w2", "nabla_w1"):
        shown = printed("example_232", name)
        assert np.max(np.abs(shown - reference(ref, name))) > 1e-3, name
