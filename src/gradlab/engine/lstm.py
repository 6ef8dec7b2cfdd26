"""The LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

PyTorch's layout, so weights can be copied into ``torch.nn.LSTM``: the four gates
stacked in the order input, forget, cell, output, a_t = W_ih x_t + W_hh h_{t−1} + b
of shape 4H (torch's two biases b_ih + b_hh are one vector ``b`` here).  For
t = 1..T with h_0 = c_0 = 0:

    i_t = σ(a^i_t),  f_t = σ(a^f_t),  g_t = tanh(a^g_t),  o_t = σ(a^o_t)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t),            ŷ_t = W_hy h_t + b_y

Backward through time, with ∂h_t = ∂C_k/∂h_t and ∂c_t = ∂C_k/∂c_t the total
derivatives (every later use included) and g^y_t = ∂C_k/∂ŷ_t:

    ∂h_t = (W_hy)ᵀ g^y_t + (W_hh)ᵀ ∂a_{t+1}
    ∂c_t = ∂h_t ⊙ o_t ⊙ tanh′(c_t) + ∂c_{t+1} ⊙ f_{t+1}
    ∂a_t = [∂c_t ⊙ g_t ⊙ σ′(a^i_t),  ∂c_t ⊙ c_{t−1} ⊙ σ′(a^f_t),
            ∂c_t ⊙ i_t ⊙ tanh′(a^g_t), ∂h_t ⊙ tanh(c_t) ⊙ σ′(a^o_t)]

The cell path ∂c_t = ∂c_{t+1} ⊙ f_{t+1} + … has no weight matrix and no
squashing derivative: with forget gates near 1 the error is carried across
many steps almost unchanged (the "constant error carousel", Hochreiter &
Schmidhuber 1997), so ‖∂c_t‖ can stay flat over time gaps where the RNN's ‖δ_t‖
shrinks geometrically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import ACTIVATIONS
from gradlab.engine.recurrent import (
    RecurrentNet,
    SequenceCost,
    batch_major,
    draw,
    readout,
    readout_error,
    readout_grads,
)
from gradlab.errors import check_number

Array = np.ndarray

#: The gates in PyTorch's order; block j of a_t is rows j·H..(j+1)·H of W_ih, W_hh, b.
GATES = ("input", "forget", "cell", "output")
_SIGMOID, _TANH = ACTIVATIONS["sigmoid"], ACTIVATIONS["tanh"]


@dataclass
class LSTMTrace:
    """Everything one BPTT pass of the LSTM computes; step t is index t − 1.

    Attributes
    ----------
    gates : ndarray, shape (n, T, 4H)
        [i_t, f_t, g_t, o_t] after their nonlinearities, PyTorch's order.
    c, h : ndarray, shape (n, T, H)
        Cell state c_t and hidden state h_t.
    delta_h, delta_c : ndarray, shape (n, T, H)
        ∂C_k/∂h_t and ∂C_k/∂c_t per sample (total derivatives).
    delta_gates : ndarray, shape (n, T, 4H)
        ∂C_k/∂a_t, the error of the gates' pre-activations.
    tanh_c_prime : ndarray, shape (n, T, H)
        tanh′(c_t), the derivative on the path c_t → h_t.
    y_hat, delta_out : ndarray
        ŷ and ∂C_k/∂ŷ: (n, n_out) for ``outputs="last"``, (n, T, n_out) for ``"all"``.
    grads : dict of str to ndarray
        ∂C/∂p for every key of ``LSTM.params``, batch means.
    cost : float
        Batch-mean cost C.
    outputs : str
        ``"last"`` or ``"all"``.
    """

    gates: Array
    c: Array
    h: Array
    delta_h: Array
    delta_c: Array
    delta_gates: Array
    tanh_c_prime: Array
    y_hat: Array
    delta_out: Array
    grads: dict[str, Array]
    cost: float
    outputs: str

    @property
    def num_steps(self) -> int:
        """T, the sequence length."""
        return self.h.shape[1]

    @property
    def forget(self) -> Array:
        """f_t, shape (n, T, H)."""
        H = self.h.shape[-1]
        return self.gates[..., H : 2 * H]


def lstm_forward(params: dict[str, Array], xt: Array) -> tuple[Array, ...]:
    """Time-major forward pass from x (T, n, n_in).

    Returns
    -------
    gates, primes : ndarray, shape (T, n, 4H)
        [i, f, g, o] and the derivatives of their nonlinearities at a_t.
    c, tanh_c, tanh_c_prime, h : ndarray, shape (T, n, H)
    """
    w_hh = params["W_hh"]
    H = w_hh.shape[1]
    # input drive of every step at once: (T, n, n_in) @ (n_in, 4H) + (4H,) -> (T, n, 4H)
    a = xt @ params["W_ih"].T
    a += params["b"]
    T, n, _ = a.shape
    gates, primes = np.empty_like(a), np.empty_like(a)
    c, tanh_c, tanh_c_prime, h = (np.empty((T, n, H), dtype=a.dtype) for _ in range(4))
    # column blocks: [i, f] and o through σ, g through tanh (contiguous slices, no copies)
    blocks = (
        (slice(0, 2 * H), _SIGMOID),
        (slice(2 * H, 3 * H), _TANH),
        (slice(3 * H, None), _SIGMOID),
    )
    for t in range(T):
        if t > 0:  # h_0 = 0
            a[t] += h[t - 1] @ w_hh.T  # (n, H) @ (H, 4H)
        for cols, phi in blocks:
            gates[t][:, cols], primes[t][:, cols] = phi.value_and_prime(a[t][:, cols])
        i, f, g, o = (gates[t][:, j * H : (j + 1) * H] for j in range(4))
        np.multiply(i, g, out=c[t])
        if t > 0:  # c_0 = 0
            c[t] += f * c[t - 1]
        tanh_c[t], tanh_c_prime[t] = _TANH.value_and_prime(c[t])
        np.multiply(o, tanh_c[t], out=h[t])
    return gates, primes, c, tanh_c, tanh_c_prime, h


def lstm_backward(params, xt, fwd, g_y: Array, outputs: str):
    """∂C_k/∂h_t, ∂C_k/∂c_t, ∂C_k/∂a_t (time-major) and ∇ of W_ih, W_hh, b.

    ``fwd`` is the tuple from :func:`lstm_forward`; ``g_y`` the readout error
    ((n, n_out) for ``"last"``, (T, n, n_out) for ``"all"``).  Equations: module docstring.
    """
    gates, primes, c, tanh_c, tanh_c_prime, h = fwd
    w_hh, w_hy = params["W_hh"], params["W_hy"]
    T, n, H = h.shape
    direct = g_y @ w_hy  # (W_hy)ᵀ g^y_t: (…, n, n_out) @ (n_out, H)
    d_h, d_c, d_a = np.empty_like(h), np.empty_like(h), np.empty_like(gates)
    for t in range(T - 1, -1, -1):
        dh, dc = d_h[t], d_c[t]
        if t == T - 1:
            dh[...] = direct if outputs == "last" else direct[-1]
        else:
            np.matmul(d_a[t + 1], w_hh, out=dh)  # row form of (W_hh)ᵀ ∂a_{t+1}
            if outputs == "all":
                dh += direct[t]
        i, g, o = (gates[t][:, j * H : (j + 1) * H] for j in (0, 2, 3))
        np.multiply(dh, o, out=dc)
        dc *= tanh_c_prime[t]
        if t < T - 1:
            dc += d_c[t + 1] * gates[t + 1][:, H : 2 * H]  # ∂c_{t+1} ⊙ f_{t+1}
        da = d_a[t]
        np.multiply(dc, g, out=da[:, :H])
        if t > 0:
            np.multiply(dc, c[t - 1], out=da[:, H : 2 * H])
        else:  # c_0 = 0
            da[:, H : 2 * H] = 0.0
        np.multiply(dc, i, out=da[:, 2 * H : 3 * H])
        np.multiply(dh, tanh_c[t], out=da[:, 3 * H :])
        da *= primes[t]  # σ′ or tanh′ of each gate's pre-activation
    rows = d_a.reshape(-1, 4 * H)  # the T·n (step, sample) pairs as rows
    grads = {
        "W_ih": rows.T @ xt.reshape(-1, xt.shape[-1]) / n,
        # steps 2..T pair ∂a_t with h_{t−1}; h_0 = 0 adds nothing at t = 1
        "W_hh": d_a[1:].reshape(-1, 4 * H).T @ h[:-1].reshape(-1, H) / n,
        "b": rows.sum(axis=0) / n,
    }
    return d_h, d_c, d_a, grads


class LSTM(RecurrentNet):
    """A one-layer LSTM with a linear readout (see the module docstring).

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Input width, hidden width H and output width.
    forget_bias : float
        Initial bias of the forget gate; 1 keeps f_t ≈ σ(1) ≈ 0.73 at the start so
        the cell remembers (Gers et al. 2000; Jozefowicz et al. 2015).  The other
        gates' biases start at 0.
    init : str
        Scheme of each gate's H × H block of W_hh (see :mod:`gradlab.engine.init`);
        each gate's block of W_ih and W_hy are drawn ``lecun_normal``, as for the RNN.
    gain : float
        Multiplies the scheme's standard deviation of W_hh.
    seed : int or np.random.Generator
        Source of every random number used here.
    dtype : str
        ``'float64'`` (default) or ``'float32'``.

    Attributes
    ----------
    params : dict of str to ndarray
        ``W_ih`` (4H, n_in), ``W_hh`` (4H, H), ``b`` (4H,), ``W_hy`` (n_out, H),
        ``b_y`` (n_out,); gate blocks in the order of :data:`GATES`.
    """

    input_key = "W_ih"

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        forget_bias: float = 1.0,
        init: str = "orthogonal",
        gain: float = 1.0,
        seed: int | np.random.Generator = 0,
        dtype: str = "float64",
    ) -> None:
        (n_in, H, n_out), rng, dt = self._setup(n_in, n_hidden, n_out, seed, dtype)
        gain = check_number("gain", gain, minimum=0)
        forget_bias = check_number("forget_bias", forget_bias)
        b = np.zeros(4 * H, dtype=dt)
        b[H : 2 * H] = forget_bias
        self.params = {
            "W_ih": np.concatenate([draw(rng, (H, n_in), "lecun_normal", 1.0, dt) for _ in GATES]),
            "W_hh": np.concatenate([draw(rng, (H, H), init, gain, dt) for _ in GATES]),
            "b": b,
            "W_hy": draw(rng, (n_out, H), "lecun_normal", 1.0, dt),
            "b_y": np.zeros(n_out, dtype=dt),
        }

    def _hidden(self, xt: Array) -> Array:
        return lstm_forward(self.params, xt)[-1]

    def _backprop(self, xt: Array, yt: Array, cost: SequenceCost, outputs: str) -> LSTMTrace:
        p = self.params
        fwd = lstm_forward(p, xt)
        gates, _, c, _, tanh_c_prime, h = fwd
        y_hat = readout(h, p["W_hy"], p["b_y"], outputs)
        value, g_y = readout_error(y_hat, yt, cost, outputs)
        d_h, d_c, d_a, grads = lstm_backward(p, xt, fwd, g_y, outputs)
        grads["W_hy"], grads["b_y"] = readout_grads(h, g_y, outputs)
        return LSTMTrace(
            gates=batch_major(gates),
            c=batch_major(c),
            h=batch_major(h),
            delta_h=batch_major(d_h),
            delta_c=batch_major(d_c),
            delta_gates=batch_major(d_a),
            tanh_c_prime=batch_major(tanh_c_prime),
            y_hat=batch_major(y_hat),
            delta_out=batch_major(g_y),
            grads={key: grads[key] for key in p},
            cost=value,
            outputs=outputs,
        )
