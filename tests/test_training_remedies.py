"""The training loop with remedies: update sizes, clipping, Adam, LSUV, batch norm, names.

Expectations come from hand calculations on one full-batch step (an epoch with a
single mini-batch), where the update the loop applied is known in closed form.
"""

import numpy as np
import pytest
from helpers import train_cfg

from gradlab import names
from gradlab.data import load_dataset
from gradlab.engine.network import MLP
from gradlab.training.loop import build_network, train
from gradlab.training.optim import SGD, Adam, make_optimizer
from gradlab.training.sgd import (
    all_finite,
    batch_starts,
    first_nonfinite_layer,
    minibatches,
)
from gradlab.training.spec import run_name, run_spec

N_TRAIN = 1438  # the digits' 1797 samples less the 359 of the 20 % test split


def setup(**overrides):
    spec = run_spec(train_cfg(**overrides))
    rng = np.random.default_rng(spec.seed)
    data = load_dataset(spec.data_name, rng, test_fraction=spec.test_fraction)
    return spec, rng, data


def one_full_batch_step(**overrides):
    """Train one step on the whole training set; also return the initial network and
    its full-batch trace, drawn from an identical generator."""
    overrides = {
        "model.depth": 3,
        "model.width": 12,
        "train.epochs": 1,
        "train.batch_size": N_TRAIN,
        **overrides,
    }
    spec, rng, data = setup(**overrides)
    assert data.x_train.shape[0] == N_TRAIN
    twin = np.random.default_rng()
    twin.bit_generator.state = rng.bit_generator.state
    net = build_network(spec, data, twin)
    trace = net.backprop(data.x_train, data.y_train, spec.cost)
    result = train(spec, data, rng)
    assert result.steps == 1
    return spec, net, trace, result


def final_ratio(result):
    return result.final.table["update_ratio"].to_numpy()


def test_sgd_update_ratio_is_lr_times_gradient_over_weight():
    spec, net, trace, result = one_full_batch_step(**{"train.lr": 0.3})
    expected = [
        spec.lr * np.linalg.norm(g) / np.linalg.norm(w)
        for g, w in zip(trace.nabla_w, net.weights, strict=True)
    ]
    np.testing.assert_allclose(final_ratio(result), expected, rtol=1e-9)
    assert np.isnan(result.init.table["update_ratio"]).all()  # no update before step 1
    assert result.init.grad_norm is None
    total = np.sqrt(sum(np.vdot(g, g) for g in trace.gradients()))
    assert result.summary()[names.GRAD_NORM_MEDIAN] == pytest.approx(total, rel=1e-9)
    assert names.CLIP_FRACTION not in result.summary()


def test_first_adam_step_moves_every_weight_by_lr():
    # t = 1: m̂ = g and ŝ = g², so each entry moves by η g / (|g| + ε), ε = 1e-8:
    # η sign(g) whatever the size of g, except where |g| ≲ ε (pixels 0 in nearly every digit)
    spec, net, trace, result = one_full_batch_step(**{"train.optimizer": "adam", "train.lr": 1e-3})
    expected = [
        np.linalg.norm(spec.lr * g / (np.abs(g) + 1e-8)) / np.linalg.norm(w)
        for g, w in zip(trace.nabla_w, net.weights, strict=True)
    ]
    np.testing.assert_allclose(final_ratio(result), expected, rtol=1e-9)
    hidden = [spec.lr * np.sqrt(w.size) / np.linalg.norm(w) for w in net.weights[1:]]
    np.testing.assert_allclose(final_ratio(result)[1:], hidden, rtol=1e-4)


def test_clipping_rescales_the_step_to_the_clip_norm():
    clip = 1e-3
    spec, net, trace, result = one_full_batch_step(**{"train.clip_norm": clip, "train.lr": 0.5})
    total = np.sqrt(sum(np.vdot(g, g) for g in trace.gradients()))
    assert total > clip
    scale = clip / (total + 1e-6)
    expected = [
        spec.lr * scale * np.linalg.norm(g) / np.linalg.norm(w)
        for g, w in zip(trace.nabla_w, net.weights, strict=True)
    ]
    np.testing.assert_allclose(final_ratio(result), expected, rtol=1e-9)
    s = result.summary()
    assert s[names.CLIP_FRACTION] == 1.0
    assert s[names.GRAD_NORM_MEDIAN] == pytest.approx(total, rel=1e-9)  # before clipping
    assert result.final.grad_norm == pytest.approx(total, rel=1e-9)
    _, _, _, loose = one_full_batch_step(**{"train.clip_norm": 10 * total})
    assert loose.summary()[names.CLIP_FRACTION] == 0.0


def test_momentum_and_adam_names_build_the_pytorch_rules():
    w0, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    opt = make_optimizer("momentum", 0.1, momentum=0.9)
    assert isinstance(opt, SGD)
    w = w0.copy()
    opt.step([w], [g])
    opt.step([w], [g])  # v₁ = g, v₂ = 0.9 g + g
    np.testing.assert_allclose(w, w0 - 0.1 * (g + 1.9 * g))
    w = w0.copy()
    make_optimizer("sgd", 0.1, momentum=0.9).step([w], [g])
    np.testing.assert_allclose(w, w0 - 0.1 * g)  # momentum ignored by plain SGD
    assert isinstance(make_optimizer("adam", 0.1, betas=(0.5, 0.6)), Adam)
    with pytest.raises(ValueError, match="optimizer='rms' is not allowed"):
        make_optimizer("rms", 0.1)


def test_lsuv_init_gives_unit_variance_on_the_probe_batch():
    spec, rng, data = setup(**{"model.init": "lsuv", "model.depth": 6, "train.probe_size": 500})
    net = build_network(spec, data, rng)
    a = data.x_train[: spec.probe_size]
    for i in range(net.num_layers - 1):
        z = a @ net.weights[i].T + net.biases[i]
        assert abs(np.var(z) - 1.0) <= 0.1
        a = net.hidden(z)
    # the weights started orthogonal: rescaling keeps W Wᵀ proportional to I
    w = net.weights[2]
    gram = w @ w.T
    np.testing.assert_allclose(gram, gram[0, 0] * np.eye(w.shape[0]), atol=1e-10)


def test_batch_starts_merge_a_too_short_last_batch():
    assert batch_starts(21, 10) == [0, 10, 20]
    assert batch_starts(21, 10, min_rows=2) == [0, 10]
    assert batch_starts(22, 10, min_rows=2) == [0, 10, 20]
    assert batch_starts(1, 10, min_rows=2) == [0]
    sizes = [len(b) for b in minibatches(np.random.default_rng(0), 21, 10, min_rows=2)]
    assert sizes == [10, 11]


def test_batch_norm_trains_when_the_last_batch_has_one_row():
    batch = next(b for b in range(10, N_TRAIN) if N_TRAIN % b == 1)  # 479: 3 batches + 1 row
    spec, rng, data = setup(
        **{"model.norm": "batch", "model.depth": 2, "train.batch_size": batch, "train.epochs": 1}
    )
    result = train(spec, data, rng)
    assert result.steps == N_TRAIN // batch and not result.diverged
    assert np.isfinite(result.final.table["grad_b_norm"]).all()


def test_nonfinite_gamma_gradient_is_divergence():
    net = MLP([4, 5, 5, 2], "tanh", "linear", seed=1, norm="layer")
    x = np.random.default_rng(2).normal(size=(6, 4))
    trace = net.backprop(x, np.zeros((6, 2)))
    assert all_finite(trace) and first_nonfinite_layer(trace) is None
    trace.nabla_gamma[1][0] = np.inf
    assert not all_finite(trace)
    assert first_nonfinite_layer(trace) == (2, "backward")


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({}, "sigmoid-d5-lecun_normal-s0"),
        (
            {
                "model.depth": 20,
                "model.residual": True,
                "model.norm": "layer",
                "train.optimizer": "adam",
            },
            "sigmoid-d20-lecun_normal-res-ln-adam-s0",
        ),
        (
            {
                "model.residual": True,
                "model.residual_scale": 0.5,
                "model.norm": "batch",
                "train.optimizer": "momentum",
                "train.clip_norm": 1.0,
                "seed": 3,
            },
            "sigmoid-d5-lecun_normal-res0.5-bn-mom-clip1.0-s3",
        ),
        (
            {
                "model.activation": "selu",
                "model.init": "lsuv",
                "train.cost": "softmax_cross_entropy",
                "model.output_activation": "linear",
            },
            "selu-d5-lsuv-softmax-s0",
        ),
    ],
)
def test_run_names_show_only_the_remedies_used(overrides, name):
    cfg = train_cfg(**overrides)
    assert run_name(cfg) == name
    assert run_spec(cfg).run_name == name
