"""MNIST-1D: generated offline by the mnist1d package, cached, split by gradlab's rng.

The generator takes seconds, so one session-scoped cache directory is filled
once (with the network blocked and the global random states recorded around
it) and the other tests read from it.
"""

import random
import socket

import numpy as np
import pytest

import gradlab
from gradlab.data import cache
from gradlab.data import mnist1d as ours

CONNECTIONS = []  # every attempt to open a connection, kept even if a caller catches it


def _no_network(*args, **kwargs):
    CONNECTIONS.append(args)
    raise OSError("network access is disabled in this test")


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """Generate once into a fresh cache with sockets disabled; record what happened around it.

    A spy keeps make_dataset's own output, to compare with what the cache returns.
    """
    import mnist1d.data

    root = tmp_path_factory.mktemp("gradlab-cache")
    made = []

    def spy(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    original = mnist1d.data.make_dataset
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(cache.CACHE_ENV, str(root))
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        mp.setattr(socket, "getaddrinfo", _no_network)  # name look-up comes first
        mp.setattr(mnist1d.data, "make_dataset", spy)
        # the legacy global states are the subject of the test
        np.random.seed(1234)  # noqa: NPY002
        random.seed(1234)
        np_before, py_before = np.random.get_state(), random.getstate()  # noqa: NPY002
        x, labels = ours.load_raw()
        np_after, py_after = np.random.get_state(), random.getstate()  # noqa: NPY002
    return {
        "root": root,
        "x": x,
        "labels": labels,
        "made": made,
        "np_states": (np_before, np_after),
        "py_states": (py_before, py_after),
    }


@pytest.fixture
def cached(generated, monkeypatch):
    """The session's filled cache directory, with network access still disabled."""
    monkeypatch.setenv(cache.CACHE_ENV, str(generated["root"]))
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    return generated


def test_generation_leaves_the_global_random_states_alone(generated):
    np_before, np_after = generated["np_states"]
    assert np_before[0] == np_after[0] and np_before[2:] == np_after[2:]
    np.testing.assert_array_equal(np_before[1], np_after[1])
    assert generated["py_states"][0] == generated["py_states"][1]


def test_raw_data_is_what_the_generator_documents(generated):
    x, labels = generated["x"], generated["labels"]
    assert x.shape == (5000, 40) and x.dtype == np.float64
    # make_dataset draws num_samples // 10 = 500 signals per template
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # and standardises the whole set: mean 0, standard deviation 1
    assert abs(x.mean()) < 1e-12 and x.std() == pytest.approx(1.0, abs=1e-12)


def test_one_cache_file_keyed_by_the_arguments(generated):
    files = sorted(p.name for p in generated["root"].iterdir())
    args = vars(ours._default_args())
    key = ours.cache_key(args)
    assert files == [f"mnist1d-{key}.npz"]  # and no temporary file left behind
    assert ours.cache_key(dict(args, num_samples=6000)) != key
    assert ours.cache_key(dict(args, url="elsewhere")) == key  # where it would download from


def test_cache_hit_does_not_run_the_generator(cached, monkeypatch):
    import mnist1d.data

    def fail(*args, **kwargs):
        raise AssertionError("make_dataset ran although the cache holds the data")

    monkeypatch.setattr(mnist1d.data, "make_dataset", fail)
    x, labels = ours.load_raw()
    np.testing.assert_array_equal(x, cached["x"])
    np.testing.assert_array_equal(labels, cached["labels"])


def test_generated_offline_and_cached_as_the_generator_made_it(generated):
    assert CONNECTIONS == []
    (d,) = generated["made"]  # the generator ran exactly once
    np.testing.assert_array_equal(generated["x"], np.concatenate([d["x"], d["x_test"]]))
    np.testing.assert_array_equal(generated["labels"], np.concatenate([d["y"], d["y_test"]]))


def test_load_dataset_splits_with_the_seeded_rng(cached):
    d = gradlab.load_dataset("mnist1d", np.random.default_rng(0))
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.n_inputs == 40 and d.n_outputs == 10
    np.testing.assert_array_equal(d.y_train.sum(1), 1)  # one-hot rows
    assert set(np.unique(d.y_train)) == {0.0, 1.0}
    # the split is a permutation of the 5000 signals: every one appears once
    rows = np.concatenate([d.x_train, d.x_test])
    order = np.lexsort(rows.T)
    np.testing.assert_array_equal(rows[order], cached["x"][np.lexsort(cached["x"].T)])
    same = gradlab.load_dataset("mnist1d", np.random.default_rng(0))
    np.testing.assert_array_equal(same.x_train, d.x_train)
    np.testing.assert_array_equal(same.y_test, d.y_test)
    other = gradlab.load_dataset("mnist1d", np.random.default_rng(1))
    assert not np.array_equal(other.x_test, d.x_test)
    small = gradlab.load_dataset("mnist1d", np.random.default_rng(0), test_fraction=0.1)
    assert small.x_test.shape == (500, 40)


def test_atomic_save_leaves_no_partial_file(tmp_path):
    class Boom:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cache.save_npz_atomic(tmp_path / "d.npz", x=np.zeros(3), y=Boom())
    assert list(tmp_path.iterdir()) == []
    cache.save_npz_atomic(tmp_path / "d.npz", x=np.arange(3))
    with np.load(tmp_path / "d.npz") as f:
        np.testing.assert_array_equal(f["x"], np.arange(3))


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "a"
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.cache_dir() == tmp_path / "xdg" / "gradlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "gradlab"
