"""MNIST-1D: 5000 one-dimensional signals of 40 samples in 10 classes, made locally.

Greydanus & Kobak's generator (the ``mnist1d`` package) turns ten 12-point
templates into signals by random padding, scaling, translation, correlated and
white noise and shear, then standardises the whole set to mean 0 and variance 1.
We call its ``make_dataset`` with the package's documented default arguments
(``get_dataset_args()``: 5000 samples, 40 inputs, 10 classes, seed 42) and
never ``get_dataset``, which downloads a pickle by default.  The result is
cached as ``mnist1d-<key>.npz`` in :func:`gradlab.data.cache.cache_dir`, the key
hashing those arguments and the package version.

The generator seeds NumPy's and Python's global random state; both are saved
before and restored after it, so gradlab's seeded runs are unaffected.

References
----------
Greydanus & Kobak (2024), "Scaling down deep learning with MNIST-1D", ICML.
"""

from __future__ import annotations

import hashlib
import json
import random
from importlib.metadata import version

import numpy as np

from gradlab.data.cache import cache_dir, save_npz_atomic

Array = np.ndarray

N_CLASSES = 10


def _default_args():
    from mnist1d.data import get_dataset_args

    return get_dataset_args(as_dict=False)


def cache_key(args: dict) -> str:
    """16 hex digits of SHA-256 over the generator arguments and the package version.

    ``url`` (where ``get_dataset`` would download from) is left out: it does
    not change what ``make_dataset`` produces.
    """
    gen = {k: v for k, v in sorted(args.items()) if k != "url"}
    blob = json.dumps({"args": gen, "mnist1d": version("mnist1d")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _generate(args) -> tuple[Array, Array]:
    from mnist1d.data import make_dataset

    # The legacy global state is what the generator reseeds, so it is what we restore.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        d = make_dataset(args)  # calls np.random.seed(args.seed) and random.seed(args.seed)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    x = np.concatenate([d["x"], d["x_test"]])  # (5000, 40), the package's 4000 + 1000
    labels = np.concatenate([d["y"], d["y_test"]])  # (5000,)
    return x, labels


def load_raw() -> tuple[Array, Array]:
    """All 5000 signals and their labels, from the cache or generated once.

    Returns
    -------
    x : ndarray, shape (5000, 40)
        float64 signals, standardised over the whole set by the generator.
    labels : ndarray, shape (5000,)
        Class indices 0..9, 500 of each.
    """
    args = _default_args()
    path = cache_dir() / f"mnist1d-{cache_key(vars(args))}.npz"
    if not path.exists():
        x, labels = _generate(args)
        save_npz_atomic(path, x=x, labels=labels)
    with np.load(path, allow_pickle=False) as f:
        return f["x"], f["labels"]
