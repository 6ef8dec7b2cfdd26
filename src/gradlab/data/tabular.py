"""Data sets, returned as float arrays with one sample per row.

``digits``: scikit-learn's bundled 8×8 handwritten digits (1797 samples, no
download), inputs scaled to [0, 1], targets one-hot over 10 classes, split
into train and test by a seeded permutation.  ``mnist1d``: the 5000 signals of
Greydanus & Kobak's MNIST-1D (40 inputs, 10 classes, standardised), generated
locally and cached (:mod:`gradlab.data.mnist1d`), split the same way.
``gaussian``: x ~ N(0, I) with random one-hot targets, any size, for probing
propagation at initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gradlab.data import mnist1d
from gradlab.errors import check_choice, check_number

Array = np.ndarray

DATASETS = ("digits", "gaussian", "mnist1d")


@dataclass(frozen=True)
class Dataset:
    """Train and test splits; ``labels`` are class indices (argmax of y)."""

    name: str
    x_train: Array  # (n_train, n_0)
    y_train: Array  # (n_train, n_L)
    x_test: Array  # (n_test, n_0)
    y_test: Array  # (n_test, n_L)

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.y_train.shape[1]


@lru_cache(maxsize=1)
def _digits_raw() -> tuple[Array, Array]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target  # pixel intensities 0..16 -> [0, 1]


def one_hot(labels: Array, n_classes: int, dtype=np.float64) -> Array:
    """(n,) integer labels -> (n, n_classes) one-hot rows."""
    return np.eye(n_classes, dtype=dtype)[labels]


def _split(rng, x, y, test_fraction):
    n = x.shape[0]
    perm = rng.permutation(n)
    n_test = round(test_fraction * n)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def load_dataset(
    name: str,
    rng: np.random.Generator,
    *,
    test_fraction: float = 0.2,
    n_samples: int = 1000,
    n_inputs: int = 64,
    n_outputs: int = 10,
    dtype=np.float64,
) -> Dataset:
    """Load ``name`` and split it with the seeded ``rng``.

    ``n_samples``, ``n_inputs`` and ``n_outputs`` apply to ``gaussian`` only;
    ``digits`` is always 64 inputs and 10 classes, ``mnist1d`` 40 inputs and 10
    classes (with the default ``test_fraction`` 0.2: 4000 train, 1000 test).
    """
    check_choice("data.name", name, DATASETS)
    frac = check_number("data.test_fraction", test_fraction, minimum=0)
    if frac >= 1:
        raise ValueError(f"data.test_fraction={test_fraction!r} is not allowed; it must be < 1")
    if name in ("digits", "mnist1d"):
        x, labels = _digits_raw() if name == "digits" else mnist1d.load_raw()
        y = one_hot(labels, 10, dtype)
        x = x.astype(dtype)
    else:
        n = check_number("data.n_samples", n_samples, integer=True, minimum=1)
        n0 = check_number("data.n_inputs", n_inputs, integer=True, minimum=1)
        nl = check_number("data.n_outputs", n_outputs, integer=True, minimum=1)
        x = rng.standard_normal((n, n0)).astype(dtype)
        y = one_hot(rng.integers(0, nl, size=n), nl, dtype)
    return Dataset(name, *_split(rng, x, y, frac))
