"""The fast paths of the engine against plain reference formulas.

Each fast path (φ and φ′ from one exponential, φ′ carried from the forward
pass, in-place batch means, array-built diagnostics, the exact and the Lanczos
spectral norm) is compared with the textbook expression it replaces, written
here independently of the engine; the SGD update is checked against its
formula (Nielsen eq. 93) for every dtype.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from passcount import step_counts

import gradlab
from gradlab.engine.activations import ACTIVATIONS
from gradlab.engine.diagnostics import SATURATION_THRESHOLD, SpectralCache, layer_table
from gradlab.engine.spectral import EXACT_BELOW, spectral_norm
from gradlab.training.sgd import sgd_update

# Wide enough to reach underflow of e^{−|z|} (|z| > 745) and the float32 range.
Z = np.concatenate([np.linspace(-50, 50, 2001), [-800.0, -745.0, -40.0, 0.0, 40.0, 800.0]])


def _reference_trace(weights, biases, x, y, act, out):
    """Notes' eqs. (1, 4, 5, 6) with φ′ recomputed from z; quadratic cost."""
    zs, acts = [], [x]
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        phi = out if i == len(weights) - 1 else act
        zs.append(acts[-1] @ np.swapaxes(w, -1, -2) + b[..., None, :])
        acts.append(phi.phi(zs[-1]))
    n = x.shape[-2]
    delta = (acts[-1] - y) * out.phi_prime(zs[-1])
    deltas, nabla_w, nabla_b = [], [], []
    for i in range(len(weights) - 1, -1, -1):
        deltas.insert(0, delta)
        nabla_w.insert(0, np.swapaxes(delta, -1, -2) @ acts[i] / n)
        nabla_b.insert(0, delta.mean(axis=-2))
        if i > 0:
            delta = (delta @ weights[i]) * act.phi_prime(zs[i - 1])
    return zs, acts, deltas, nabla_w, nabla_b


def _assert_close(actual, expected, rtol):
    # relative to each array's scale: δ^1 of a deep sigmoid net is ~1e-12 of δ^L
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def test_sigmoid_value_and_prime_from_one_exponential():
    sig = ACTIVATIONS["sigmoid"]
    a, p = sig.value_and_prime(Z)
    with np.errstate(over="ignore"):
        ref_a = 1.0 / (1.0 + np.exp(-Z))
    e = np.exp(-np.abs(Z))
    ref_p = e / (1.0 + e) ** 2
    # atol: σ(−745) ≈ 5e−324 is the smallest subnormal, where 1/(1+e^{745}) gives 0
    np.testing.assert_allclose(a, ref_a, rtol=1e-14, atol=1e-323)
    np.testing.assert_allclose(p, ref_p, rtol=1e-14, atol=0)
    # tiny values keep full relative accuracy on both sides
    a40, p40 = sig.value_and_prime(np.array([-40.0, 40.0]))
    np.testing.assert_allclose(a40[0], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-14)
    np.testing.assert_allclose(p40, np.exp(-40.0) / (1 + np.exp(-40.0)) ** 2, rtol=1e-14)


def test_sigmoid_step_makes_one_exponential_and_eleven_passes_per_layer():
    # NumPy kernels, counted exactly (passcount): per layer, the bias, σ and σ′ from
    # one e^{−|z|} (8 passes), δ ⊙ σ′ and the batch sum of δ; the output layer's δ^L
    # reuses the forward σ′ (no second exponential).  Over W-sized arrays: ∇W's 1/n,
    # and the update's η∇W (one new array) and subtraction.  The engine before these
    # paths made 12.5 passes and 22 exponentials per 21 layers, one of them a np.where.
    L = 21
    counts = step_counts(width=30, hidden=L - 1, batch=10)
    assert counts["by_name"]["exp.__call__"] == L
    assert "where" not in counts["by_name"]
    assert counts["act_passes"] <= 11.2
    assert counts["weight_passes"] == 3 and counts["weight_new"] == 1
    assert counts["matmuls"] == (3 * L - 1) / L


def test_compiled_sigmoid_step_makes_one_pass_per_operation():
    # numba kernels: per layer one fused pass for z += b, σ and σ′; one for δ ⊙= σ′ with
    # Σ_k δ (all but layer 1, which forms no δ^0); one update each for W and b.  What
    # NumPy still does over (n, n_l) arrays is the output layer's cost and δ^L
    # (6 passes, once per step); over W-sized arrays only ∇W's 1/n, and no new one.
    L = 21
    counts = step_counts(width=30, hidden=L - 1, batch=10, compiled=True)
    assert counts["kernels"] == {
        "bias_sigmoid_and_prime": 1.0,
        "scale_and_sum": (L - 1) / L,
        "subtract_scaled": 2.0,
    }
    assert "exp.__call__" not in counts["by_name"]
    assert counts["act_passes"] == 6 / L
    assert counts["weight_passes"] == 1 and counts["weight_new"] == 0
    assert counts["matmuls"] == (3 * L - 1) / L


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_in_place_derivatives_match_textbook_formulas(name):
    act = ACTIVATIONS[name]
    if name == "sigmoid":
        ref = np.exp(-np.abs(Z)) / (1 + np.exp(-np.abs(Z))) ** 2
    else:
        with np.errstate(over="ignore"):
            ref = 1.0 / np.cosh(Z) ** 2  # sech², 0 once cosh overflows
    np.testing.assert_allclose(act.phi_prime(Z), ref, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_value_and_prime_keep_dtype_and_equal_separate_calls(name, dtype):
    act = ACTIVATIONS[name]
    z = np.array([-3, -1, 0, 2, 5], dtype=dtype)
    a, p = act.value_and_prime(z)
    np.testing.assert_allclose(a, act.phi(z), rtol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(p, act.phi_prime(z), rtol=1e-6 if dtype == np.float32 else 1e-15)
    if dtype != np.int64:
        assert a.dtype == dtype and p.dtype == dtype


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("ensemble", [(), (3,)])
def test_backprop_fast_path_equals_reference_equations(hidden, ensemble):
    rng = np.random.default_rng(11)
    sizes = [7, 9, 9, 9, 9, 4]
    ws = gradlab.init_weights(rng, sizes, "lecun_normal", 1.5, np.float64, ensemble=ensemble)
    bs = gradlab.init_biases(rng, sizes, 0.3, np.float64, ensemble=ensemble)
    x = rng.standard_normal((*ensemble, 13, sizes[0]))
    y = rng.uniform(0, 1, (*ensemble, 13, sizes[-1]))
    act, out = ACTIVATIONS[hidden], ACTIVATIONS["sigmoid"]
    quad = gradlab.COSTS["quadratic"]
    trace = gradlab.backprop(ws, bs, x, y, quad, act, out)
    zs, acts, deltas, nabla_w, nabla_b = _reference_trace(ws, bs, x, y, act, out)
    for i in range(len(ws)):
        phi = out if i == len(ws) - 1 else act
        _assert_close(trace.z[i], zs[i], 1e-12)
        _assert_close(trace.a[i + 1], acts[i + 1], 1e-12)
        _assert_close(trace.phi_prime[i], phi.phi_prime(zs[i]), 1e-12)
        _assert_close(trace.delta[i], deltas[i], 1e-12)
        _assert_close(trace.nabla_w[i], nabla_w[i], 1e-12)
        _assert_close(trace.nabla_b[i], nabla_b[i], 1e-12)
    # the public two-call path gives the same trace
    two = gradlab.backward(ws, *gradlab.forward(ws, bs, x, act, out), y, quad, act, out)
    for i in range(len(ws)):
        _assert_close(two.phi_prime[i], trace.phi_prime[i], 1e-12)
        _assert_close(two.nabla_w[i], trace.nabla_w[i], 1e-12)


def test_backprop_stays_in_float32():
    net = gradlab.MLP([5, 8, 8, 3], "sigmoid", seed=0, dtype="float32")
    rng = np.random.default_rng(0)
    trace = net.backprop(rng.standard_normal((4, 5)), rng.uniform(0, 1, (4, 3)))
    arrays = [*trace.z, *trace.a[1:], *trace.phi_prime, *trace.delta, *trace.nabla_w]
    assert all(arr.dtype == np.float32 for arr in arrays + trace.nabla_b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weight_decay", [0.0, 5.0])
def test_sgd_update_matches_formula(dtype, weight_decay):
    # layers of different shapes, both dtypes, with and without weight decay
    rng = np.random.default_rng(2)
    net = gradlab.MLP([6, 11, 4, 9], "tanh", seed=rng, dtype=np.dtype(dtype).name)
    trace = net.backprop(rng.standard_normal((5, 6)), rng.uniform(0, 1, (5, 9)))
    lr, n_train = 0.3, 50
    shrink = 1 - lr * weight_decay / n_train
    expect_w = [shrink * w - lr * nw for w, nw in zip(net.weights, trace.nabla_w, strict=True)]
    expect_b = [b - lr * nb for b, nb in zip(net.biases, trace.nabla_b, strict=True)]
    grads = [g.copy() for g in trace.gradients()]
    sgd_update(net.weights, net.biases, trace, lr, weight_decay, n_train)
    # the scratch array of η∇W leaves the trace's gradients as they were
    assert all(np.array_equal(g, h) for g, h in zip(grads, trace.gradients(), strict=True))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for w, e in zip(net.weights, expect_w, strict=True):
        np.testing.assert_allclose(w, e, rtol=tol, atol=tol)
        assert w.dtype == dtype
    for b, e in zip(net.biases, expect_b, strict=True):
        np.testing.assert_allclose(b, e, rtol=tol, atol=tol)


def _reference_table(trace, weights, hidden, output):
    """layer_table's columns one layer at a time with numpy's own reductions."""
    rows = []
    for i in range(trace.num_layers):
        phi = output if i == trace.num_layers - 1 else hidden
        d, p, a = trace.delta[i], trace.phi_prime[i], trace.a[i + 1]
        rows.append(
            [
                np.linalg.norm(trace.nabla_b[i]),
                np.linalg.norm(trace.nabla_w[i]),
                np.sqrt(np.mean(np.sum(d * d, axis=-1))),
                p.mean(),
                np.mean(p.mean(axis=0) < SATURATION_THRESHOLD * phi.sup_prime),
                a.mean(),
                a.std(),
                np.linalg.norm(weights[i]),
                np.linalg.norm(weights[i], 2),
            ]
        )
    return np.array(rows)


@pytest.mark.parametrize(("act", "gain"), [("sigmoid", 1.0), ("sigmoid", 50.0), ("relu", 2.0)])
def test_layer_table_columns_match_reference_reductions(act, gain):
    rng = np.random.default_rng(4)
    net = gradlab.MLP([10, 20, 20, 20, 5], act, "sigmoid", init="normal", gain=gain, seed=rng)
    net.weights[0] /= np.sqrt(10)
    trace = net.backprop(rng.standard_normal((30, 10)), rng.uniform(0, 1, (30, 5)))
    table = layer_table(trace, net.weights, *net.activations, SpectralCache(rtol=1e-13))
    cols = [
        "grad_b_norm",
        "grad_w_norm",
        "delta_rms",
        "sigma_prime_mean",
        "saturated_frac",
        "act_mean",
        "act_std",
        "weight_norm",
        "weight_spectral",
    ]
    ref = _reference_table(trace, net.weights, *net.activations)
    np.testing.assert_allclose(table[cols].to_numpy(), ref, rtol=1e-10, atol=1e-300)
    assert table["layer"].dtype == np.int64 and table["width"].dtype == np.int64
    assert list(table["width"]) == [20, 20, 20, 5]


@pytest.mark.parametrize("shape", [(65, 65), (65, 100), (100, 300), (300, 100), (256, 256)])
def test_warm_spectral_norm_tracks_svd_along_sgd_steps(shape):
    # W_{t+1} = W_t − η∇W with a rank-n (batch) update, as between logged steps
    assert min(shape) > EXACT_BELOW  # the warm start is used by the Lanczos path only
    rng = np.random.default_rng(8)
    w = rng.standard_normal(shape) / np.sqrt(shape[1])
    s, v = spectral_norm(w)
    worst = 0.0
    for _ in range(20):
        delta, a = rng.standard_normal((10, shape[0])), rng.standard_normal((10, shape[1]))
        w = w - 0.05 * delta.T @ a / (10 * np.sqrt(shape[1]))
        s, v = spectral_norm(w, v)
        exact = np.linalg.norm(w, 2)
        assert s <= exact * (1 + 1e-12)  # every estimate is a lower bound
        worst = max(worst, (exact - s) / exact)
    assert worst < 1e-6


def test_spectral_norm_of_nonfinite_weights_is_nan():
    w = np.eye(3)
    w[1, 1] = np.inf
    s, _ = spectral_norm(w, np.ones(3) / np.sqrt(3))
    assert np.isnan(s)


def test_spectral_cache_copy_is_independent():
    # both layers wider than EXACT_BELOW, so the cache holds Lanczos warm-start vectors
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((80, 80)), rng.standard_normal((70, 80))]
    assert min(min(w.shape) for w in ws) > EXACT_BELOW
    cache = SpectralCache()
    first = cache(ws)
    snapshot = cache.copy()
    cache([w + 1.0 for w in ws])
    np.testing.assert_allclose(snapshot(ws), first, rtol=1e-9)
    np.testing.assert_allclose(first, [np.linalg.norm(w, 2) for w in ws], rtol=1e-8)


@pytest.mark.parametrize("shape", [(10, 30), (30, 10), (64, 64), (65, 65), (120, 80)])
def test_spectral_norm_returns_the_top_right_singular_vector(shape):
    # exact path (min dimension ≤ 64) and Lanczos path alike
    rng = np.random.default_rng(5)
    w = rng.standard_normal(shape)
    s, v = spectral_norm(w)
    assert s == pytest.approx(np.linalg.norm(w, 2), rel=1e-9)
    assert np.linalg.norm(v) == pytest.approx(1.0, rel=1e-12)
    assert np.linalg.norm(w @ v) == pytest.approx(s, rel=1e-8)  # ‖W v‖ = σ only for v₁


def test_lanczos_restarts_on_a_nearly_degenerate_top_pair():
    # σ₁ = 1, σ₂ = 1 − 1e−7: power iteration would need ~10⁷ products
    rng = np.random.default_rng(6)
    q1, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    q2, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    sv = np.concatenate([[1.0, 1.0 - 1e-7], np.linspace(0.9, 0.1, 198)])
    w = (q1 * sv) @ q2.T
    s, _ = spectral_norm(w)
    assert 1.0 - 1e-7 <= s <= 1.0 + 1e-12


def test_spectral_norm_of_zero_matrix_is_zero():
    for shape in [(5, 5), (100, 100)]:
        s, v = spectral_norm(np.zeros(shape))
        assert s == 0.0 and np.isfinite(v).all()


@pytest.mark.slow
def test_benchmark_quick_run_writes_every_figure_with_its_target(tmp_path):
    # smoke run on tiny sizes: checks the report's structure, never a timing
    out = tmp_path / "bench.md"
    script = Path(__file__).resolve().parents[1] / "experiments" / "benchmark.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--no-torch", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    for title in ("## Machine", "## 1.", "## 1b.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.",
                  "## 7.", "## 8.", "## 9.", "OPENBLAS_CORETYPE", "NumPy SIMD"):  # fmt: skip
        assert title in text
    assert "Skipped: PyTorch is not installed (--no-torch given)" in text
    summary = [line for line in text.splitlines() if line.startswith("| 3 |")]
    assert len(summary) == 4 and all("≤ 15%" in s or "≤ 3%" in s for s in summary)
    assert "| 7 |" in text and "≥ 1.6" in text
    for figure, target in (("4", "≤ 33%"), ("5", "≥ 1.5"), ("6", "≥ 3")):
        assert any(line.startswith(f"| {figure} |") and target in line
                   for line in text.splitlines()), figure  # fmt: skip


@pytest.mark.parametrize("n", [20, 120])
@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_spectral_norm_of_finite_extreme_weights(n, scale):
    # diverging runs reach weights whose WᵀW overflows; the norm itself is finite
    rng = np.random.default_rng(9)
    w = rng.standard_normal((n, n))
    exact = np.linalg.norm(w, 2)
    s, v = spectral_norm(scale * w)
    assert s == pytest.approx(scale * exact, rel=1e-8)
    assert np.isfinite(v).all()
