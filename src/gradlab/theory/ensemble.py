"""Gradients at initialisation, measured on many independent networks at once.

Every network of an ensemble of E members is evaluated in one batched
computation: W^l has shape (E, n_l, n_{l-1}) and the leading axis runs through
the matrix products of :mod:`gradlab.engine.backprop` (no Python loop over members).
What is measured is what the mean-field theory of :mod:`gradlab.theory`
predicts: the per-layer factor of E‖δ^l‖² (χ₁) and the spectrum of the
input–output Jacobian (Pennington, Schoenholz & Ganguli 2017).

The output error is injected, not computed from targets: the cost is the
random linear read-out C_k = ⟨e_k, a^L_k⟩ with e_k ~ N(0, I) drawn independently
of the network, so ∂C_k/∂a^L = e_k and δ^L = e_k ⊙ φ′(z^L) (notes, eq. 1).
The backward map is linear in δ^L, and an error that does not depend on the
forward pass (as a − y of the quadratic cost does, through a^L and the offset
of the sigmoid's mean ½) measures that map itself — the quantity χ₁ describes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import Activation, get_activation
from gradlab.engine.backprop import backward, forward
from gradlab.engine.costs import Cost
from gradlab.engine.init import init_biases, init_weights
from gradlab.errors import check_number

Array = np.ndarray


def _linear_probe_value(z: Array, a: Array, y: Array) -> Array:
    # C_k = ⟨y_k, a^L_k⟩ with y = e the injected error; mean over the batch axis.
    return np.sum(y * a, axis=-1).mean(axis=-1)


def _linear_probe_delta(
    z: Array, a: Array, y: Array, phi: Activation, prime: Array | None = None
) -> Array:
    # δ^L = ∂C_k/∂a^L ⊙ φ′(z^L) = e ⊙ φ′(z^L)   (notes, eq. 1); φ′ as the engine passes it
    return y * (phi.phi_prime(z) if prime is None else prime)


#: The random linear read-out C_k = ⟨e_k, a^L_k⟩: the "target" y carries e = ∂C_k/∂a^L.
LINEAR_PROBE = Cost("linear_probe", _linear_probe_value, _linear_probe_delta)


def draw_ensemble(
    rng: np.random.Generator,
    sizes: list[int],
    members: int,
    init: str = "lecun_normal",
    gain: float = 1.0,
    bias_std: float = 0.0,
    dtype=np.float64,
) -> tuple[list[Array], list[Array]]:
    """Weights and biases of ``members`` independent networks of layer sizes [n_0, …, n_L].

    Returns
    -------
    weights : list of ndarray
        Index i holds W^{i+1}, shape (E, n_{i+1}, n_i).
    biases : list of ndarray
        Index i holds b^{i+1}, shape (E, n_{i+1}).
    """
    members = check_number("members", members, integer=True, minimum=1)
    weights = init_weights(rng, sizes, init, gain, dtype, ensemble=(members,))
    biases = init_biases(rng, sizes, bias_std, dtype, ensemble=(members,))
    return weights, biases


def delta_sq_samples(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    e: Array,
    hidden: str | Activation,
    output: str | Activation | None = None,
) -> Array:
    """‖δ^l_k‖² of every member, sample and layer.

    Parameters
    ----------
    weights, biases : list of ndarray
        W^l (E, n_l, n_{l-1}) and b^l (E, n_l), as from :func:`draw_ensemble`.
    x : ndarray, shape (E, n, n_0) or (n, n_0)
        Inputs a^0, one sample per row.
    e : ndarray, shape (E, n, n_L)
        Injected output error ∂C_k/∂a^L (see module docstring).
    hidden, output : str or Activation
        φ of layers 1..L−1 and of layer L (default: ``hidden``).

    Returns
    -------
    ndarray, shape (E, n, L)
        Entry [m, k, l−1] is ‖δ^l_k‖² of member m at sample k.
    """
    hidden = get_activation(hidden, "hidden")
    output = get_activation(output or hidden, "output")
    zs, activations = forward(weights, biases, x, hidden, output)
    trace = backward(weights, zs, activations, e, LINEAR_PROBE, hidden, output)
    # each δ^l is (E, n, n_l): sum over units -> (E, n)
    return np.stack([np.sum(d**2, axis=-1) for d in trace.delta], axis=-1)


def delta_sq(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    e: Array,
    hidden: str | Activation,
    output: str | Activation | None = None,
) -> Array:
    """Mean over samples of ‖δ^l_k‖² for every member and layer.

    Arguments as :func:`delta_sq_samples`.

    Returns
    -------
    ndarray, shape (E, L)
        Entry [m, l−1] is (1/n) Σ_k ‖δ^l_k‖² of member m.
    """
    return delta_sq_samples(weights, biases, x, e, hidden, output).mean(axis=-2)


def default_fit_layers(L: int) -> tuple[int, int]:
    """Layers (first, last) used for the slope: skip the first ⌈L/4⌉ and layer L.

    The first layers carry the forward transient (q^l has not reached q* yet);
    layer L has the output φ′ and no W^{L+1} in front of it.  A slope needs two
    layers, so L ≥ 4 (L = 3 would leave layer 2 alone).
    """
    L = check_number("L", L, integer=True, minimum=4)
    return -(-L // 4) + 1, L - 1


def log_slope(mean_delta_sq: Array, first: int, last: int) -> float:
    """Per-layer growth rate of E‖δ^l‖² going backwards, to compare with ln χ₁.

    Least squares fit of ln E‖δ^l‖² = c + s·(L − l) over l = first..last; the
    theory predicts s = ln χ₁ (Schoenholz et al. 2017, eq. 14), negative when
    gradients vanish towards the input.  Layers whose value underflowed to 0 or
    overflowed are left out (NaN when fewer than two remain).

    Parameters
    ----------
    mean_delta_sq : ndarray, shape (L,)
        E‖δ^l‖² for l = 1..L.
    first, last : int
        Inclusive range of layers l to fit, 1 ≤ first < last ≤ L.

    Returns
    -------
    float
        s.
    """
    mean_delta_sq = np.asarray(mean_delta_sq, dtype=np.float64)
    L = mean_delta_sq.shape[-1]
    if not 1 <= first < last <= L:
        raise ValueError(
            f"first={first!r}, last={last!r} is not allowed; it must be 1 <= first < last <= {L}"
        )
    l = np.arange(first, last + 1)  # (k,)
    with np.errstate(divide="ignore"):
        y = np.log(mean_delta_sq[first - 1 : last])  # (k,)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(L - l[ok], y[ok], 1)[0])


@dataclass(frozen=True)
class EnsembleProbe:
    """E‖δ^l‖² of an ensemble at initialisation and its per-layer slope.

    Attributes
    ----------
    delta_sq : ndarray, shape (L,)
        Mean over members and samples of ‖δ^l_k‖², l = 1..L.
    delta_sq_members : ndarray, shape (E, L)
        The same per member (mean over samples only).
    log_slope : float
        Fitted ln of the per-layer factor (see :func:`log_slope`); compare with ln χ₁.
    fit_layers : tuple of int
        (first, last) layers of the fit.
    delta1_sq_samples : ndarray, shape (E, n)
        ‖δ^1_k‖² of every member and sample, for the finite-width spread of
        ln‖δ^1‖² (Hanin 2018).
    """

    delta_sq: Array
    delta_sq_members: Array
    log_slope: float
    fit_layers: tuple[int, int]
    delta1_sq_samples: Array


def ensemble_backprop(
    rng: np.random.Generator,
    width: int,
    depth: int,
    activation: str,
    init: str = "lecun_normal",
    gain: float = 1.0,
    bias_std: float = 0.0,
    members: int = 16,
    batch: int = 32,
    output_activation: str | None = None,
    input_std: float = 1.0,
    fit_layers: tuple[int, int] | None = None,
) -> EnsembleProbe:
    """Draw ``members`` networks of equal width and measure E‖δ^l‖² on Gaussian inputs.

    Every member has layer sizes [width] * (depth + 1); its weights follow
    ``init``/``gain`` (mean-field σ_w² from :func:`gradlab.theory.sigma_w2_of`) and
    its biases N(0, bias_std²).  Each member sees its own batch x ~ N(0, input_std²)
    and its own injected output error e ~ N(0, I) (module docstring).  Memory:
    the weights hold E·L·width² floats and backward's ∇W as many again
    (E = 16, L = 20, width = 256: about 340 MB in float64).

    Parameters
    ----------
    rng : np.random.Generator
        Source of weights, biases, inputs and output errors, in that order.
    width, depth : int
        n_l for every layer and the number of weight layers L (≥ 3).
    activation : str
        Hidden φ; ``output_activation`` defaults to it.
    members, batch : int
        E networks and n samples per network.
    input_std : float
        Standard deviation of the inputs: q^1 = σ_w² input_std² + σ_b².
    fit_layers : tuple of int, optional
        Layers of the slope fit; default :func:`default_fit_layers`.

    Returns
    -------
    EnsembleProbe
    """
    width = check_number("width", width, integer=True, minimum=1)
    depth = check_number("depth", depth, integer=True, minimum=3)
    batch = check_number("batch", batch, integer=True, minimum=1)
    input_std = check_number("input_std", input_std, minimum=0)
    sizes = [width] * (depth + 1)
    weights, biases = draw_ensemble(rng, sizes, members, init, gain, bias_std)
    x = input_std * rng.standard_normal((members, batch, width))  # (E, n, n_0)
    e = rng.standard_normal((members, batch, width))  # (E, n, n_L)
    samples = delta_sq_samples(weights, biases, x, e, activation, output_activation)  # (E, n, L)
    per_member = samples.mean(axis=-2)  # (E, L)
    mean = per_member.mean(axis=0)  # (L,)
    first, last = fit_layers or default_fit_layers(depth)
    slope = log_slope(mean, first, last)
    return EnsembleProbe(mean, per_member, slope, (first, last), samples[..., 0])


def jacobian(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: str | Activation,
    output: str | Activation | None = None,
) -> Array:
    """The input–output Jacobian J = ∂a^L/∂a^0 = D^L W^L ⋯ D^1 W^1 at every sample.

    D^l = diag φ′(z^l) (Pennington, Schoenholz & Ganguli 2017, eq. 2).  With the
    output φ equal to the hidden one, every layer contributes a D^l and the mean
    squared singular value is χ₁^L in the mean-field limit (ibid., eq. 5).

    Parameters
    ----------
    weights, biases : list of ndarray
        W^l (E, n_l, n_{l-1}) and b^l (E, n_l).
    x : ndarray, shape (E, n, n_0)
        Inputs, one sample per row.
    hidden, output : str or Activation
        φ of layers 1..L−1 and of layer L (default: ``hidden``).

    Returns
    -------
    ndarray, shape (E, n, n_L, n_0)
        J of member m at sample k is entry [m, k].
    """
    hidden = get_activation(hidden, "hidden")
    output = get_activation(output or hidden, "output")
    zs, _ = forward(weights, biases, x, hidden, output)
    L = len(weights)
    J = None
    for i in range(L):
        phi = output if i == L - 1 else hidden
        d = phi.phi_prime(zs[i])[..., :, None]  # (E, n, n_l, 1): D^l as a column scale
        w = weights[i][:, None]  # (E, 1, n_l, n_{l-1}), shared by the samples
        # (E, 1, n_l, n_{l-1}) @ (E, n, n_{l-1}, n_0) -> (E, n, n_l, n_0)
        J = d * w if J is None else d * (w @ J)
    return J


def jacobian_singular_values(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    hidden: str | Activation,
    output: str | Activation | None = None,
) -> Array:
    """Singular values of J = ∂a^L/∂a^0 for every member and sample (see :func:`jacobian`).

    Returns
    -------
    ndarray, shape (E, n, min(n_L, n_0))
        In descending order along the last axis.
    """
    return np.linalg.svd(jacobian(weights, biases, x, hidden, output), compute_uv=False)


def nielsen_chain(depth: int, x: Array, w: float = 100.0) -> tuple[list[Array], list[Array]]:
    """Nielsen's exploding-gradient construction (ch. 5): every z^l = 0, so δ grows 25×.

    All weights are w = 100 and the biases are chosen so that every weighted
    input vanishes: b^1 = −w x, and b^l = −w/2 for l ≥ 2 since a^{l−1} = σ(0) = ½.
    With the sigmoid, δ^l = w σ′(0) δ^{l+1} = 100 · ¼ · δ^{l+1} = 25 δ^{l+1}.
    A width-n input gives n parallel copies of his chain of single neurons
    (W^l = w·I), so every entry of δ is multiplied by w/4 per layer.

    Parameters
    ----------
    depth : int
        Number of weight layers L.
    x : ndarray, shape (n,)
        The one input the biases are built for.
    w : float
        The common weight.

    Returns
    -------
    weights : list of ndarray
        W^l = w·I, shape (n, n).
    biases : list of ndarray
        b^l, shape (n,).
    """
    depth = check_number("depth", depth, integer=True, minimum=1)
    w = check_number("w", w)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x has shape {x.shape}; it must be (n,)")
    n = x.shape[0]
    weights = [w * np.eye(n) for _ in range(depth)]
    biases = [-(w * x)] + [np.full(n, -0.5 * w) for _ in range(depth - 1)]
    return weights, biases
