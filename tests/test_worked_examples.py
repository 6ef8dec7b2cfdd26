"""The notes' two worked examples, recomputed by a scalar reference and the engine.

The reference below is written from the notes' component formulas with plain
Python floats and ``math.exp`` (no numpy, no gradlab), so it shares no code with
the engine.  Where the notes' printed numbers disagree with it, the errata are
listed in docs/errata.md; the values asserted here are the correct ones.
"""

import math

import numpy as np
import pytest

import gradlab


def sigma(z):
    return 1.0 / (1.0 + math.exp(-z))


def scalar_backprop(W, b, x, y):
    """z_j = Σ_k w_jk a_k + b_j; δ^L_j = (a_j − y_j)σ′(z_j); δ^l_k = Σ_j δ_j w_jk σ′(z_k)."""
    acts, zs = [list(x)], []
    for Wl, bl in zip(W, b, strict=True):
        z = [
            sum(w * a for w, a in zip(row, acts[-1], strict=True)) + bj
            for row, bj in zip(Wl, bl, strict=True)
        ]
        zs.append(z)
        acts.append([sigma(v) for v in z])
    L = len(W)
    deltas = [None] * L
    deltas[-1] = [
        (a - t) * sigma(z) * (1 - sigma(z)) for a, t, z in zip(acts[-1], y, zs[-1], strict=True)
    ]
    for l in range(L - 2, -1, -1):
        nxt, Wn = deltas[l + 1], W[l + 1]
        deltas[l] = [
            sum(nxt[j] * Wn[j][k] for j in range(len(nxt)))
            * sigma(zs[l][k])
            * (1 - sigma(zs[l][k]))
            for k in range(len(zs[l]))
        ]
    grads_w = [[[d * a for a in acts[l]] for d in deltas[l]] for l in range(L)]
    return zs, acts, deltas, grads_w


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


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_engine_matches_scalar_reference(name):
    ex = EXAMPLES[name]
    zs, acts, deltas, grads_w = scalar_backprop(**ex)
    net = gradlab.MLP.from_arrays(
        [np.array(w) for w in ex["W"]], [np.array(v) for v in ex["b"]], "sigmoid"
    )
    trace = net.backprop(np.array([ex["x"]]), np.array([ex["y"]]), cost="quadratic")
    for i in range(2):
        np.testing.assert_allclose(trace.z[i][0], zs[i], rtol=1e-14)
        np.testing.assert_allclose(trace.a[i + 1][0], acts[i + 1], rtol=1e-14)
        np.testing.assert_allclose(trace.delta[i][0], deltas[i], rtol=1e-12)
        np.testing.assert_allclose(trace.nabla_b[i], deltas[i], rtol=1e-12)
        np.testing.assert_allclose(trace.nabla_w[i], grads_w[i], rtol=1e-12)


def test_example_221_agrees_with_the_notes_to_rounding():
    # The notes' [2,2,1] walkthrough is right to within ±1 in the 4th decimal
    # (they round δ before multiplying); hand values from the notes:
    ex = EXAMPLES["221"]
    zs, acts, deltas, _grads_w = scalar_backprop(**ex)
    assert zs[0] == pytest.approx([0.35, 0.3], abs=1e-12)  # exact sums by hand
    assert acts[2][0] == pytest.approx(0.4431, abs=1e-4)
    assert deltas[1][0] == pytest.approx(-0.0880, abs=1e-4)
    assert deltas[0] == pytest.approx([-0.0149, 0.0258], abs=1.2e-4)


def test_example_232_corrected_values():
    # Hand arithmetic: z^1_1 = 0.1·0.9 + 0.4·0.1 + 0.1 = 0.23 (notes: 0.24),
    # z^1_3 = 0.5·0.9 − 0.1·0.1 + 0.2 = 0.64 (notes: 0.63).
    ex = EXAMPLES["232"]
    zs, _acts, deltas, _ = scalar_backprop(**ex)
    assert zs[0] == pytest.approx([0.23, 0.11, 0.64], abs=1e-12)
    # With the notes' own a^1 = [0.5597, 0.5275, 0.6522], z^2 would be
    # 0.3·0.5597 − 0.7·0.5275 + 0.2·0.6522 + 0.05 = −0.02089 (notes: 0.167).
    assert 0.3 * 0.5597 - 0.7 * 0.5275 + 0.2 * 0.6522 + 0.05 == pytest.approx(-0.02089, abs=1e-5)
    assert zs[1] == pytest.approx([-0.0211, 0.0097], abs=1e-4)
    assert deltas[1] == pytest.approx([-0.1263, 0.1256], abs=1e-4)
    assert deltas[0] == pytest.approx([0.0092, 0.0252, -0.0199], abs=1e-4)
