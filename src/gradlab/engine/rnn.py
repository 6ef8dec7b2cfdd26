"""The vanilla (Elman) RNN and backpropagation through time.

Forward, for steps t = 1..T with h_0 = 0 (rows, so every product is transposed
with respect to the column-vector equations):

    z_t = W_xh x_t + W_hh h_{t−1} + b_h
    h_t = φ(z_t)
    ŷ_t = W_hy h_t + b_y                                   (linear readout)

Backward (BPTT; Werbos 1990), with g_t = ∂C_k/∂ŷ_t (zero for t < T when the cost
is on ŷ_T only):

    δ_T = ((W_hy)ᵀ g_T) ⊙ φ′(z_T)
    δ_t = ((W_hh)ᵀ δ_{t+1} + (W_hy)ᵀ g_t) ⊙ φ′(z_t)        δ_t = ∂C_k/∂z_t
    ∇W_hh = (1/n) Σ_k Σ_{t≥2} δ_t h_{t−1}ᵀ,   ∇W_xh = (1/n) Σ_k Σ_t δ_t x_tᵀ,
    ∇b_h = (1/n) Σ_k Σ_t δ_t.

One matrix W_hh acts at every step, so ‖δ_t‖ ≤ ‖δ_T‖ (sup|φ′| ‖W_hh‖₂)^{T−t}
when only ŷ_T is costed: gradients vanish or explode geometrically in the time
gap T − t (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013, §2.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import Activation, get_activation
from gradlab.engine.init import init_biases
from gradlab.engine.recurrent import (
    IN_PLACE,
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


@dataclass
class RNNTrace:
    """Everything one BPTT pass of the RNN computes; step t is index t − 1.

    Attributes
    ----------
    z, h, phi_prime, delta : ndarray, shape (n, T, H)
        z_t, h_t, φ′(z_t) and δ_t = ∂C_k/∂z_t per sample.
    y_hat : ndarray
        ŷ_T (n, n_out) for ``outputs="last"``; ŷ_t (n, T, n_out) for ``"all"``.
    delta_out : ndarray
        g = ∂C_k/∂ŷ, shape of ``y_hat``.
    grads : dict of str to ndarray
        ∂C/∂p for every key of ``RNN.params``, batch means.
    cost : float
        Batch-mean cost C.
    outputs : str
        ``"last"`` or ``"all"``.
    """

    z: Array
    h: Array
    phi_prime: Array
    delta: Array
    y_hat: Array
    delta_out: Array
    grads: dict[str, Array]
    cost: float
    outputs: str

    @property
    def num_steps(self) -> int:
        """T, the sequence length."""
        return self.z.shape[1]


def rnn_forward(params: dict[str, Array], xt: Array, phi: Activation) -> tuple[Array, ...]:
    """z_t, h_t, φ′(z_t) for t = 1..T, each time-major (T, n, H), from x (T, n, n_in)."""
    w_hh_t = params["W_hh"].T  # a view: BLAS reads it transposed, nothing is copied
    T, n, n_in = xt.shape
    # input drive of every step as one product: (T·n, n_in) @ (n_in, H) + (H,) -> (T, n, H)
    z = (xt.reshape(T * n, n_in) @ params["W_xh"].T).reshape(T, n, -1)
    z += params["b_h"]
    h = np.empty_like(z)
    prime = np.empty_like(z)
    into = IN_PLACE.get(phi)
    for t in range(T):
        if t > 0:  # h_0 = 0
            np.matmul(h[t - 1], w_hh_t, out=h[t])  # (n, H) @ (H, H); h[t] is scratch until φ
            z[t] += h[t]
        if into is not None:
            into(z[t], h[t], prime[t])
        else:
            h[t], prime[t] = phi.value_and_prime(z[t])
    return z, h, prime


def rnn_backward(
    params: dict[str, Array], xt: Array, h: Array, prime: Array, g: Array, outputs: str
) -> tuple[Array, dict[str, Array]]:
    """δ_t for every step (time-major (T, n, H)) and ∇ of W_xh, W_hh, b_h (module docstring).

    ``g`` is the readout error from :func:`readout_error`: (n, n_out) for ``"last"``,
    (T, n, n_out) for ``"all"``.
    """
    w_hh, w_hy = params["W_hh"], params["W_hy"]
    T, n, H = h.shape
    # (W_hy)ᵀ g_t, the cost's direct pull on h_t: (…, n, n_out) @ (n_out, H)
    direct = g @ w_hy
    delta = np.empty_like(h)
    last = direct if outputs == "last" else direct[-1]
    np.multiply(last, prime[-1], out=delta[-1])  # δ_T
    for t in range(T - 2, -1, -1):
        np.matmul(delta[t + 1], w_hh, out=delta[t])  # row form of (W_hh)ᵀ δ_{t+1}
        if outputs == "all":
            delta[t] += direct[t]
        delta[t] *= prime[t]
    rows = delta.reshape(-1, H)  # the T·n (step, sample) pairs as rows
    grads = {
        "W_xh": rows.T @ xt.reshape(-1, xt.shape[-1]) / n,
        # steps 2..T pair δ_t with h_{t−1}; h_0 = 0 adds nothing at t = 1
        "W_hh": delta[1:].reshape(-1, H).T @ h[:-1].reshape(-1, H) / n,
        "b_h": rows.sum(axis=0) / n,
    }
    return delta, grads


class RNN(RecurrentNet):
    """A one-layer Elman RNN with a linear readout (see the module docstring).

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Input width, hidden width H and output width.
    activation : str
        φ (see :data:`gradlab.engine.activations.ACTIVATIONS`).
    init : str
        Scheme of the recurrent matrix W_hh (see :mod:`gradlab.engine.init`);
        W_xh and W_hy are drawn ``lecun_normal`` (variance 1/fan_in), since only
        W_hh enters the recursion over time.
    gain : float
        Multiplies the scheme's standard deviation of W_hh.
    spectral_radius : float, optional
        If set, W_hh is rescaled after its draw so that its largest |eigenvalue|
        is this value (orthogonal W_hh: then ‖W_hh‖₂ equals it too).
    bias_std : float
        b_h ~ N(0, bias_std²); b_y starts at 0.
    seed : int or np.random.Generator
        Source of every random number used here.
    dtype : str
        ``'float64'`` (default) or ``'float32'``.

    Attributes
    ----------
    params : dict of str to ndarray
        ``W_xh`` (H, n_in), ``W_hh`` (H, H), ``b_h`` (H,), ``W_hy`` (n_out, H),
        ``b_y`` (n_out,).  Edit in place to set weights.
    activation : Activation
        φ.
    """

    input_key = "W_xh"

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        activation: str = "tanh",
        init: str = "orthogonal",
        gain: float = 1.0,
        spectral_radius: float | None = None,
        bias_std: float = 0.0,
        seed: int | np.random.Generator = 0,
        dtype: str = "float64",
    ) -> None:
        (n_in, H, n_out), rng, dt = self._setup(n_in, n_hidden, n_out, seed, dtype)
        gain = check_number("gain", gain, minimum=0)
        bias_std = check_number("bias_std", bias_std, minimum=0)
        self.activation = get_activation(activation, "activation")
        w_hh = draw(rng, (H, H), init, gain, dt)
        if spectral_radius is not None:
            rho = check_number("spectral_radius", spectral_radius, exclusive_minimum=0)
            current = float(np.max(np.abs(np.linalg.eigvals(w_hh))))
            if current == 0.0:
                raise ValueError(
                    f"spectral_radius={spectral_radius!r} is not allowed with gain={gain!r}; "
                    "W_hh is zero and cannot be rescaled, so gain must be > 0"
                )
            w_hh *= rho / current
        self.params = {
            "W_xh": draw(rng, (H, n_in), "lecun_normal", 1.0, dt),
            "W_hh": w_hh,
            "b_h": init_biases(rng, [0, H], bias_std, dt)[0],
            "W_hy": draw(rng, (n_out, H), "lecun_normal", 1.0, dt),
            "b_y": np.zeros(n_out, dtype=dt),
        }

    def _hidden(self, xt: Array) -> Array:
        return rnn_forward(self.params, xt, self.activation)[1]

    def _backprop(self, xt: Array, yt: Array, cost: SequenceCost, outputs: str) -> RNNTrace:
        p = self.params
        z, h, prime = rnn_forward(p, xt, self.activation)
        y_hat = readout(h, p["W_hy"], p["b_y"], outputs)
        value, g = readout_error(y_hat, yt, cost, outputs)
        delta, grads = rnn_backward(p, xt, h, prime, g, outputs)
        grads["W_hy"], grads["b_y"] = readout_grads(h, g, outputs)
        grads = {key: grads[key] for key in p}  # the order of params

        return RNNTrace(
            z=batch_major(z),
            h=batch_major(h),
            phi_prime=batch_major(prime),
            delta=batch_major(delta),
            y_hat=batch_major(y_hat),
            delta_out=batch_major(g),
            grads=grads,
            cost=value,
            outputs=outputs,
        )
