"""The formula errata of the derivation notes (gradlab.explain.notes.NOTATION_ERRATA),
each checked: the corrected formula agrees with the engine and with central finite
differences (tests/gradcheck.py), and the notes' version does not, or cannot be
formed with the arrays' shapes.

Each test is marked with the key of the erratum it checks; the last test fails
when an erratum has no check.  The reference σ here is written from its formula,
not taken from the engine.  Layers are l = 1..L; ``net.weights[l - 1]`` is W^l of
shape (n_l, n_{l-1}); one sample, so ``trace.z[l - 1][0]`` is z^l.
"""

import numpy as np
import pytest
from gradcheck import check_grad, numeric_grad

import gradlab
from gradlab.engine.activations import get_activation
from gradlab.explain.notes import NOTATION_ERRATA
from gradlab.explain.quantities import quantities

CHECKED: set[str] = set()


def checks(key: str):
    """Mark a test as the check of ``NOTATION_ERRATA`` entry ``key``."""

    def mark(test):
        CHECKED.add(key)
        return test

    return mark


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


def network(sizes, seed):
    """A sigmoid network with N(0, 1) weights and biases, one sample (x, y), its trace."""
    rng = np.random.default_rng(seed)
    net = gradlab.MLP(sizes, "sigmoid", init="normal", bias_std=1.0, seed=rng)
    x = rng.standard_normal((1, sizes[0]))
    y = rng.uniform(size=(1, sizes[-1]))
    return net, x, y, net.backprop(x, y, cost="quadratic")


def jacobian(f, x):
    """∂f_i/∂x_j by central differences: shape (f().size, x.size)."""
    return np.array([numeric_grad(lambda i=i: f()[i], x) for i in range(f().size)])


@checks("cost_convention")
def test_the_notes_cost_without_one_half_doubles_every_gradient():
    _net, _x, y, trace = network([2, 3, 2], 0)
    zL, y0 = trace.z[-1][0].copy(), y[0]
    half = numeric_grad(lambda: 0.5 * np.sum((sigmoid(zL) - y0) ** 2), zL)
    full = numeric_grad(lambda: np.sum((sigmoid(zL) - y0) ** 2), zL)
    check_grad(trace.delta[-1][0], half, what="δ^L of C = ½‖a − y‖²")
    check_grad(2 * trace.delta[-1][0], full, what="δ^L of C_0 = ‖a − y‖², eq. (1)")


@checks("d_previous_activation")
def test_the_factor_w_belongs_to_the_derivative_by_the_previous_activation():
    # §1's chain of single neurons, w^(L) = −1.5 (far from 1, so the factor shows)
    net = gradlab.MLP.from_arrays([np.array([[0.8]]), np.array([[-1.5]])], [[0.1], [0.2]])
    x, y = np.array([[0.6]]), np.array([[0.9]])
    trace = net.backprop(x, y)
    a_prev, b = trace.a[1][0].copy(), net.biases[1].copy()

    def c0():  # C_0 = (a^(L) − y)², §1.1
        return np.sum((sigmoid(net.weights[1] @ a_prev + b) - y[0]) ** 2)

    rhs = 2 * trace.delta[-1][0] * net.weights[1][0, 0]  # 2(a − y) σ′(z) w, §1.5
    check_grad(rhs, numeric_grad(c0, a_prev), what="∂C_0/∂a^(L−1)")
    d_b = numeric_grad(c0, b)
    check_grad(2 * trace.delta[-1][0], d_b, what="∂C_0/∂b^(L), §1.4")
    assert not np.allclose(rhs, d_b, rtol=0.1)


@checks("layer_letter")
def test_a_6_to_4_network_has_layers_l_0_and_1_and_L_1():
    net, _x, _y, trace = network([6, 4], 1)
    assert net.num_layers == 1  # L = 1: the second layer is the last one
    assert [a.shape[1] for a in trace.a] == [6, 4]  # a^0 (6 neurons), a^1 (4 neurons)
    assert net.weights[0].shape == (4, 6)  # W^(1), 4 × 6


@checks("sum_upper_limit")
def test_z_sums_over_every_neuron_of_the_previous_layer():
    net, _x, _y, trace = network([2, 3, 2], 2)
    W, b = net.weights[-1], net.biases[-1]  # W^L: (n, m) = (2, 3)
    a, z = trace.a[-2][0], trace.z[-1][0]  # a^(L−1): (m,), z^(L): (n,)
    n, m = W.shape
    for j in range(n):
        assert sum(W[j, i] * a[i] for i in range(m)) + b[j] == pytest.approx(z[j], rel=1e-12)
        for k in range(m - 1):  # the notes' expansion, ending at the term in a_k
            stopped = sum(W[j, i] * a[i] for i in range(k + 1)) + b[j]
            assert abs(stopped - z[j]) > 1e-3, (j, k)


@checks("vjp_order")
def test_the_chain_rule_is_a_vector_jacobian_product():
    # z^2 as a function of z^1: J = W^2 diag(σ′(z^1)), 3 × 3 and not symmetric
    net, _x, y, trace = network([3, 3, 3], 3)
    z1 = trace.z[0][0].copy()
    J = jacobian(lambda: net.weights[1] @ sigmoid(z1) + net.biases[1], z1)
    v = trace.delta[1][0]  # ∂C/∂z^2
    assert (v[None, :] @ J).shape == (1, 3)  # vᵀJ is a row
    check_grad(J.T @ v, trace.delta[0][0], what="Jᵀv against the engine's δ^1")
    assert not np.allclose(J @ v, trace.delta[0][0], rtol=0.1)  # J v: the notes' order
    # a^L as a function of z^L: J diagonal, so J v = Jᵀv and the notes' numbers come out right
    zL = trace.z[-1][0].copy()
    JL = jacobian(lambda: sigmoid(zL), zL)
    vL = trace.a[-1][0] - y[0]
    np.testing.assert_allclose(JL @ vL, JL.T @ vL, rtol=0, atol=1e-15)
    check_grad(JL.T @ vL, trace.delta[-1][0], what="δ^L")


@checks("da_dz_shape")
def test_da_dz_is_a_diagonal_jacobian_whose_diagonal_is_phi_prime():
    net, _x, _y, trace = network([2, 3, 2], 4)
    zL = trace.z[-1][0].copy()
    J = jacobian(lambda: net.output.phi(zL), zL)  # the engine's σ, element-wise on z^L
    assert J.shape == (2, 2)  # n_L × n_L, not 2 × 1
    np.testing.assert_array_equal(J - np.diag(np.diag(J)), 0.0)
    check_grad(np.diag(J), trace.phi_prime[-1][0], what="diagonal of ∂a^L/∂z^L")


@checks("l_and_L")
def test_the_gradient_of_w_L_comes_from_z_L_and_delta_L():
    net, x, y, trace = network([3, 3, 3], 5)
    W2 = net.weights[1]  # W^L, perturbed in place by the finite differences

    def z(l, i):
        return net.backprop(x, y).z[l - 1][0, i]

    for i in range(3):
        np.testing.assert_array_equal(numeric_grad(lambda i=i: z(1, i), W2), 0.0)  # z^(L−1)
        expected = np.zeros_like(W2)
        expected[i] = trace.a[1][0]  # ∂z^L_i/∂w^L_ij = a^(L−1)_j, row i only
        check_grad(numeric_grad(lambda i=i: z(2, i), W2), expected, what=f"∂z^L_{i}/∂W^L")

    def cost():
        return 0.5 * np.sum((net.feedforward(x) - y) ** 2)

    right = np.outer(trace.delta[1][0], trace.a[1][0])  # δ^L (a^(L−1))ᵀ
    check_grad(right, numeric_grad(cost, W2), what="∂C/∂W^L")
    check_grad(right, trace.nabla_w[1], rtol=1e-12, what="the engine's ∇W^L")
    mixed = np.outer(trace.delta[0][0], trace.a[1][0])  # δ^l with l = L − 1
    assert not np.allclose(mixed, trace.nabla_w[1], rtol=0.1)


@checks("neuron_count")
def test_layer_L_minus_1_has_m_neurons_and_each_gradient_row_m_entries():
    _net, _x, _y, trace = network([2, 3, 2], 6)
    m = 3
    assert trace.a[-2].shape == (1, m)
    assert trace.nabla_w[-1].shape == (2, m)
    for j in range(2):  # row j of ∂c/∂W^(L) = δ_j (a_0, …, a_{m−1})
        np.testing.assert_allclose(
            trace.nabla_w[-1][j], trace.delta[-1][0, j] * trace.a[-2][0], rtol=1e-14
        )


@checks("transpose_entries")
def test_row_k_of_the_transpose_holds_w_jk():
    net, _x, y, trace = network([3, 3, 3], 7)  # n = m = 3, so every index the notes use exists
    W, d = net.weights[-1], trace.delta[-1][0]
    back = quantities(net.weights, trace, y, "quadratic")["back1"]  # the engine's (W^L)ᵀ δ^L
    n, m = W.shape
    for k in range(m):
        row = [W[j, k] for j in range(n)]  # row k of (W^L)ᵀ: w_{0,k}, …, w_{n−1,k}
        assert np.dot(row, d) == pytest.approx(back[k], rel=1e-12)
    notes_row_2 = [W[0, 1], W[1, 1], W[1, n - 1]]  # ends in w_{1,n−1}
    assert np.dot(notes_row_2, d) != pytest.approx(back[1], rel=1e-3)
    notes_last = [W[0, m - 1], W[m - 1, 1], W[m - 1, n - 1]]
    assert np.dot(notes_last, d) != pytest.approx(back[m - 1], rel=1e-3)
    # in the notes' own [2, 3, 2] example (n = 2, m = 3) w_{m−1,1} does not even exist
    W232 = network([2, 3, 2], 7)[0].weights[-1]
    with pytest.raises(IndexError):
        W232[3 - 1, 1]


@checks("missing_sigma_prime")
def test_the_gradient_of_w_L_minus_1_carries_sigma_prime():
    net, x, y, trace = network([2, 3, 2], 8)
    W2, d2, z1, a0 = net.weights[1], trace.delta[1][0], trace.z[0][0], trace.a[0][0]
    full = np.empty((3, 2))
    without = np.empty((3, 2))
    for j in range(3):
        back = sum(d2[i] * W2[i, j] for i in range(2))
        for k in range(2):
            full[j, k] = a0[k] * sigmoid_prime(z1[j]) * back
            without[j, k] = a0[k] * back  # the notes' middle expression

    def cost():
        return 0.5 * np.sum((net.feedforward(x) - y) ** 2)

    check_grad(full, numeric_grad(cost, net.weights[0]), what="∂C/∂W^(L−1)")
    check_grad(full, trace.nabla_w[0], rtol=1e-12, what="the engine's ∇W^(L−1)")
    assert not np.allclose(without, trace.nabla_w[0], rtol=0.5)  # off by σ′ ≤ ¼


@checks("row_vector_shape")
def test_the_activation_row_is_1_by_p():
    _net, _x, _y, trace = network([4, 3, 2], 9)  # p = 4, m = 3
    column = trace.delta[0][0][:, None]  # δ^(L−1): m × 1
    row = trace.a[0][0][None, :]  # (a^(L−2))ᵀ: 1 × p
    assert (column @ row).shape == trace.nabla_w[0].shape == (3, 4)
    np.testing.assert_allclose(column @ row, trace.nabla_w[0], rtol=1e-14)
    with pytest.raises(ValueError):
        column @ trace.a[0][0][:, None]  # m × 1 times p × 1: no product


@checks("k_and_K")
def test_delta_k_has_one_free_index():
    net, _x, _y, trace = network([2, 3, 2], 10)
    W2, d2, z1 = net.weights[1], trace.delta[1][0], trace.z[0][0]
    right = [sum(d2[j] * W2[j, k] for j in range(2)) * sigmoid_prime(z1[k]) for k in range(3)]
    check_grad(np.array(right), trace.delta[0][0], what="δ^(L−1)")
    for K in range(3):  # the notes' right-hand side with a fixed K: the same for every k
        literal = sum(d2[j] * W2[j, K] for j in range(2)) * sigmoid_prime(z1[K])
        assert not np.allclose(np.full(3, literal), trace.delta[0][0], rtol=0.1)


@checks("z_superscript")
def test_z_L_sums_over_sigma_of_z_L_minus_1():
    net, _x, _y, trace = network([3, 3, 3], 11)  # square, so the notes' z^(L) − 1 can be formed
    W2, b2, z1, z2 = net.weights[1], net.biases[1], trace.z[0][0], trace.z[1][0]
    np.testing.assert_allclose(W2 @ sigmoid(z1) + b2, z2, rtol=1e-12)
    assert not np.allclose(W2 @ sigmoid(z2 - 1) + b2, z2, rtol=0.1)


@checks("sigmoid_derivative")
def test_the_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    z = np.linspace(-6.0, 6.0, 25)
    act = get_activation("sigmoid")
    numeric = numeric_grad(lambda: float(np.sum(act.phi(z))), z)  # element-wise: dσ/dz
    check_grad(sigmoid(z) * (1 - sigmoid(z)), numeric, what="σ(1 − σ)")
    check_grad(act.phi_prime(z), numeric, what="the engine's σ′")


def test_every_formula_erratum_is_checked():
    assert {e.key for e in NOTATION_ERRATA} == CHECKED
