"""What the RNN and the LSTM share: the linear readout, its costs, input checks, the base class.

Both networks read their hidden state h_t (t = 1..T) out linearly,

    ŷ_t = W_hy h_t + b_y,

and the cost is taken on ŷ_T alone (``outputs="last"``) or averaged over the T
steps (``outputs="all"``, C_k = (1/T) Σ_t c(ŷ_t, y_t)).  Backpropagation through
time (BPTT) starts from the readout error ∂C_k/∂ŷ_t, which enters the hidden
state as (W_hy)ᵀ ∂C_k/∂ŷ_t at every step that carries a cost.

Arrays are batches of sequences, ``x`` of shape (n, T, n_in), one sample per
row as in :mod:`gradlab.engine.backprop`; every equation appears transposed
(row vectors).  The notes number steps t = 1..T; Python index ``t - 1`` holds
step t.  Internally the networks work time-major so that each step's slice is
contiguous: the RNN on (T, n, ·), the LSTM on (T, ·, n), one sample per column,
so that each gate's block of a step is a contiguous row range (see
:func:`gradlab.engine.lstm.lstm_forward`).  The traces they return are
(n, T, ·) views of those arrays.

The loops over time evaluate the sigmoid and tanh with their derivatives in
place (:func:`sigmoid_into`, :func:`tanh_into`): at one step's (n, H) or
(4H, n) sizes, fresh arrays and copies cost as much as the arithmetic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import ACTIVATIONS, Activation
from gradlab.engine.init import INITS
from gradlab.engine.network import resolve_dtype
from gradlab.errors import check_array, check_choice, check_number

Array = np.ndarray

#: Where the cost is taken: on ŷ_T only, or averaged over every step t = 1..T.
OUTPUTS = ("last", "all")


def sigmoid_clip(dtype) -> float:
    """z above which :func:`sigmoid_into` holds e^z at e^clip: ⌊−ln(smallest normal)⌋.

    708 in float64 (σ′(708) ≈ 3.3e−308 is still normal; e^{709.8} overflows) and
    87 in float32 (σ′(87) ≈ 1.6e−38; e^{88.8} overflows).
    """
    return float(np.floor(-np.log(np.finfo(dtype).tiny)))


_CLIPS = {np.dtype(dt): sigmoid_clip(dt) for dt in (np.float64, np.float32)}


def sigmoid_into(z: Array, value: Array, prime: Array) -> None:
    """σ(z) into ``value`` and σ′(z) into ``prime``, in place; ``prime`` may be ``z`` itself.

    With E = e^z and s = 1/(1 + E) = σ(−z): σ(z) = E·s and σ′(z) = σ(z)σ(−z)
    (the activations module's σ′ = e^{−|z|}/(1 + e^{−|z|})², rearranged).  Every
    factor is positive, so both keep full relative accuracy for tiny values
    (σ(−40) ≈ 4e−18, σ′(40) ≈ 4e−18).  z is clipped at :func:`sigmoid_clip` so
    that E stays finite: above it σ(z) = 1 exactly and σ′ is reported as σ′(clip),
    the smallest normal-range value, where the true value is smaller still.
    """
    np.minimum(z, _CLIPS[z.dtype], out=value)
    np.exp(value, out=value)  # E
    np.add(value, 1.0, out=prime)  # z is read for the last time above
    np.reciprocal(prime, out=prime)  # σ(−z)
    value *= prime  # σ(z) = E σ(−z)
    prime *= value  # σ′(z) = σ(z) σ(−z)


def tanh_into(z: Array, value: Array, prime: Array) -> None:
    """tanh(z) into ``value`` and tanh′(z) = sech²(z) = 1/cosh²(z) into ``prime``, in place.

    ``prime`` may be ``z`` itself.  sech² keeps tiny values (tanh′(20) ≈ 1.7e−17,
    where 1 − tanh² rounds to 0); cosh overflows to ∞ for |z| > 710, which gives
    the correct limit 0.
    """
    np.tanh(z, out=value)
    with np.errstate(over="ignore"):
        np.cosh(z, out=prime)
    np.reciprocal(prime, out=prime)
    np.square(prime, out=prime)


#: Activations whose (φ, φ′) the loops over time compute in place; others go through
#: ``Activation.value_and_prime`` and a copy.
IN_PLACE: dict[Activation, Callable[[Array, Array, Array], None]] = {
    ACTIVATIONS["sigmoid"]: sigmoid_into,
    ACTIVATIONS["tanh"]: tanh_into,
}


def _quadratic(y_hat: Array, y: Array) -> tuple[Array, Array]:
    # c = ½‖ŷ − y‖², ∂c/∂ŷ = ŷ − y (linear output, so no φ′ factor).
    diff = y_hat - y
    return 0.5 * np.sum(diff * diff, axis=-1), diff


def _softmax_cross_entropy(y_hat: Array, y: Array) -> tuple[Array, Array]:
    # c = −Σ_j y_j ln softmax(ŷ)_j = (Σ_j y_j)·lse(ŷ) − y·ŷ with the log-sum-exp
    # shifted by max_j ŷ_j, so no exponential overflows; ∂c/∂ŷ = (Σ_j y_j)·softmax(ŷ) − y,
    # which is softmax(ŷ) − y for one-hot or probability targets.
    m = np.max(y_hat, axis=-1, keepdims=True)
    shifted = y_hat - m
    lse = np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))  # lse(ŷ) − m
    mass = np.sum(y, axis=-1, keepdims=True)
    value = (mass * (lse + m))[..., 0] - np.sum(y * y_hat, axis=-1)
    grad = mass * np.exp(shifted - lse) - y
    return value, grad


@dataclass(frozen=True)
class SequenceCost:
    """A cost on the linear readout ŷ, with its derivative beside it.

    Attributes
    ----------
    name : str
        Registry key (``cost=...``).
    value_and_grad : callable
        ``(ŷ, y) -> (c, ∂c/∂ŷ)`` for arrays (..., n_out): c has shape (...),
        ∂c/∂ŷ the shape of ŷ.
    """

    name: str
    value_and_grad: Callable[[Array, Array], tuple[Array, Array]]


SEQUENCE_COSTS: dict[str, SequenceCost] = {
    "quadratic": SequenceCost("quadratic", _quadratic),
    "softmax_cross_entropy": SequenceCost("softmax_cross_entropy", _softmax_cross_entropy),
}


def get_sequence_cost(name: str | SequenceCost, key: str = "cost") -> SequenceCost:
    """Look up a readout cost by name; ``key`` names the argument in errors."""
    if isinstance(name, SequenceCost):
        return name
    return SEQUENCE_COSTS[check_choice(key, name, SEQUENCE_COSTS)]


def readout(h: Array, w_hy: Array, b_y: Array, outputs: str) -> Array:
    """ŷ from time-major hidden states h of shape (T, n, H).

    Returns
    -------
    ndarray
        ``"last"``: ŷ_T, shape (n, n_out); ``"all"``: ŷ_t for every t, (T, n, n_out).
    """
    h_used = h[-1] if outputs == "last" else h
    # (…, n, H) @ (H, n_out) + (n_out,) -> (…, n, n_out)
    return h_used @ w_hy.T + b_y


def readout_error(y_hat: Array, y: Array, cost: SequenceCost, outputs: str) -> tuple[float, Array]:
    """Batch-mean cost C and the readout error g = ∂C_k/∂ŷ (per sample).

    ``y_hat`` and ``y`` are (n, n_out) for ``"last"`` and time-major (T, n, n_out)
    for ``"all"``, where C_k = (1/T) Σ_t c(ŷ_t, y_t) and so g_t = (1/T) ∂c/∂ŷ_t.
    """
    value, grad = cost.value_and_grad(y_hat, y)
    if outputs == "all":
        T = y_hat.shape[0]
        grad /= T
        return float(value.mean(axis=0).mean()), grad
    return float(value.mean()), grad


def readout_grads(h: Array, g: Array, outputs: str) -> tuple[Array, Array]:
    """(∇W_hy, ∇b_y), batch means, from h (T, n, H) and g as from :func:`readout_error`."""
    n = h.shape[1]
    if outputs == "last":
        # (n_out, n) @ (n, H) -> (n_out, H)
        return g.T @ h[-1] / n, g.sum(axis=0) / n
    n_out, H = g.shape[-1], h.shape[-1]
    # Σ_t g_tᵀ h_t as one product over the stacked (T·n) rows
    return g.reshape(-1, n_out).T @ h.reshape(-1, H) / n, g.sum(axis=(0, 1)) / n


def batch_major(a: Array) -> Array:
    """(n, T, ·) view of a time-major (T, n, ·) array; a 2-D (n, ·) array is returned as is."""
    return a if a.ndim == 2 else a.transpose(1, 0, 2)


def draw(rng: np.random.Generator, shape: tuple[int, int], init: str, gain: float, dtype):
    """One weight matrix (fan_out, fan_in) from the scheme ``init`` (see :mod:`.init`)."""
    return INITS[check_choice("init", init, INITS)](rng, shape, gain, dtype)


class RecurrentNet(ABC):
    """Parameters, validation and the public API shared by :class:`RNN` and :class:`LSTM`.

    Subclasses set ``self.params`` (W_hy (n_out, H) and b_y (n_out,) among them)
    and ``input_key``, and implement ``_hidden(x)`` (time-major h) and
    ``_backprop(x, y, cost, outputs)`` on validated time-major arrays.
    """

    params: dict[str, Array]
    #: key of the input matrix in ``params`` (shape (·, n_in))
    input_key: str

    @staticmethod
    def _setup(n_in, n_hidden, n_out, seed, dtype):
        """Validated sizes, the Generator and the dtype every subclass needs."""
        sizes = tuple(
            check_number(key, v, integer=True, minimum=1)
            for key, v in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out))
        )
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return sizes, rng, resolve_dtype(dtype)

    @property
    def n_in(self) -> int:
        """Width of one step's input x_t."""
        return self.params[self.input_key].shape[1]

    @property
    def n_hidden(self) -> int:
        """H, the width of the hidden state h_t."""
        return self.params["W_hh"].shape[1]

    @property
    def n_out(self) -> int:
        """Width of the readout ŷ_t."""
        return self.params["W_hy"].shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.params["W_hh"].dtype

    def _check_x(self, x) -> Array:
        x = check_array("x", x, ndim=3)
        if x.shape[0] < 1 or x.shape[1] < 1 or x.shape[2] != self.n_in:
            raise ValueError(
                f"x has shape {x.shape}; it must be (n, T, {self.n_in}) with n >= 1, T >= 1"
            )
        # time-major (T, n, n_in), contiguous so every step is one block
        return np.ascontiguousarray(x.astype(self.dtype, copy=False).transpose(1, 0, 2))

    def _check_y(self, y, n: int, T: int, outputs: str) -> Array:
        check_choice("outputs", outputs, OUTPUTS)
        want = (n, self.n_out) if outputs == "last" else (n, T, self.n_out)
        y = check_array("y", y, ndim=(2, 3))
        if y.shape != want:
            raise ValueError(f"y has shape {y.shape}; it must be {want} for outputs={outputs!r}")
        y = y.astype(self.dtype, copy=False)
        return y if outputs == "last" else y.transpose(1, 0, 2)

    def feedforward(self, x: Array, outputs: str = "last") -> Array:
        """ŷ for a batch x of shape (n, T, n_in).

        Returns ŷ_T of shape (n, n_out) for ``"last"``, every ŷ_t as (n, T, n_out)
        for ``"all"``.
        """
        check_choice("outputs", outputs, OUTPUTS)
        h = self._hidden(self._check_x(x))  # (T, n, H)
        y_hat = readout(h, self.params["W_hy"], self.params["b_y"], outputs)
        return y_hat if outputs == "last" else y_hat.transpose(1, 0, 2)

    def backprop(self, x: Array, y: Array, cost: str = "quadratic", outputs: str = "last"):
        """Backpropagation through time on the batch (x, y).

        Parameters
        ----------
        x : ndarray, shape (n, T, n_in)
            One sequence per row.
        y : ndarray
            Targets: (n, n_out) for ``outputs="last"`` (cost on ŷ_T), (n, T, n_out)
            for ``"all"`` (cost averaged over the T steps).
        cost : str
            ``'quadratic'`` (c = ½‖ŷ − y‖²) or ``'softmax_cross_entropy'``
            (c = −Σ_j y_j ln softmax(ŷ)_j).
        outputs : str
            ``'last'`` or ``'all'``.

        Returns
        -------
        trace
            The subclass's trace: ``grads`` (batch means, keys of ``params``),
            ``cost`` and the per-step errors, all (n, T, ·).
        """
        c = get_sequence_cost(cost, "cost")
        xt = self._check_x(x)
        yt = self._check_y(y, xt.shape[1], xt.shape[0], outputs)
        return self._backprop(xt, yt, c, outputs)

    @abstractmethod
    def _hidden(self, xt: Array) -> Array:
        """Hidden states h_1..h_T, time-major (T, n, H), from time-major x (T, n, n_in)."""

    @abstractmethod
    def _backprop(self, xt: Array, yt: Array, cost: SequenceCost, outputs: str):
        """BPTT on validated time-major arrays; returns the subclass's trace."""
