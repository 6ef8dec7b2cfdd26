"""One shape for every input error: name the key, the value, and what is allowed.

The same helpers serve the engine's public functions and the config validation,
so a user sees ``model.activation='sigmod' is not allowed; choose one of: …``
whether the mistake came from Python or from a Hydra override.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def lookup(cfg: Mapping, dotted: str):
    """``cfg['model']['depth']`` for ``'model.depth'``; ``ValueError`` if it is missing."""
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f"{dotted} is missing from the config")
        node = node[part]
    return node


def check_choice(key: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError``."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{key}={value!r} is not allowed; choose one of: {', '.join(allowed)}")
    return value


def check_number(
    key: str,
    value: object,
    *,
    integer: bool = False,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
) -> float | int:
    """Return ``value`` as a number if it lies in range, else raise ``ValueError``."""
    kind = "an integer" if integer else "a number"
    ok_type = (
        isinstance(value, (int, np.integer))
        if integer
        else isinstance(value, (int, float, np.integer, np.floating))
    )
    if isinstance(value, bool) or not ok_type or not np.isfinite(value):
        raise ValueError(f"{key}={value!r} is not allowed; it must be {kind}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key}={value!r} is not allowed; it must be {kind} >= {minimum}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise ValueError(f"{key}={value!r} is not allowed; it must be {kind} > {exclusive_minimum}")
    return int(value) if integer else float(value)


def check_array(key: str, x: object, *, ndim: int | tuple[int, ...], finite: bool = True):
    """Return ``x`` as an ndarray with ``ndim`` dimensions and finite entries."""
    arr = np.asarray(x)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        raise ValueError(
            f"{key} has shape {arr.shape}; it must have "
            f"{' or '.join(str(d) for d in dims)} dimensions"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{key} has dtype {arr.dtype}; it must be numeric")
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{key} contains NaN or inf; it must be finite")
    return arr


class ConfigError(ValueError):
    """A config value was rejected before any run was created."""
