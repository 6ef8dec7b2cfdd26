"""Bad input to the engine's public functions: ValueError naming key, value, allowed."""

import numpy as np
import pytest

import gradlab


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(activation="sigmod"), r"activation='sigmod' is not allowed; choose one of: .*"),
        (dict(output_activation="soft"), r"output_activation='soft'"),
        (dict(init="glorot"), r"init='glorot' is not allowed; choose one of: .*xavier_normal"),
        (dict(gain=-1.0), r"gain=-1.0 is not allowed; it must be a number >= 0"),
        (dict(bias_std=float("nan")), r"bias_std=nan is not allowed"),
        (dict(dtype="float16"), r"dtype='float16' is not allowed; choose one of: float64, float32"),
    ],
)
def test_constructor_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        gradlab.MLP([3, 4, 2], **kwargs)


def test_sizes_errors():
    msg = r"sizes\[1\]=0 is not allowed; it must be an integer >= 1"
    with pytest.raises(ValueError, match=msg):
        gradlab.MLP([3, 0, 2])
    with pytest.raises(ValueError, match="at least 2"):
        gradlab.MLP([3])


def test_batch_errors():
    net = gradlab.MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"x has shape \(5, 4\); it must be \(n, 3\)"):
        net.backprop(np.zeros((5, 4)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"y has 4 rows and x has 5"):
        net.backprop(np.zeros((5, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        net.backprop(np.full((1, 3), np.inf), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="cost='hinge' is not allowed; choose one of"):
        net.backprop(np.zeros((1, 3)), np.zeros((1, 2)), cost="hinge")


def test_from_arrays_shape_errors():
    w1, w2 = np.zeros((3, 2)), np.zeros((1, 4))
    with pytest.raises(
        ValueError,
        match=r"weights\[1\] \(layer 2\) has shape \(1, 4\); it must "
        r"have 3 columns",
    ):
        gradlab.MLP.from_arrays([w1, w2], [np.zeros(3), np.zeros(1)])
    with pytest.raises(ValueError, match=r"biases\[0\] \(layer 1\) has shape \(2,\)"):
        gradlab.MLP.from_arrays([w1], [np.zeros(2)])
    with pytest.raises(ValueError, match=r"weights\[0\] contains NaN"):
        gradlab.MLP.from_arrays([np.full((3, 2), np.nan)], [np.zeros(3)])
