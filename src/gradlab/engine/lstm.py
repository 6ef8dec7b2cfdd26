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

from gradlab.engine.recurrent import (
    RecurrentNet,
    SequenceCost,
    batch_major,
    draw,
    readout,
    readout_error,
    readout_grads,
    sigmoid_into,
    tanh_into,
)
from gradlab.errors import check_number

Array = np.ndarray

#: The gates in PyTorch's order; block j of a_t is rows j·H..(j+1)·H of W_ih, W_hh, b.
GATES = ("input", "forget", "cell", "output")


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


def samples_first(a: Array) -> Array:
    """(n, T, ·) view of a (T, ·, n) array (one sample per column at each step)."""
    return a.transpose(2, 0, 1)


def lstm_forward(params: dict[str, Array], xt: Array) -> tuple[Array, ...]:
    """Forward pass from time-major x (T, n, n_in), one sample per column at each step.

    Columns, as in the module docstring's equations, because the gate blocks of
    a_t are then contiguous row ranges of its (4H, n) array; with one sample per
    row they would be strided column ranges, on which NumPy's element-wise
    passes run about twice as slowly.

    Returns
    -------
    gates : ndarray, shape (T, 4H, n)
        [i, f, g, o] after their nonlinearities.
    local : ndarray, shape (T, 4H, n)
        The factors that turn [∂c_t, ∂c_t, ∂c_t, ∂h_t] into ∂a_t (module docstring):
        [g ⊙ σ′(a^i), c_{t−1} ⊙ σ′(a^f), i ⊙ tanh′(a^g), tanh(c_t) ⊙ σ′(a^o)].  Formed
        here while their operands are in cache, so the backward pass reads one
        array per gate instead of two.
    c, tanh_c_prime, h : ndarray, shape (T, H, n)
    """
    w_hh = params["W_hh"]
    H = w_hh.shape[1]
    x_cols = np.ascontiguousarray(xt.transpose(0, 2, 1))  # (T, n_in, n), BLAS reads it as is
    # input drive of every step: (4H, n_in) @ (T, n_in, n) + (4H, 1) -> (T, 4H, n)
    a = np.matmul(params["W_ih"], x_cols)
    a += params["b"][:, None]
    T, _, n = a.shape
    gates = np.empty_like(a)
    local = a  # a_t is overwritten by its gates' derivatives, then by the local factors
    c, tanh_c_prime, h = (np.empty((T, H, n), dtype=a.dtype) for _ in range(3))
    rec, tanh_c = np.empty((4 * H, n), dtype=a.dtype), np.empty((H, n), dtype=a.dtype)
    # row blocks: [i, f] and o through σ, g through tanh (contiguous, no copies)
    blocks = (
        (slice(0, 2 * H), sigmoid_into),
        (slice(2 * H, 3 * H), tanh_into),
        (slice(3 * H, None), sigmoid_into),
    )
    for t in range(T):
        at, gt = a[t], gates[t]
        if t > 0:  # h_0 = 0
            at += np.matmul(w_hh, h[t - 1], out=rec)  # (4H, H) @ (H, n)
        for rows, into in blocks:
            into(at[rows], gt[rows], at[rows])
        i, f, g, o = (gt[j * H : (j + 1) * H] for j in range(4))
        k_i, k_f, k_g, k_o = (at[j * H : (j + 1) * H] for j in range(4))
        np.multiply(i, g, out=c[t])
        if t > 0:  # c_0 = 0
            c[t] += np.multiply(f, c[t - 1], out=tanh_c)
            k_f *= c[t - 1]
        else:
            k_f[...] = 0.0
        k_i *= g
        k_g *= i
        tanh_into(c[t], tanh_c, tanh_c_prime[t])
        np.multiply(o, tanh_c, out=h[t])
        k_o *= tanh_c
    return gates, local, c, tanh_c_prime, h


def lstm_backward(params, xt, fwd, g_y: Array, outputs: str):
    """∂C_k/∂h_t, ∂C_k/∂c_t, ∂C_k/∂a_t (as columns, like ``fwd``) and ∇ of W_ih, W_hh, b.

    ``fwd`` is the tuple from :func:`lstm_forward`; ``xt`` time-major (T, n, n_in);
    ``g_y`` the readout error ((n, n_out) for ``"last"``, (T, n, n_out) for
    ``"all"``).  Equations: module docstring.
    """
    gates, local, _, tanh_c_prime, h = fwd
    w_hh_t, w_hy = params["W_hh"].T, params["W_hy"]
    T, H, n = h.shape
    # (W_hy)ᵀ g^y_t as columns: (H, n_out) @ (…, n_out, n) -> (…, H, n)
    direct = w_hy.T @ np.swapaxes(g_y, -1, -2)
    d_h, d_c, d_a = np.empty_like(h), np.empty_like(h), np.empty_like(gates)
    fc = np.empty_like(h[0])
    for t in range(T - 1, -1, -1):
        dh, dc = d_h[t], d_c[t]
        if t == T - 1:
            dh[...] = direct if outputs == "last" else direct[-1]
        else:
            np.matmul(w_hh_t, d_a[t + 1], out=dh)  # (W_hh)ᵀ ∂a_{t+1}: (H, 4H) @ (4H, n)
            if outputs == "all":
                dh += direct[t]
        np.multiply(dh, gates[t][3 * H :], out=dc)  # ∂h_t ⊙ o_t
        dc *= tanh_c_prime[t]
        if t < T - 1:
            dc += np.multiply(d_c[t + 1], gates[t + 1][H : 2 * H], out=fc)  # ∂c_{t+1} ⊙ f_{t+1}
        # ∂a^{i,f,g}_t = ∂c_t ⊙ their local factors, one broadcast pass over (3, H, n)
        np.multiply(dc, local[t][: 3 * H].reshape(3, H, n), out=d_a[t][: 3 * H].reshape(3, H, n))
        np.multiply(dh, local[t][3 * H :], out=d_a[t][3 * H :])
    # every (step, sample) pair as one column, so each sum over t is one product
    cols = np.ascontiguousarray(d_a.transpose(1, 0, 2)).reshape(4 * H, T * n)
    h_rows = np.ascontiguousarray(h[:-1].transpose(0, 2, 1)).reshape(-1, H)  # ((T−1)·n, H)
    grads = {
        "W_ih": cols @ xt.reshape(T * n, -1) / n,
        # steps 2..T pair ∂a_t with h_{t−1}; h_0 = 0 adds nothing at t = 1
        "W_hh": cols[:, n:] @ h_rows / n,
        "b": cols.sum(axis=1) / n,
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
        return lstm_forward(self.params, xt)[-1].transpose(0, 2, 1)

    def _backprop(self, xt: Array, yt: Array, cost: SequenceCost, outputs: str) -> LSTMTrace:
        p = self.params
        fwd = lstm_forward(p, xt)
        gates, _, c, tanh_c_prime, h = fwd
        h_rows = h.transpose(0, 2, 1)  # time-major (T, n, H), as the readout takes it
        y_hat = readout(h_rows, p["W_hy"], p["b_y"], outputs)
        value, g_y = readout_error(y_hat, yt, cost, outputs)
        d_h, d_c, d_a, grads = lstm_backward(p, xt, fwd, g_y, outputs)
        grads["W_hy"], grads["b_y"] = readout_grads(h_rows, g_y, outputs)
        return LSTMTrace(
            gates=samples_first(gates),
            c=samples_first(c),
            h=samples_first(h),
            delta_h=samples_first(d_h),
            delta_c=samples_first(d_c),
            delta_gates=samples_first(d_a),
            tanh_c_prime=samples_first(tanh_c_prime),
            y_hat=batch_major(y_hat),
            delta_out=batch_major(g_y),
            grads={key: grads[key] for key in p},
            cost=value,
            outputs=outputs,
        )
