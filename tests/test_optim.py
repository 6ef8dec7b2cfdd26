"""SGD with momentum, Adam and gradient-norm clipping against their closed forms and PyTorch.

The closed forms (constant gradient) always run; the comparisons with
torch.optim and torch.nn.utils.clip_grad_norm_ over several steps with changing
gradients run when PyTorch is installed.
"""

import numpy as np
import pytest

import gradlab

optim = gradlab.optim


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 4))]


def _grad_sequence(steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(p.shape) * 10.0 ** rng.integers(-3, 2) for p in _params()]
            for _ in range(steps)]  # fmt: skip


def test_sgd_with_momentum_follows_the_geometric_sum_for_a_constant_gradient():
    # v_t = g (1 − μ^t)/(1 − μ), so w_t = w_0 − η g Σ_{s=1}^t (1 − μ^s)/(1 − μ)
    lr, mu, t = 0.1, 0.9, 6
    params, g = _params(), _params(seed=5)
    start = [p.copy() for p in params]
    opt = optim.SGD(lr, momentum=mu)
    for _ in range(t):
        opt.step(params, g)
    total = sum((1 - mu**s) / (1 - mu) for s in range(1, t + 1))
    for p, p0, gi in zip(params, start, g, strict=True):
        np.testing.assert_allclose(p, p0 - lr * total * gi, rtol=1e-13)


def test_plain_sgd_is_one_gradient_step():
    params, g = _params(), _params(seed=5)
    start = [p.copy() for p in params]
    optim.SGD(0.5).step(params, g)
    for p, p0, gi in zip(params, start, g, strict=True):
        np.testing.assert_array_equal(p, p0 - 0.5 * gi)


def test_adam_moves_each_coordinate_by_lr_for_a_constant_gradient():
    # With g constant the bias-corrected moments are exactly m̂ = g and ŝ = g², so every
    # step is η g/(|g| + ε): η sign(g) to within ε/|g| (Kingma & Ba 2015, §2.1).
    lr, t = 0.01, 5
    params, g = _params(), _params(seed=5)
    start = [p.copy() for p in params]
    opt = optim.Adam(lr)
    for _ in range(t):
        opt.step(params, g)
    for p, p0, gi in zip(params, start, g, strict=True):
        np.testing.assert_allclose(p, p0 - t * lr * gi / (np.abs(gi) + 1e-8), rtol=1e-12)


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm_before():
    grads = [np.array([3.0, 0.0]), np.array([[0.0], [4.0]])]  # global norm 5
    assert optim.clip_grad_norm(grads, 1.0) == 5.0
    np.testing.assert_allclose(grads[0], [3.0 / (5 + 1e-6), 0.0], rtol=1e-15)
    np.testing.assert_allclose(grads[1], [[0.0], [4.0 / (5 + 1e-6)]], rtol=1e-15)
    small = [np.array([0.3, 0.4])]  # norm 0.5 ≤ max_norm: untouched
    assert optim.clip_grad_norm(small, 1.0) == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(small[0], [0.3, 0.4])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: optim.SGD(0.0), "lr=0.0 is not allowed; it must be a number > 0"),
        (lambda: optim.SGD(0.1, momentum=1.0), r"momentum=1.0 is not allowed; it must be in \["),
        (lambda: optim.Adam(0.1, betas=(0.9, 1.0)), r"betas\[1\]=1.0 is not allowed; it must"),
        (lambda: optim.Adam(0.1, betas=(0.9,)), r"betas=\(0.9,\) is not allowed"),
        (lambda: optim.Adam(0.1, eps=0), "eps=0 is not allowed; it must be a number > 0"),
        (lambda: optim.clip_grad_norm([np.ones(2)], -1.0), "max_norm=-1.0 is not allowed"),
        (lambda: optim.SGD(0.1).step([np.ones(2)], [np.ones(3)]), r"grads\[0\] has shape \(3,\)"),
    ],
)  # fmt: skip
def test_bad_optimiser_arguments_name_key_value_and_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- against PyTorch ---------------------------------------------------------------------


def _torch_run(torch_opt_factory, grads_seq, clip=None):
    torch = pytest.importorskip("torch")
    tparams = [torch.tensor(p, requires_grad=True) for p in _params()]
    opt = torch_opt_factory(tparams)
    norms = []
    for grads in grads_seq:
        for tp, g in zip(tparams, grads, strict=True):
            tp.grad = torch.tensor(g)
        if clip is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(tparams, clip)))
        opt.step()
    return [tp.detach().numpy() for tp in tparams], norms


def _ours(opt, grads_seq, clip=None):
    params, norms = _params(), []
    for grads in grads_seq:
        grads = [g.copy() for g in grads]
        if clip is not None:
            norms.append(optim.clip_grad_norm(grads, clip))
        opt.step(params, grads)
    return params, norms


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_over_several_steps(momentum):
    torch = pytest.importorskip("torch")
    seq = _grad_sequence(8)
    ours, _ = _ours(optim.SGD(0.05, momentum), seq)
    ref, _ = _torch_run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=momentum), seq)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("betas", "eps"), [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3)])
def test_adam_matches_torch_over_several_steps(betas, eps):
    torch = pytest.importorskip("torch")
    seq = _grad_sequence(8)
    ours, _ = _ours(optim.Adam(0.01, betas, eps), seq)
    ref, _ = _torch_run(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=betas, eps=eps), seq)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_clipping_matches_torch_clip_grad_norm():
    torch = pytest.importorskip("torch")
    seq = _grad_sequence(8)
    ours, our_norms = _ours(optim.SGD(0.05, 0.9), seq, clip=1.0)
    ref, ref_norms = _torch_run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), seq, 1.0)
    np.testing.assert_allclose(our_norms, ref_norms, rtol=1e-13)
    assert min(our_norms) < 1.0 < max(our_norms)  # both branches were taken
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
