"""Backprop's ∇W and ∇b against central finite differences of the cost."""

import numpy as np
import pytest
from gradcheck import check_grad, numeric_grad

import gradlab

ACTS = sorted(gradlab.ACTIVATIONS)
COMBOS = [(act, out, "quadratic") for act in ACTS for out in (act, "sigmoid")] + [
    (act, "sigmoid", "cross_entropy") for act in ACTS
]


@pytest.mark.parametrize(("hidden", "output", "cost"), COMBOS)
@pytest.mark.parametrize("init", ["lecun_normal", "xavier_uniform", "orthogonal"])
def test_gradients_match_finite_differences(hidden, output, cost, init):
    rng = np.random.default_rng(7)
    sizes = [4, 5, 6, 5, 3]  # depth 3 hidden layers, L = 4
    net = gradlab.MLP(sizes, hidden, output, init=init, gain=1.3, bias_std=0.2, seed=rng)
    x = rng.standard_normal((6, sizes[0]))
    y = rng.uniform(0, 1, (6, sizes[-1]))
    trace = net.backprop(x, y, cost=cost)
    c = gradlab.get_cost(cost)

    def f():
        z, a = gradlab.forward(net.weights, net.biases, x, net.hidden, net.output)
        return float(c.value(z[-1], a[-1], y))

    for i in range(net.num_layers):
        check_grad(trace.nabla_w[i], numeric_grad(f, net.weights[i]), what=f"∇W^{i + 1}")
        check_grad(trace.nabla_b[i], numeric_grad(f, net.biases[i]), what=f"∇b^{i + 1}")


def test_delta_is_dC_dz_per_sample():
    # δ^l_k = ∂C_k/∂z^l_k: perturb z^l of one sample and re-run the layers above.
    rng = np.random.default_rng(3)
    net = gradlab.MLP([3, 4, 4, 2], "tanh", "sigmoid", seed=rng)
    x = rng.standard_normal((5, 3))
    y = rng.uniform(0, 1, (5, 2))
    trace = net.backprop(x, y, cost="quadratic")
    k = 2
    for i in range(net.num_layers):
        z = trace.z[i][k].copy()

        def f(i=i, z=z):
            a = net.output(z) if i == net.num_layers - 1 else net.hidden(z)
            for j in range(i + 1, net.num_layers):
                phi = net.output if j == net.num_layers - 1 else net.hidden
                a = phi(net.weights[j] @ a + net.biases[j])
            return 0.5 * float(np.sum((a - y[k]) ** 2))

        check_grad(trace.delta[i][k], numeric_grad(f, z), what=f"δ^{i + 1}")


def test_float32_close_to_float64():
    net64 = gradlab.MLP([5, 8, 8, 3], "tanh", seed=1)
    net32 = gradlab.MLP.from_arrays(
        [w.astype(np.float32) for w in net64.weights],
        [b.astype(np.float32) for b in net64.biases],
        "tanh",
    )
    x = np.random.default_rng(2).standard_normal((4, 5))
    y = np.zeros((4, 3))
    t64, t32 = net64.backprop(x, y), net32.backprop(x, y)
    assert t32.nabla_w[0].dtype == np.float32
    for a, b in zip(t64.nabla_w, t32.nabla_w, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
