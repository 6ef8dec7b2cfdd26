"""The multilayer perceptron: parameters, validation, and the public API.

``MLP`` holds W^1..W^L and b^1..b^L (Python index i is layer l = i + 1), and
with skips or a norm also γ^l, β^l and batch norm's running statistics; it
checks every input before handing it to the pure functions in
:mod:`gradlab.engine.backprop`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradlab.engine.activations import Activation, get_activation
from gradlab.engine.backprop import Remedies, Trace, backprop, forward
from gradlab.engine.costs import get_cost
from gradlab.engine.init import init_biases, init_weights
from gradlab.engine.lsuv import lsuv
from gradlab.engine.normalization import NORM_AXES, update_running_stats
from gradlab.errors import check_array, check_choice, check_number

Array = np.ndarray

#: dtypes the engine computes in; float64 keeps a 1e-30 gradient visible.
DTYPES = {"float64": np.float64, "float32": np.float32}


def resolve_dtype(dtype, key: str = "dtype") -> np.dtype:
    """Accept ``'float64'``, ``'float32'`` or the numpy types; raise otherwise."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    return np.dtype(DTYPES[check_choice(key, name, DTYPES)])


def make_remedies(
    sizes: list[int], residual: bool, residual_scale: float, norm: str | None, dtype
) -> Remedies | None:
    """Validate the remedy options; None for the plain network.

    A hidden layer l (1 ≤ l ≤ L−1) gets a skip when ``residual`` is set, l ≥ 2 and
    n_l = n_{l−1}; every hidden layer gets γ^l = 1, β^l = 0 (and, for batch norm,
    running μ = 0, σ² = 1 as PyTorch) when ``norm`` is set.
    """
    if not isinstance(residual, (bool, np.bool_)):
        raise ValueError(f"residual={residual!r} is not allowed; it must be true or false")
    residual_scale = check_number("residual_scale", residual_scale, minimum=0)
    if norm is not None and (not isinstance(norm, str) or norm not in NORM_AXES):
        raise ValueError(
            f"norm={norm!r} is not allowed; choose one of: None, {', '.join(NORM_AXES)}"
        )
    if not residual and norm is None:
        return None
    L = len(sizes) - 1
    hidden = range(L - 1)  # Python indices of layers 1..L−1
    skip = [bool(residual) and 0 < i < L - 1 and sizes[i + 1] == sizes[i] for i in range(L)]

    def per_layer(value: float, wanted: bool) -> list[Array | None]:
        return [
            np.full(sizes[i + 1], value, dtype) if wanted and i in hidden else None
            for i in range(L)
        ]

    return Remedies(
        skip,
        residual_scale,
        norm,
        per_layer(1.0, norm is not None),
        per_layer(0.0, norm is not None),
        per_layer(0.0, norm == "batch"),
        per_layer(1.0, norm == "batch"),
    )


class MLP:
    """A fully connected network z^l = W^l a^{l-1} + b^l, a^l = φ(z^l), with optional remedies.

    Parameters
    ----------
    sizes : sequence of int
        [n_0, n_1, …, n_L]: input width, hidden widths, output width.
    activation : str
        Hidden-layer φ (see :data:`gradlab.engine.activations.ACTIVATIONS`).
    output_activation : str, optional
        φ of layer L; defaults to ``activation``.
    init : str
        Weight scheme (see :mod:`gradlab.engine.init`).
    gain : float
        Multiplies the scheme's standard deviation.
    bias_std : float
        b^l ~ N(0, bias_std²); 0 gives zero biases.
    seed : int or np.random.Generator
        Source of every random number used here.
    dtype : str
        ``'float64'`` (default) or ``'float32'``.
    residual : bool
        Hidden layers 2..L−1 whose input and output widths are equal compute
        a^l = a^{l−1} + α φ(ž^l) (He et al. 2016).
    residual_scale : float
        α of the skip.
    norm : None, ``'layer'`` or ``'batch'``
        Normalise z^l of every hidden layer before φ (Ba et al. 2016; Ioffe &
        Szegedy 2015), see :mod:`gradlab.engine.normalization`.

    With the defaults (no skip, no norm) the draws, the forward pass and the
    gradients are those of the plain network, bit for bit.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        output_activation: str | None = None,
        init: str = "lecun_normal",
        gain: float = 1.0,
        bias_std: float = 0.0,
        seed: int | np.random.Generator = 0,
        dtype: str = "float64",
        residual: bool = False,
        residual_scale: float = 1.0,
        norm: str | None = None,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes={sizes!r} is not allowed; it needs at least 2 entries")
        for j, s in enumerate(sizes):
            check_number(f"sizes[{j}]", s, integer=True, minimum=1)
        gain = check_number("gain", gain, minimum=0)
        bias_std = check_number("bias_std", bias_std, minimum=0)
        dt = resolve_dtype(dtype)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.hidden = get_activation(activation, "activation")
        self.output = get_activation(output_activation or activation, "output_activation")
        self.weights = init_weights(rng, sizes, init, gain, dt)
        self.biases = init_biases(rng, sizes, bias_std, dt)
        self.remedies = make_remedies(sizes, residual, residual_scale, norm, dt)
        self.rng = rng  # later draws (LSUV's orthogonal start) continue this stream

    @classmethod
    def from_arrays(
        cls,
        weights: Sequence[Array],
        biases: Sequence[Array],
        activation: str = "sigmoid",
        output_activation: str | None = None,
        dtype: str | None = None,
        residual: bool = False,
        residual_scale: float = 1.0,
        norm: str | None = None,
        seed: int | np.random.Generator = 0,
    ) -> MLP:
        """Build a network from explicit W^l (n_l, n_{l-1}) and b^l (n_l,).

        ``dtype`` defaults to float64 unless every array is float32; the remedy
        options are those of ``MLP`` (γ = 1, β = 0: set ``net.remedies.gamma[i]``
        in place to change them).
        """
        if len(weights) == 0 or len(weights) != len(biases):
            raise ValueError(
                f"weights has {len(weights)} layers and biases {len(biases)}; "
                "they must be equal and at least 1"
            )
        ws = [check_array(f"weights[{i}]", w, ndim=2) for i, w in enumerate(weights)]
        bs = [check_array(f"biases[{i}]", b, ndim=1) for i, b in enumerate(biases)]
        for i in range(len(ws)):
            if bs[i].shape[0] != ws[i].shape[0]:
                raise ValueError(
                    f"biases[{i}] (layer {i + 1}) has shape {bs[i].shape}; it must be "
                    f"({ws[i].shape[0]},) to match weights[{i}] of shape {ws[i].shape}"
                )
            if i > 0 and ws[i].shape[1] != ws[i - 1].shape[0]:
                raise ValueError(
                    f"weights[{i}] (layer {i + 1}) has shape {ws[i].shape}; it must have "
                    f"{ws[i - 1].shape[0]} columns to follow weights[{i - 1}] "
                    f"of shape {ws[i - 1].shape}"
                )
        if dtype is None:
            all32 = all(w.dtype == np.float32 for w in ws + bs)
            dtype = "float32" if all32 else "float64"
        dt = resolve_dtype(dtype)
        net = cls.__new__(cls)
        net.hidden = get_activation(activation, "activation")
        net.output = get_activation(output_activation or activation, "output_activation")
        net.weights = [np.array(w, dtype=dt) for w in ws]
        net.biases = [np.array(b, dtype=dt) for b in bs]
        net.remedies = make_remedies(net.sizes, residual, residual_scale, norm, dt)
        net.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return net

    @property
    def sizes(self) -> list[int]:
        """[n_0, …, n_L]."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def num_layers(self) -> int:
        """L, the number of weight layers (hidden layers + 1)."""
        return len(self.weights)

    @property
    def dtype(self) -> np.dtype:
        return self.weights[0].dtype

    def _check_batch(self, key: str, arr, width: int) -> Array:
        arr = check_array(key, arr, ndim=(1, 2))
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.shape[1] != width or arr.shape[0] < 1:
            raise ValueError(f"{key} has shape {arr.shape}; it must be (n, {width}) with n >= 1")
        return arr.astype(self.dtype, copy=False)

    def parameters(self) -> list[Array]:
        """[W^1, b^1, …, W^L, b^L, then γ^l, β^l of each normalised layer].

        The arrays themselves (an optimiser's ``step`` updates them in place), in
        the order of ``Trace.gradients()``.
        """
        params = [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]
        if self.remedies is not None and self.remedies.norm is not None:
            for g, b in zip(self.remedies.gamma, self.remedies.beta, strict=True):
                if g is not None:
                    params += [g, b]
        return params

    def feedforward(self, x: Array) -> Array:
        """a^L for a batch x of shape (n, n_0); returns (n, n_L).

        Evaluation mode: batch norm uses its running statistics, so each row's
        output does not depend on the rest of the batch.
        """
        x = self._check_batch("x", x, self.sizes[0])
        rem = self.remedies
        return forward(self.weights, self.biases, x, self.hidden, self.output, rem, False)[1][-1]

    def lsuv(self, x: Array, tol: float = 0.1, max_iter: int = 10) -> list[float]:
        """Layer-sequential unit-variance init (Mishkin & Matas 2015) on the batch x.

        Redraws every W^l orthogonal (from ``self.rng``), then for l = 1..L−1 in
        turn divides W^l by √Var(z^l) until |Var(z^l) − 1| ≤ ``tol`` or
        ``max_iter`` rescalings; returns Var(z^l) reached for each hidden layer.
        """
        x = self._check_batch("x", x, self.sizes[0])
        tol = check_number("tol", tol, exclusive_minimum=0)
        max_iter = check_number("max_iter", max_iter, integer=True, minimum=1)
        return lsuv(
            self.weights, self.biases, x, self.hidden, self.remedies, self.rng, tol, max_iter
        )

    def backprop(
        self, x: Array, y: Array, cost: str = "quadratic", update_running: bool = True
    ) -> Trace:
        """Every layer's z, a, φ′(z), δ, ∇W and ∇b on the batch (x, y).

        Parameters
        ----------
        x : ndarray, shape (n, n_0)
            One sample per row (a single 1-D sample is promoted to n = 1).
        y : ndarray, shape (n, n_L)
            Targets.
        cost : str
            ``'quadratic'`` (C_k = ½‖a^L − y‖²), ``'cross_entropy'`` (sigmoid
            output only) or ``'softmax_cross_entropy'`` (linear output only).
        update_running : bool
            Batch norm (training mode, batch statistics) also moves its running
            statistics toward this batch's; False leaves them as they are (e.g.
            for a diagnostic probe).  Batch norm needs n ≥ 2.
        """
        c = get_cost(cost, "cost")
        c.check_output(self.output.name)
        x = self._check_batch("x", x, self.sizes[0])
        y = self._check_batch("y", y, self.sizes[-1])
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y has {y.shape[0]} rows and x has {x.shape[0]}; they must be equal")
        rem = self.remedies
        if rem is None:
            return backprop(self.weights, self.biases, x, y, c, self.hidden, self.output)
        if rem.norm == "batch" and x.shape[0] < 2:
            raise ValueError(f"x has {x.shape[0]} row; norm='batch' needs n >= 2 rows per batch")
        trace = backprop(self.weights, self.biases, x, y, c, self.hidden, self.output, rem)
        if rem.norm == "batch" and update_running:
            for i, cache in enumerate(trace.norm_cache):
                if cache is not None:
                    update_running_stats(rem.running_mean[i], rem.running_var[i], cache)
        return trace

    @property
    def activations(self) -> tuple[Activation, Activation]:
        """(hidden φ, output φ)."""
        return self.hidden, self.output
