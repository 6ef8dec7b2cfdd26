"""A plain per-sample reference for the RNN and LSTM, written from the equations alone.

Column vectors and Python loops over samples and steps, no code shared with the
engine, so that finite differences of these costs check both the engine's forward
pass and its BPTT.  Optional additive perturbations dz (RNN: of z_t) and dh, dc
(LSTM: of h_t and c_t after they are computed) let a test differentiate the cost
with respect to the per-step quantities the traces report.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax

PHI = {
    "tanh": np.tanh,
    "sigmoid": expit,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "linear": lambda z: z,
    "softplus": lambda z: np.logaddexp(0.0, z),
    # SELU with the λ and α of Klambauer et al. 2017
    "selu": lambda z: (
        1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(np.minimum(z, 0.0)))
    ),
}


def step_cost(y_hat, y, cost):
    """c(ŷ, y) for one sample and step."""
    if cost == "quadratic":
        return 0.5 * float(np.sum((y_hat - y) ** 2))
    return -float(np.sum(y * log_softmax(y_hat)))


def sample_cost(p, hs, y_k, cost, outputs):
    """C_k from one sample's hidden states hs (T, H)."""
    y_hat = hs @ p["W_hy"].T + p["b_y"]  # (T, n_out)
    if outputs == "last":
        return step_cost(y_hat[-1], y_k, cost)
    return float(np.mean([step_cost(y_hat[t], y_k[t], cost) for t in range(len(hs))]))


def rnn_states(p, activation, x_k, dz=None):
    """h_1..h_T (T, H) of one sample x_k (T, n_in); dz (T, H) is added to every z_t."""
    phi = PHI[activation]
    h = np.zeros(p["W_hh"].shape[0])
    hs = []
    for t in range(x_k.shape[0]):
        z = p["W_xh"] @ x_k[t] + p["W_hh"] @ h + p["b_h"]
        if dz is not None:
            z = z + dz[t]
        h = phi(z)
        hs.append(h)
    return np.array(hs)


def lstm_states(p, x_k, dh=None, dc=None):
    """h_1..h_T (T, H) of one sample; dh, dc (T, H) are added to h_t and c_t."""
    H = p["W_hh"].shape[1]
    h, c = np.zeros(H), np.zeros(H)
    hs = []
    for t in range(x_k.shape[0]):
        a = p["W_ih"] @ x_k[t] + p["W_hh"] @ h + p["b"]
        i, f = expit(a[:H]), expit(a[H : 2 * H])
        g, o = np.tanh(a[2 * H : 3 * H]), expit(a[3 * H :])
        c = f * c + i * g
        if dc is not None:
            c = c + dc[t]
        h = o * np.tanh(c)
        if dh is not None:
            h = h + dh[t]
        hs.append(h)
    return np.array(hs)


def batch_cost(kind, p, x, y, cost, outputs, activation="tanh"):
    """C = (1/n) Σ_k C_k for a batch x (n, T, n_in)."""
    total = 0.0
    for k in range(x.shape[0]):
        hs = rnn_states(p, activation, x[k]) if kind == "rnn" else lstm_states(p, x[k])
        total += sample_cost(p, hs, y[k], cost, outputs)
    return total / x.shape[0]
