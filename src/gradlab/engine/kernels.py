"""The engine's hot element-wise passes, fused by numba where it is installed (optional).

Three operations of a sigmoid network's step dominate its element-wise time:

- :func:`sigmoid_and_prime`: z^l += b^l, then σ(z^l) and σ′(z^l) from one e^{−|z|};
- :func:`scale_and_sum`: δ^l = (δ^{l+1} W^{l+1}) ⊙ φ′(z^l) in place, and Σ_k δ^l_k
  for ∇b^l (notes eqs. 4 and 5);
- :func:`subtract_scaled`: the SGD update p ← p − η g in place.

Each has a NumPy path (always there) and a numba path, one compiled pass over the
arrays, used for float64 C-contiguous arrays when numba imports.  The NumPy sigmoid
takes eight passes over (n, n_l), and NumPy's float64 ``np.exp`` is vectorised only
with AVX-512: on AVX2 machines it calls the scalar libm ``exp`` per element.  The
compiled kernel evaluates e^x with arithmetic that LLVM vectorises on any target.

Both paths use the same formulas, element by element:

    e = e^{−|z|},  r = 1/(1 + e) = σ(|z|),  s = e·r = σ(−|z|),
    σ′(z) = s·r,   σ(z) = r if z ≥ 0 else s,

so σ and σ′ keep full relative accuracy where they are tiny (σ′(40) ≈ 4e−18).
They differ only in e^x: the compiled e^x (Cody & Waite's reduction, as fdlibm's
``exp``; details in :mod:`gradlab.engine._numba_kernels`) is within about one unit
in the last place of the exact value, as NumPy's ``np.exp`` implementations are,
which themselves differ from one CPU to another in the last place
(``tests/test_kernels.py`` measures both against long-double references).
The sums and the update do the same operations in the same order on both paths.

Which path runs: numba's when it imports, unless the environment variable
``GRADLAB_KERNELS=numpy`` asks for NumPy's (read once per process);
:func:`backend` says which, and :func:`using` switches for one block, to compare
the two.  numba caches the compiled code on disk (``cache=True``), so a new
process loads it instead of compiling it again; it loads every specialisation at
first use, with Ctrl-C and SIGTERM held back meanwhile (:func:`_interrupts_held`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from gradlab.errors import check_choice

Array = np.ndarray

#: Environment variable choosing the element-wise kernels: "numba" (default) or "numpy".
KERNELS_ENV = "GRADLAB_KERNELS"
KERNEL_CHOICES = ("numba", "numpy")

#: The most axes an array the compiled kernels take may have: (members E, n, n_l).
MAX_NDIM = 3

_FLOAT64 = np.dtype(np.float64)
_LOADED: list = []  # [the numba module of kernels or None, description], on first use


@functools.cache
def _load(choice: str) -> tuple[ModuleType | None, str]:
    """(gradlab.engine._numba_kernels or None, description) for a choice of KERNEL_CHOICES."""
    check_choice(KERNELS_ENV, choice, KERNEL_CHOICES)
    if choice == "numpy":
        return None, f"NumPy ({KERNELS_ENV}=numpy)"
    try:
        with _interrupts_held():
            from gradlab.engine import _numba_kernels as module  # optional: numba

            _compile_all(module)
    except ImportError as exc:  # not installed, or built for another NumPy
        return None, f"NumPy (numba does not import: {exc})"
    return module, f"numba {module.numba.__version__}"


def _compile_all(module: ModuleType) -> None:
    """Compile, or load from numba's cache, every specialisation :func:`_base` admits.

    All at first use, so that no later call compiles: float64, C-contiguous,
    writeable, 1 to :data:`MAX_NDIM` axes (a layer, or an ensemble of layers).
    """
    for ndim in range(1, MAX_NDIM + 1):
        x, y = np.zeros((1,) * ndim), np.zeros((1,) * ndim)
        module.sigmoid_and_prime(x)
        module.subtract_scaled(x, y, 0.0)
        if ndim >= 2:
            module.bias_sigmoid_and_prime(x, np.zeros((1,) * (ndim - 1)))
            module.scale_and_sum(x, y)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Run the block with SIGINT and SIGTERM held back; one that came is handled after it.

    numba is not safe to interrupt while it imports or compiles: a KeyboardInterrupt
    (Ctrl-C, or gradlab's SIGTERM handler under ``scancel``) during ``import numba``
    left it half-imported ("module 'numba' has no attribute 'core'" at the next
    use); one during compilation broke numba's registries of typing and lowering
    functions (later compiles raised "RuntimeError: generator raised
    StopIteration"), and in a process that went on compiling also ended in a hang
    or a double free.  Python runs signal handlers in the main thread only, so
    swapping them there is enough; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[tuple[int, object]] = []
    stops = (signal.SIGINT, signal.SIGTERM)
    held = {s: signal.signal(s, lambda signum, frame: came.append((signum, frame))) for s in stops}
    try:
        yield
    finally:
        for s, handler in held.items():
            signal.signal(s, handler)
    if not came:
        return
    signum, frame = came[0]
    handler = held[signum]
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def _compiled() -> ModuleType | None:
    """gradlab.engine._numba_kernels, or None where numba is missing or switched off."""
    if not _LOADED:
        _LOADED[:] = _load(os.environ.get(KERNELS_ENV, "numba"))
    return _LOADED[0]


def backend() -> str:
    """Which kernels this process runs, e.g. ``'numba 0.68.1'`` or ``'NumPy (…)'``."""
    _compiled()
    return _LOADED[1]


@contextlib.contextmanager
def using(choice: str) -> Iterator[str]:
    """Run the block with the kernels of ``choice`` ("numba" or "numpy"); yields backend().

    What ``GRADLAB_KERNELS=choice`` does for a new process, for one block of this
    one (the benchmark's and the tests' side-by-side comparisons); the previous
    choice is restored after the block.
    """
    saved = list(_LOADED)
    _LOADED[:] = _load(choice)
    try:
        yield _LOADED[1]
    finally:
        _LOADED[:] = saved


def _call(kernel, *args):
    """kernel(*args), with a Ctrl-C or SIGTERM during the call raised as itself.

    A signal handler that raises (KeyboardInterrupt) runs when control is back in
    Python; if that is inside numba's dispatcher, after the compiled code
    returned, numba (0.68.1 here) raises ``SystemError: CPUDispatcher(...) returned a
    result with an exception set`` with the interrupt at the end of its chain.
    Without this, a job stopped by ``scancel`` would be recorded as FAILED.
    """
    try:
        return kernel(*args)
    except SystemError as err:
        cause: BaseException | None = err
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise cause from None


def _base(*arrays: object) -> list[Array] | None:
    """The arguments as base-class arrays if the compiled kernels take them all, else None.

    They take C-contiguous, writeable, aligned float64 arrays of 1 to MAX_NDIM axes: the
    specialisations :func:`_compile_all` made, so no call compiles.
    """
    out = []
    for x in arrays:
        if not isinstance(x, np.ndarray) or x.dtype != _FLOAT64:  # native byte order
            return None
        if not (1 <= x.ndim <= MAX_NDIM and x.flags.carray):  # C-contiguous, writeable, aligned
            return None
        out.append(x if type(x) is np.ndarray else np.asarray(x))
    return out


# --- σ and σ′ -----------------------------------------------------------------------


def sigmoid_halves(z: Array) -> tuple[Array, Array]:
    """(σ(−|z|), σ(|z|)) from one exponential e = e^{−|z|}: (e·r, r) with r = 1/(1+e).

    Both factors are positive, so σ(−|z|) keeps full relative accuracy where it
    is tiny (σ(−40) ≈ 4e−18).  Five NumPy passes, −|z| in one (copysign, exact).
    """
    if not isinstance(z, np.ndarray) or z.dtype.kind != "f" or z.ndim == 0:  # scalars, integers
        z = np.asarray(z, np.result_type(z, 1.0))
        e, r = sigmoid_halves(z.reshape(-1))
        return e.reshape(z.shape), r.reshape(z.shape)
    e = np.copysign(z, -1.0)
    np.exp(e, out=e)
    r = np.add(e, 1.0)
    np.reciprocal(r, out=r)  # σ(|z|)
    e *= r  # σ(−|z|)
    return e, r


def sigmoid_and_prime_numpy(z: Array) -> tuple[Array, Array]:
    """(σ(z), σ′(z)) in NumPy: eight passes, three new arrays (σ, σ′, a temporary).

    σ′(z) = σ(−|z|)σ(|z|), and σ(z) is σ(|z|) for z ≥ 0, σ(−|z|) for z < 0.  Since
    σ(−|z|) ≥ 0 and σ(|z|) ≥ σ(−|z|), that choice is max(copysign(σ(|z|), z),
    σ(−|z|)): two branch-free passes, where np.where on a mask of random signs
    mispredicts half its branches and costs as much as the exponential.
    """
    e, r = sigmoid_halves(z)
    prime = np.multiply(e, r)
    a = np.copysign(r, z, out=r)
    np.maximum(a, e, out=a)
    return a, prime


def sigmoid_and_prime(z: Array, b: Array | None = None) -> tuple[Array, Array]:
    """(σ(z), σ′(z)), after z += b in place when a bias b is given.

    Parameters
    ----------
    z : ndarray, shape (..., n, n_l)
        Pre-activations; with ``b``, a^{l−1}(W^l)ᵀ, overwritten by z^l = that + b^l.
    b : ndarray, shape (..., n_l), optional
        b^l, added to every row of z.

    Returns
    -------
    (ndarray, ndarray)
        σ(z) and σ′(z), new arrays of z's shape and dtype.
    """
    nk = _compiled()
    args = _base(z) if b is None else _base(z, b)
    if nk is not None and args is not None and z.ndim and z.size:
        if b is None:
            return _call(nk.sigmoid_and_prime, *args)
        if z.ndim >= 2 and b.shape == z.shape[:-2] + z.shape[-1:]:
            return _call(nk.bias_sigmoid_and_prime, *args)
    if b is not None:
        z += b[..., None, :]
    return sigmoid_and_prime_numpy(z)


# --- backward and update --------------------------------------------------------------


def scale_and_sum(delta: Array, prime: Array) -> Array:
    """δ ⊙= φ′ in place, and return Σ_k δ_k over the batch axis (−2).

    delta, prime : (..., n, n_l); returns (..., n_l), the sum that ∇b^l = (1/n) Σ_k δ^l_k
    needs (eq. 5).  Rows are added in order on both paths, as ``np.add.reduce`` does.
    """
    nk = _compiled()
    args = _base(delta, prime)
    if nk is not None and args is not None and delta.ndim >= 2 and prime.shape == delta.shape:
        if delta.size:
            total = _call(nk.scale_and_sum, *args)
            return total if delta.ndim == 2 else total.reshape(delta.shape[:-2] + delta.shape[-1:])
    delta *= prime
    return np.add.reduce(delta, axis=-2)


def subtract_scaled(p: Array, g: Array, lr: float) -> None:
    """p ← p − η g in place (one pass where compiled; NumPy makes η g first)."""
    nk = _compiled()
    args = _base(p, g)
    if nk is not None and args is not None and p.shape == g.shape:
        _call(nk.subtract_scaled, *args, float(lr))
        return
    p -= lr * g
