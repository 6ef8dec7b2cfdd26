"""The sequence tasks: their statistics against theory, their structure, their seeding."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from gradlab.data import (
    ADDING_CHANCE_MSE,
    adding_problem,
    digits_sequences,
    load_sequence_dataset,
    recall_task,
)


def test_adding_chance_mse_is_one_sixth_by_theory_and_simulation():
    # y = u + u′ with u, u′ ~ U(0, 1) independent: E[y] = 1, Var[y] = 2 · 1/12 = 1/6,
    # and the best constant prediction is E[y] = 1 with MSE Var[y].
    assert ADDING_CHANCE_MSE == pytest.approx(2 * (1 / 12), rel=1e-15)
    n = 200_000
    _, y = adding_problem(np.random.default_rng(0), n, length=20)
    se = 1 / np.sqrt(n)  # the standard errors below are ≤ 0.41/√n and 0.19/√n
    assert y.mean() == pytest.approx(1.0, abs=5 * se)
    mse = np.mean((y - 1.0) ** 2)
    assert mse == pytest.approx(1 / 6, abs=5 * se)


@pytest.mark.parametrize("length", [2, 3, 10, 51])
def test_adding_marks_one_step_in_each_half_and_target_is_their_sum(length):
    x, y = adding_problem(np.random.default_rng(1), 500, length)
    assert x.shape == (500, length, 2) and y.shape == (500, 1)
    values, marks = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(marks)) <= {0.0, 1.0}
    half = length // 2
    np.testing.assert_array_equal(marks[:, :half].sum(1), 1)
    np.testing.assert_array_equal(marks[:, half:].sum(1), 1)
    np.testing.assert_allclose(y[:, 0], (values * marks).sum(1), rtol=1e-15)


def test_recall_target_is_the_first_symbol_and_chance_is_one_over_k():
    k, m, length, n = 5, 3, 12, 100_000
    x, y = recall_task(np.random.default_rng(2), n, length, n_symbols=k, n_distractors=m)
    assert x.shape == (n, length + 1, k + m) and y.shape == (n, k)
    np.testing.assert_array_equal(x.sum(-1), 1.0)  # one symbol per step
    np.testing.assert_array_equal(x[:, 0, :k], y)  # step 1 shows the target
    np.testing.assert_array_equal(x[:, 1:, :k], 0.0)  # distractors never look like a symbol
    # labels uniform over k: the best constant guess is right 1/k of the time
    freq = y.mean(axis=0)
    np.testing.assert_allclose(freq, 1 / k, atol=5 * np.sqrt((1 / k) / n))
    dist = x[:, 1:, k:].reshape(-1, m).mean(axis=0)
    np.testing.assert_allclose(dist, 1 / m, atol=0.005)


def test_digits_read_by_rows_and_by_pixels_match_the_images():
    d = load_digits()
    x = d.data / 16.0
    rows = digits_sequences(x, "rows")
    pixels = digits_sequences(x, "pixels")
    np.testing.assert_array_equal(rows, d.images / 16.0)  # step r is image row r
    t = np.arange(64)
    np.testing.assert_array_equal(pixels[:, :, 0], (d.images / 16.0)[:, t // 8, t % 8])


@pytest.mark.parametrize(
    ("name", "kw", "shape_x", "shape_y"),
    [
        ("adding", {"length": 30}, (30, 2), (1,)),
        ("recall", {"length": 7, "n_symbols": 3, "n_distractors": 2}, (8, 5), (3,)),
        ("digits_seq", {"read": "rows"}, (8, 8), (10,)),
        ("digits_seq", {"read": "pixels"}, (64, 1), (10,)),
    ],
)
def test_load_sequence_dataset_shapes_and_seeding(name, kw, shape_x, shape_y):
    d1 = load_sequence_dataset(name, np.random.default_rng(3), n_samples=100, **kw)
    d2 = load_sequence_dataset(name, np.random.default_rng(3), n_samples=100, **kw)
    d3 = load_sequence_dataset(name, np.random.default_rng(4), n_samples=100, **kw)
    assert d1.x_train.shape[1:] == shape_x and d1.y_train.shape[1:] == shape_y
    assert d1.x_test.shape[1:] == shape_x and d1.y_test.shape[0] == d1.x_test.shape[0]
    assert (d1.length, d1.n_inputs, d1.n_outputs) == (*shape_x, *shape_y)
    np.testing.assert_array_equal(d1.x_train, d2.x_train)
    assert not np.array_equal(d1.x_train, d3.x_train)
    if name == "digits_seq":  # the 1797 digits split 80/20
        assert (d1.x_train.shape[0], d1.x_test.shape[0]) == (1438, 359)
    else:
        assert (d1.x_train.shape[0], d1.x_test.shape[0]) == (100, 20)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda rng: load_sequence_dataset("copy", rng), "data.name='copy'"),
        (lambda rng: adding_problem(rng, 10, 1), "data.length=1"),
        (lambda rng: recall_task(rng, 10, 5, n_symbols=1), "data.n_symbols=1"),
        (lambda rng: load_sequence_dataset("digits_seq", rng, read="cols"), "data.read='cols'"),
        (lambda rng: load_sequence_dataset("adding", rng, test_fraction=1.0), "test_fraction"),
    ],
)
def test_bad_input_names_key_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.random.default_rng(0))
