"""The example a walkthrough explains: a small network, a batch (x, y) and a cost.

:data:`SCHEMA` is the config of ``experiments/explain.py``
(conf/explain/config.yaml) and :func:`example_spec` checks a composed config
against it.  :func:`build_example` turns the spec into an :class:`Example`: it
checks every explicit W^l, b^l, x and y against ``sizes`` and draws whatever the
spec leaves out from one seeded generator.  Every bad value raises a
``ValueError`` that names the key and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradlab.engine.activations import ACTIVATIONS, get_activation
from gradlab.engine.costs import COSTS, get_cost
from gradlab.engine.init import INITS, init_biases, init_weights
from gradlab.engine.network import MLP
from gradlab.errors import check_choice, check_number
from gradlab.explain.notes import NOTES
from gradlab.schema import Checked, Choice, Flag, Integer, Number, Text, validate

Array = np.ndarray

_SHAPES = "build_example: shapes against sizes"
#: Every key of experiments/explain.py's config and what it accepts (see gradlab.schema);
#: what each key means: the comments of conf/explain/config.yaml.  The keys before
#: ``precision`` describe the example (build_example's arguments; it checks the ones
#: marked Checked against ``sizes``); the last three say how to print it.
SCHEMA = {
    "title": Text(nullable=True),
    "sizes": Checked("build_example: a list [n_0, ..., n_L] of at least 2 integers >= 1"),
    "activation": Choice(tuple(ACTIVATIONS)),
    "output_activation": Choice(tuple(ACTIVATIONS), nullable=True),
    "cost": Choice(tuple(COSTS)),
    "weights": Checked(_SHAPES),
    "biases": Checked(_SHAPES),
    "x": Checked(_SHAPES),
    "y": Checked(_SHAPES),
    "init": Choice(tuple(INITS)),
    "gain": Number(minimum=0),
    "bias_std": Number(minimum=0),
    "seed": Integer(0),
    "notes": Choice(tuple(NOTES), nullable=True),
    "precision": Integer(0),
    "out": Text("a path", nullable=True),
    "docs": Flag(),
}
#: The keys of :data:`SCHEMA` that are arguments of :func:`build_example`.
EXAMPLE_KEYS = tuple(SCHEMA)[: tuple(SCHEMA).index("precision")]


def example_spec(cfg: Mapping) -> dict:
    """Check a composed explain config against :data:`SCHEMA`; its values by key.

    Raises ``ValueError`` naming the first unknown key, missing key or bad value;
    the shapes of ``weights``, ``biases``, ``x`` and ``y`` are checked by
    :func:`build_example`.
    """
    return validate(cfg, SCHEMA)


@dataclass(frozen=True)
class Example:
    """A network, a batch (x, y) and a cost: everything a walkthrough needs.

    Attributes
    ----------
    net : MLP
        W^l of shape (n_l, n_{l-1}), b^l of shape (n_l,).
    x : ndarray, shape (n, n_0)
        Inputs a^0, one sample per row.
    y : ndarray, shape (n, n_L)
        Targets.
    cost : str
        Key of :data:`gradlab.engine.costs.COSTS`.
    title : str
        Heading of the walkthrough.
    source : str
        Where W, b, x and y came from (config or seeded draws), one sentence.
    notes : str or None
        Key of :data:`gradlab.explain.notes.NOTES` to compare with, or None.
    """

    net: MLP
    x: Array
    y: Array
    cost: str
    title: str
    source: str
    notes: str | None = None


def _floats(key: str, value: object, what: str) -> Array:
    """``value`` as a float array; if it is not numbers, the error says it must be ``what``."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not allowed; it must be {what}") from None


def _array(key: str, value: object, shape: tuple[int, ...], need: str) -> Array:
    """``value`` as a finite float array of ``shape``; the error names key and both shapes."""
    arr = _floats(key, value, "a rectangular list of numbers")
    if arr.shape != shape:
        raise ValueError(f"{key} has shape {arr.shape}; {need} needs shape {shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{key} contains NaN or inf; it must be finite")
    return arr


def _rows(key: str, value: object, width: int, need: str) -> Array:
    """One sample (list) or several (list of lists) as an (n, width) array."""
    arr = _floats(key, value, "a list of numbers or of rows")
    arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
    return _array(key, arr, (arr.shape[0] if arr.ndim else 1, width), need)


def _layers(
    key: str, value: object, sizes: list[int], shapes: list[tuple[int, ...]], symbol: str, rule: str
) -> list[Array]:
    """One array per layer l = 1..L: ``value[l-1]`` as an array of shape ``shapes[l-1]``.

    ``symbol`` (``W`` or ``b``) names the parameter in messages and ``rule``
    says how ``sizes`` fixes its shape.
    """
    L = len(shapes)
    if not isinstance(value, Sequence) or len(value) != L:
        n = len(value) if isinstance(value, Sequence) else value
        noun = "matrices" if symbol == "W" else "vectors"
        raise ValueError(f"{key} has {n} {noun}; sizes={sizes} needs {L} ({symbol}^1..{symbol}^L)")
    need = f"sizes={sizes} ({rule})"
    return [
        _array(f"{key}[{i}] ({symbol}^{i + 1}, layer {i + 1})", v, shape, need)
        for i, (v, shape) in enumerate(zip(value, shapes, strict=True))
    ]


def _check_sizes(sizes: object) -> list[int]:
    """[n_0, …, n_L] as integers ≥ 1, or ``ValueError`` naming the key and the rule."""
    if not isinstance(sizes, Sequence) or isinstance(sizes, str) or len(sizes) < 2:
        raise ValueError(
            f"sizes={sizes!r} is not allowed; it must be a list [n_0, ..., n_L] of at least "
            "2 integers"
        )
    return [check_number(f"sizes[{j}]", s, integer=True, minimum=1) for j, s in enumerate(sizes)]


def _source(given: Sequence[str], drawn: Sequence[str], seed: int) -> str:
    """What the config gave and what was drawn, as one sentence."""
    parts = []
    if given:
        parts.append(f"given in the config: {', '.join(given)}")
    if drawn:
        parts.append(f"drawn from seed {seed}: {', '.join(drawn)}")
    return "; ".join(parts) + "."


def build_example(
    *,
    sizes: Sequence[int],
    activation: str = "sigmoid",
    output_activation: str | None = None,
    cost: str = "quadratic",
    weights: Sequence | None = None,
    biases: Sequence | None = None,
    x: Sequence | None = None,
    y: Sequence | None = None,
    init: str = "lecun_normal",
    gain: float = 1.0,
    bias_std: float = 0.0,
    seed: int = 0,
    title: str | None = None,
    notes: str | None = None,
) -> Example:
    """Validate a walkthrough spec and draw whatever it leaves out.

    ``weights``, ``biases``, ``x`` and ``y`` are nested lists, or None to draw
    them, in that order, from ``np.random.default_rng(seed)``: W^l by ``init``
    and ``gain``, b^l ~ N(0, bias_std²), one sample x ~ N(0, I) and
    y ~ U(0, 1)^{n_L}.  Explicit W^l must have shape (n_l, n_{l-1}) for
    ``sizes`` = [n_0, …, n_L]; any mismatch raises ``ValueError`` naming the
    layer and both shapes.  The other keys are those of :data:`SCHEMA`.

    Returns
    -------
    Example
        x of shape (n, n_0) and y of shape (n, n_L); ``source`` says which
        values were given and which were drawn.
    """
    sizes = _check_sizes(sizes)
    get_activation(activation, "activation")
    out = get_activation(output_activation or activation, "output_activation")
    get_cost(cost, "cost").check_output(out.name)
    check_choice("init", init, INITS)
    gain = check_number("gain", gain, minimum=0)
    bias_std = check_number("bias_std", bias_std, minimum=0)
    seed = check_number("seed", seed, integer=True, minimum=0)
    if notes is not None:
        check_choice("notes", notes, NOTES)
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title={title!r} is not allowed; it must be a string or null")

    rng = np.random.default_rng(seed)
    drawn = []
    if weights is None:
        ws = init_weights(rng, sizes, init, gain)
        drawn.append(f"W^l ~ {init} (gain {gain:g})")
    else:
        shapes = list(zip(sizes[1:], sizes[:-1], strict=True))  # W^l: (n_l, n_{l-1})
        ws = _layers("weights", weights, sizes, shapes, "W", "W^l is n_l × n_(l-1)")
    if biases is None:
        bs = init_biases(rng, sizes, bias_std)
        drawn.append(f"b^l ~ N(0, {bias_std:g}²)" if bias_std > 0 else "b^l = 0")
    else:
        shapes = [(n,) for n in sizes[1:]]  # b^l: (n_l,)
        bs = _layers("biases", biases, sizes, shapes, "b", "b^l has n_l entries")
    if x is None:
        xs = rng.standard_normal((1, sizes[0]))
        drawn.append("x ~ N(0, I)")
    else:
        xs = _rows("x", x, sizes[0], f"sizes={sizes} (one row of n_0 = {sizes[0]} per sample)")
    if y is None:
        ys = rng.uniform(0.0, 1.0, (1, sizes[-1]))
        drawn.append("y ~ U(0, 1)")
    else:
        ys = _rows("y", y, sizes[-1], f"sizes={sizes} (one row of n_L = {sizes[-1]} per sample)")
    if ys.shape[0] != xs.shape[0]:
        raise ValueError(f"y has {ys.shape[0]} rows and x has {xs.shape[0]}; they must be equal")

    given = [
        name for name, v in (("W", weights), ("b", biases), ("x", x), ("y", y)) if v is not None
    ]
    net = MLP.from_arrays(ws, bs, activation, output_activation, dtype="float64")
    default_title = f"network {sizes}, {activation}, {cost} cost"
    return Example(net, xs, ys, cost, title or default_title, _source(given, drawn, seed), notes)
