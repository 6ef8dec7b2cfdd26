"""Residual skips, layer and batch norm, SELU and softmax cross-entropy in the engine.

Every gradient (W, b, γ, β, and δ itself) is checked against central finite
differences and, when PyTorch is installed, against autograd on the same
network built from torch.nn modules; the plain path is checked bit for bit
against digests recorded from the engine before the remedies existed.
"""

import hashlib

import numpy as np
import pytest
from gradcheck import check_grad, numeric_grad

import gradlab
from gradlab.engine import kernels
from gradlab.engine.activations import ACTIVATIONS, SELU_ALPHA, SELU_LAMBDA
from gradlab.engine.backprop import Remedies
from gradlab.engine.costs import get_cost
from gradlab.engine.init import init_biases, init_weights
from gradlab.training.sgd import sgd_update

# Hidden widths 6, 6, 4, 4: layers 2 and 4 have equal in and out widths (skips),
# layer 3 changes width (no skip), so both kinds of hidden layer are exercised.
SIZES = [5, 6, 6, 4, 4, 3]
CASES = [
    (norm, residual, act, cost)
    for norm in (None, "layer", "batch")
    for residual in (False, True)
    for act, cost in (("tanh", "quadratic"), ("selu", "softmax_cross_entropy"))
    if norm is not None or residual
]


def _net(norm, residual, act, cost, seed=1):
    out = "linear" if cost == "softmax_cross_entropy" else None
    net = gradlab.MLP(SIZES, activation=act, output_activation=out, residual=residual,
                      residual_scale=0.7, norm=norm, seed=seed, bias_std=0.1)  # fmt: skip
    rng = np.random.default_rng(seed + 100)
    if norm is not None:  # away from γ = 1, β = 0 so that their role is tested
        for g, b in zip(net.remedies.gamma, net.remedies.beta, strict=True):
            if g is not None:
                g[:] = rng.uniform(0.5, 1.5, g.shape)
                b[:] = rng.normal(0.0, 0.3, b.shape)
    x = rng.standard_normal((7, SIZES[0]))
    y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], 7)] if out else rng.random((7, SIZES[-1]))
    return net, x, y


def _names(net):
    names = [f"{p}^{i + 1}" for i in range(net.num_layers) for p in ("W", "b")]
    if net.remedies is not None and net.remedies.norm is not None:
        for i, g in enumerate(net.remedies.gamma):
            if g is not None:
                names += [f"γ^{i + 1}", f"β^{i + 1}"]
    return names


@pytest.mark.parametrize(("norm", "residual", "act", "cost"), CASES)
def test_every_gradient_matches_finite_differences(norm, residual, act, cost):
    net, x, y = _net(norm, residual, act, cost)
    trace = net.backprop(x, y, cost, update_running=False)

    def c():
        return float(net.backprop(x, y, cost, update_running=False).cost)

    for name, p, g in zip(_names(net), net.parameters(), trace.gradients(), strict=True):
        numeric = numeric_grad(c, p)
        if norm == "batch" and name.startswith("b^") and name != f"b^{net.num_layers}":
            # z^l − μ cancels b^l: the gradient is 0, FD gives only its ~1e−10 rounding noise
            assert np.abs(g).max() < 1e-14 and np.abs(numeric).max() < 1e-8, name
            continue
        check_grad(g, numeric, rtol=1e-6, what=name)


@pytest.mark.parametrize("norm", [None, "layer", "batch"])
def test_skips_sit_where_widths_are_equal_except_layer_1(norm):
    net, x, _ = _net(norm, True, "tanh", "quadratic")
    trace = net.backprop(x, np.zeros((7, 3)), update_running=False)
    phi = ACTIVATIONS["tanh"].phi
    for l in range(1, net.num_layers):
        z_in = trace.z[l - 1] if norm is None else trace.z_norm[l - 1]
        skip = l in (2, 4)  # n_2 = n_1 and n_4 = n_3
        expected = (trace.a[l - 1] if skip else 0.0) + (0.7 if skip else 1.0) * phi(z_in)
        np.testing.assert_allclose(trace.a[l], expected, rtol=1e-14, atol=1e-15)


def test_norms_normalise_over_the_documented_axis():
    for norm, axis in (("layer", 1), ("batch", 0)):
        net, x, _ = _net(norm, False, "tanh", "quadratic")
        for g in net.remedies.gamma:
            if g is not None:
                g[:] = 1.0
        for b in net.remedies.beta:
            if b is not None:
                b[:] = 0.0
        trace = net.backprop(x, np.zeros((7, 3)), update_running=False)
        for z, zn in zip(trace.z[:-1], trace.z_norm[:-1], strict=True):
            np.testing.assert_allclose(zn.mean(axis=axis), 0.0, atol=1e-12)
            # with γ = 1, β = 0: Var(ž) = σ²/(σ² + ε), σ² the biased variance of z, ε = 1e−5
            var = z.var(axis=axis)
            np.testing.assert_allclose(zn.var(axis=axis), var / (var + 1e-5), rtol=1e-12)


def test_layer_norm_is_the_textbook_formula():
    net, x, _ = _net("layer", False, "tanh", "quadratic")
    trace = net.backprop(x, np.zeros((7, 3)))
    z, g, b = trace.z[0], net.remedies.gamma[0], net.remedies.beta[0]
    mu, var = z.mean(axis=1, keepdims=True), z.var(axis=1, keepdims=True)
    np.testing.assert_allclose(trace.z_norm[0], g * (z - mu) / np.sqrt(var + 1e-5) + b, rtol=1e-13)


def test_batch_norm_running_statistics_follow_the_closed_form_and_drive_evaluation():
    net = gradlab.MLP([3, 4, 2], activation="tanh", norm="batch", seed=0, bias_std=0.2)
    rng = np.random.default_rng(5)
    batches = [rng.normal(0.5, 2.0, (6, 3)) for _ in range(4)]
    for xb in batches:
        net.backprop(xb, np.zeros((6, 2)))
    m, k = 0.1, len(batches)
    z1 = [xb @ net.weights[0].T + net.biases[0] for xb in batches]  # weights never moved
    # μ_run,k = Σ_j m(1−m)^{k−1−j} μ_j (start 0); σ²_run,k = (1−m)^k + Σ_j m(1−m)^{k−1−j} s²_j
    # with s² the unbiased batch variance (PyTorch's running_var)
    w = [m * (1 - m) ** (k - 1 - j) for j in range(k)]
    mean = sum(wj * z.mean(axis=0) for wj, z in zip(w, z1, strict=True))
    var = (1 - m) ** k + sum(wj * z.var(axis=0, ddof=1) for wj, z in zip(w, z1, strict=True))
    np.testing.assert_allclose(net.remedies.running_mean[0], mean, rtol=1e-13)
    np.testing.assert_allclose(net.remedies.running_var[0], var, rtol=1e-13)
    # evaluation: one sample at a time, with the running statistics
    x1 = batches[0][:1]
    zn = (x1 @ net.weights[0].T + net.biases[0] - mean) / np.sqrt(var + 1e-5)
    expected = np.tanh(np.tanh(zn) @ net.weights[1].T + net.biases[1])
    np.testing.assert_allclose(net.feedforward(x1), expected, rtol=1e-13)
    # a probe that must not move them
    before = net.remedies.running_mean[0].copy()
    net.backprop(batches[1], np.zeros((6, 2)), update_running=False)
    np.testing.assert_array_equal(net.remedies.running_mean[0], before)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_an_ensemble_axis_gives_each_member_its_own_network(norm):
    members = [_net(norm, True, "tanh", "quadratic", seed=s) for s in (1, 2)]
    rems = [m[0].remedies for m in members]

    def stack(key):  # member e's γ^l (or β^l) at [e]; None where layer l has no norm
        per_layer = zip(*(getattr(r, key) for r in rems), strict=True)
        return [None if arrays[0] is None else np.stack(arrays) for arrays in per_layer]

    stacked = Remedies(rems[0].skip, rems[0].residual_scale, norm, stack("gamma"), stack("beta"))
    ws = [np.stack([m[0].weights[i] for m in members]) for i in range(len(SIZES) - 1)]
    bs = [np.stack([m[0].biases[i] for m in members]) for i in range(len(SIZES) - 1)]
    x, y = np.stack([m[1] for m in members]), np.stack([m[2] for m in members])
    act, quad = ACTIVATIONS["tanh"], get_cost("quadratic")
    both = gradlab.backprop(ws, bs, x, y, quad, act, act, stacked)
    for e, (net, xe, ye) in enumerate(members):
        one = net.backprop(xe, ye, update_running=False)
        for a, b in zip(one.gradients(), both.gradients(), strict=True):
            np.testing.assert_allclose(b[e], a, rtol=1e-12, atol=1e-15)


def test_parameters_and_gradients_align_for_an_optimiser():
    net, x, y = _net("layer", True, "tanh", "quadratic")
    ref, _, _ = _net("layer", True, "tanh", "quadratic")
    trace = net.backprop(x, y)
    gradlab.optim.SGD(lr=0.3).step(net.parameters(), trace.gradients())
    sgd_update(ref.weights, ref.biases, trace, 0.3)
    for i in range(net.num_layers):
        np.testing.assert_array_equal(net.weights[i], ref.weights[i])
        np.testing.assert_array_equal(net.biases[i], ref.biases[i])
        if ref.remedies.gamma[i] is not None:
            expected = ref.remedies.gamma[i] - 0.3 * trace.nabla_gamma[i]
            np.testing.assert_array_equal(net.remedies.gamma[i], expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"norm": "lyer"}, "norm='lyer' is not allowed; choose one of: None, layer, batch"),
        ({"residual": "yes"}, "residual='yes' is not allowed; it must be true or false"),
        ({"residual_scale": -1.0}, "residual_scale=-1.0 is not allowed"),
    ],
)
def test_bad_remedy_options_name_key_value_and_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        gradlab.MLP([3, 4, 4, 2], **kwargs)


def test_batch_norm_rejects_a_single_sample_in_training():
    net = gradlab.MLP([3, 4, 2], norm="batch")
    with pytest.raises(ValueError, match="x has 1 row; norm='batch' needs n >= 2"):
        net.backprop(np.ones((1, 3)), np.ones((1, 2)))


# --- the plain path, bit for bit ---------------------------------------------------------


def _digest(arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _trace_arrays(t):
    return [*t.z, *t.a, *t.phi_prime, *t.delta, *t.nabla_w, *t.nabla_b, np.asarray(t.cost)]


#: Digests of weights, biases, every trace array and a^L, computed by the engine on
#: main before the remedies were added (numpy with OpenBLAS on x86-64; the same with
#: 1 or 2 BLAS threads).  A BLAS with another summation order would round differently.
#: The sigmoid-quadratic digest is the one case recorded again: δ^L now takes σ′(z^L)
#: from the forward pass, e^{−|z|}·r·r with r = 1/(1+e^{−|z|}), where it used to
#: recompute e^{−|z|}/(1+e^{−|z|})²; the two round differently (δ^L elementwise within
#: 4.1e−16 relative, every δ^l, ∇W^l and ∇b^l within 5.3e−16 of its array's largest
#: entry; z, a, φ′ and the cost unchanged bit for bit).
PLAIN = {
    "sigmoid-quadratic-f64": (
        {"sizes": [64, 30, 30, 30, 10], "activation": "sigmoid", "bias_std": 0.1},
        "quadratic", "50441a6efd337570"),
    "tanh-ce-f32": (
        {"sizes": [20, 16, 16, 16, 5], "activation": "tanh", "output_activation": "sigmoid",
         "init": "xavier_normal", "dtype": "float32"},
        "cross_entropy", "70801d037c4ffdf9"),
    "relu-quadratic-f64": (
        {"sizes": [20, 16, 16, 16, 16, 5], "activation": "relu", "init": "he_normal",
         "gain": 1.3, "bias_std": 0.05},
        "quadratic", "b634b41a04afef70"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_default_network_is_bit_identical_to_the_engine_before_remedies(name):
    kwargs, cost, expected = PLAIN[name]
    net = gradlab.MLP(seed=3, **kwargs)
    rng = np.random.default_rng(7)
    n0, nL = kwargs["sizes"][0], kwargs["sizes"][-1]
    x, y = rng.random((32, n0)), np.eye(nL)[np.arange(32) % nL]
    with kernels.using("numpy"):  # the compiled e^x rounds differently (test_kernels.py)
        t = net.backprop(x, y, cost=cost)
    arrays = [*net.weights, *net.biases, *_trace_arrays(t), net.feedforward(x)]
    assert _digest(arrays) == expected
    assert t.nabla_gamma == [None] * net.num_layers and t.nabla_beta == [None] * net.num_layers


def test_ensemble_free_functions_are_bit_identical_to_the_engine_before_remedies():
    rng = np.random.default_rng(11)
    sizes = [10, 8, 8, 4]
    ws = init_weights(rng, sizes, "lecun_normal", 1.5, np.float64, ensemble=(3,))
    bs = init_biases(rng, sizes, 0.1, np.float64, ensemble=(3,))
    x, y = rng.standard_normal((3, 6, 10)), rng.standard_normal((3, 6, 4))
    tanh, lin, quad = ACTIVATIONS["tanh"], ACTIVATIONS["linear"], get_cost("quadratic")
    t = gradlab.backprop(ws, bs, x, y, quad, tanh, lin)
    t2 = gradlab.backward(ws, *gradlab.forward(ws, bs, x, tanh, lin), y, quad, tanh, lin)
    assert _digest([*_trace_arrays(t), *_trace_arrays(t2)]) == "87147ac5eea68c47"


# --- SELU and softmax cross-entropy ----------------------------------------------------


def test_selu_derivative_matches_finite_differences_and_its_bound():
    selu = ACTIVATIONS["selu"]
    z = np.concatenate([np.linspace(-8, -1e-3, 400), np.linspace(1e-3, 8, 400)])
    numeric = (selu.phi(z + 1e-6) - selu.phi(z - 1e-6)) / 2e-6
    # atol: φ ≈ −λα there, so the difference quotient carries ~2e−16·1.8/1e−6 ≈ 4e−10 rounding
    np.testing.assert_allclose(selu.phi_prime(z), numeric, rtol=1e-7, atol=1e-9)
    # sup|φ′| = λα, approached from below as z → 0⁻ and never exceeded
    assert selu.sup_prime == SELU_LAMBDA * SELU_ALPHA
    assert selu.phi_prime(z).max() <= selu.sup_prime
    assert selu.phi_prime(np.array([-1e-12]))[0] == pytest.approx(selu.sup_prime, rel=1e-11)


def test_selu_is_finite_without_warnings_for_huge_arguments():
    # pytest turns any overflow RuntimeWarning into an error
    selu = ACTIVATIONS["selu"]
    z = np.array([-1e308, -800.0, -745.0, 0.0, 800.0, 1e300])
    a, p = selu.phi(z), selu.phi_prime(z)
    assert np.isfinite(a).all() and np.isfinite(p).all()
    assert a[0] == pytest.approx(-SELU_LAMBDA * SELU_ALPHA) and p[0] == 0.0
    assert p[2] > 0.0  # λα e^{−745} is a subnormal, not rounded to 0
    np.testing.assert_allclose(a[-2:], SELU_LAMBDA * z[-2:], rtol=1e-15)


@pytest.mark.parametrize(("mean_in", "var_in"), [(0.0, 1.0), (1.0, 3.0)])
def test_selu_keeps_mean_zero_and_variance_one_through_a_deep_net(mean_in, var_in):
    # Klambauer et al. 2017, Theorem 1: (0, 1) is a stable, attracting fixed point of
    # SELU with N(0, 1/n) weights, so inputs at it stay there and inputs off it
    # (mean 1, variance 3) are drawn to it.  Width 200, 30 layers, 1000 samples:
    # over 20 seeds the last layer's mean had standard deviation 0.009 and its
    # variance 0.03 (finite width: O(1/√n) per layer, pulled back each layer), so
    # the tolerances are about 5 standard deviations.  tanh with the same weights
    # ends at variance ≈ 0.015-0.02 and fails.
    net = gradlab.MLP([200] * 31, activation="selu", init="lecun_normal", seed=0)
    x = mean_in + np.sqrt(var_in) * np.random.default_rng(1).standard_normal((1000, 200))
    a = gradlab.forward(net.weights, net.biases, x, net.hidden, net.output)[1][-1]
    assert abs(a.mean()) < 0.05
    assert abs(a.var() - 1.0) < 0.15


def test_softmax_cross_entropy_value_is_stable_and_its_delta_exact():
    ce = get_cost("softmax_cross_entropy")
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((5, 4)), np.eye(4)[[0, 3, 1, 2, 2]]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert ce.value(z, z, y) == pytest.approx(-np.mean(np.sum(y * np.log(p), axis=1)), rel=1e-14)
    # δ^L = softmax(z^L) − y = n ∂C/∂z^L_k
    numeric = numeric_grad(lambda: 5 * float(ce.value(z, z, y)), z)
    np.testing.assert_allclose(ce.delta(z, z, y, ACTIVATIONS["linear"]), p - y, rtol=1e-14)
    check_grad(ce.delta(z, z, y, ACTIVATIONS["linear"]), numeric, rtol=1e-8, what="δ^L")
    # log-sum-exp: huge logits give the exact answer instead of inf or nan
    big = np.array([[1000.0, 0.0, -1000.0]])
    assert ce.value(big, big, np.array([[0.0, 1.0, 0.0]])) == pytest.approx(1000.0, rel=1e-15)
    d = ce.delta(big, big, np.array([[1.0, 0.0, 0.0]]), ACTIVATIONS["linear"])
    assert np.isfinite(d).all() and np.abs(d).max() < 1e-300


def test_softmax_cross_entropy_needs_a_linear_output():
    net = gradlab.MLP([3, 4, 2], activation="tanh")  # output φ defaults to tanh
    message = "output_activation='tanh' is not allowed with cost='softmax_cross_entropy'"
    with pytest.raises(ValueError, match=message + "; choose one of: linear"):
        net.backprop(np.ones((2, 3)), np.ones((2, 2)), cost="softmax_cross_entropy")


# --- LSUV ------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_lsuv_gives_unit_variance_on_a_fresh_batch(act):
    net = gradlab.MLP([20, 50, 50, 50, 50, 10], activation=act, bias_std=0.1, seed=0)
    rng = np.random.default_rng(0)
    reached = net.lsuv(rng.standard_normal((500, 20)), tol=0.1, max_iter=10)
    assert all(abs(v - 1.0) <= 0.1 for v in reached)
    # A new batch of the same distribution: Var over 1000 × 50 entries differs from the
    # LSUV batch's by sampling error of a few percent, well inside tol = 0.1.
    zs, _ = gradlab.forward(net.weights, net.biases, rng.standard_normal((1000, 20)),
                            net.hidden, net.output)  # fmt: skip
    for l in range(1, net.num_layers):
        assert abs(zs[l - 1].var() - 1.0) <= 0.1, (l, zs[l - 1].var())
    # started from orthogonal weights: rescaled, each W^l has equal singular values
    s = np.linalg.svd(net.weights[1], compute_uv=False)
    np.testing.assert_allclose(s, s[0], rtol=1e-12)
    np.testing.assert_allclose(net.weights[-1] @ net.weights[-1].T, np.eye(10), atol=1e-12)
