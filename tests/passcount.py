"""Count the element-wise passes and new arrays of one engine step, independent of timing.

Every array the step touches is a :class:`Counted` view, whose ``__array_ufunc__``
and ``__array_function__`` record each NumPy operation: its name, the number of
elements it reads or writes (the largest operand, so a reduction counts its
input) and whether it allocated its output.  Matrix products are kept apart
from the element-wise passes.  The counts are exact and deterministic, so they
show what a change of formula saves whatever the load of the machine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gradlab.engine import kernels
from gradlab.engine.activations import ACTIVATIONS
from gradlab.engine.backprop import backprop
from gradlab.engine.costs import COSTS
from gradlab.training.sgd import sgd_update

#: Functions (not ufuncs) that make one element-wise pass over their operands.
ELEMENTWISE_FUNCTIONS = {"where", "copyto", "putmask", "choose", "select", "clip"}


@dataclass
class Log:
    """Operations seen: (name, elements, allocated) per element-wise pass; products apart."""

    passes: list[tuple[str, int, bool]] = field(default_factory=list)
    matmuls: int = 0


class Counted(np.ndarray):
    """An ndarray whose NumPy operations are written to ``Counted.log``."""

    log = Log()

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [x.view(np.ndarray) if isinstance(x, Counted) else x for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Counted) else o for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        results = result if isinstance(result, tuple) else (result,)
        size = max(np.size(x) for x in (*args, *results))
        if ufunc is np.matmul:
            Counted.log.matmuls += 1
        else:
            Counted.log.passes.append((f"{ufunc.__name__}.{method}", size, out is None))
        if out is not None:
            wrapped = out
        else:
            wrapped = tuple(r.view(Counted) if isinstance(r, np.ndarray) else r for r in results)
        return wrapped if isinstance(result, tuple) else wrapped[0]

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in ELEMENTWISE_FUNCTIONS:
            before = len(Counted.log.passes)
            result = super().__array_function__(func, types, args, kwargs)
            del Counted.log.passes[before:]  # the function is one pass, not its parts
            flat = [a for a in args if isinstance(a, np.ndarray)]
            size = max([np.size(a) for a in flat] + [np.size(result)])
            Counted.log.passes.append((func.__name__, size, kwargs.get("out") is None))
            return result
        return super().__array_function__(func, types, args, kwargs)


class CountingKernels:
    """Stands in for gradlab.engine._numba_kernels and counts the calls of each kernel."""

    def __init__(self, module) -> None:
        self.module, self.calls = module, Counter()

    def __getattr__(self, name):
        kernel = getattr(self.module, name)

        def counted(*args):
            self.calls[name] += 1
            return kernel(*args)

        return counted


def step_counts(
    width: int, hidden: int, batch: int, update: bool = True, compiled: bool = False
) -> dict[str, float]:
    """Element-wise passes and new arrays of one sigmoid step, per layer, by array size.

    The network has ``hidden`` layers of ``width`` units between an input and an
    output of ``width`` (L = hidden + 1 weight matrices), quadratic cost, as the
    benchmark's step; ``update`` adds the SGD update.  Returned per weight layer:
    passes and new arrays over (batch, width) arrays (``act_passes``,
    ``act_new``) and over (width, width) arrays (``weight_passes``,
    ``weight_new``), the matrix products, and the element-wise operations by name.
    ``batch`` must differ from ``width`` so that the two sizes can be told apart.
    ``compiled``: with gradlab's numba kernels (their calls per layer under
    ``kernels``, beside the NumPy passes left); else with its NumPy kernels.
    """
    rng = np.random.default_rng(0)
    L = hidden + 1
    weights = [rng.standard_normal((width, width)).view(Counted) / np.sqrt(width) for _ in range(L)]
    biases = [rng.standard_normal(width).view(Counted) for _ in range(L)]
    x = rng.standard_normal((batch, width)).view(Counted)
    y = rng.uniform(size=(batch, width)).view(Counted)
    sig = ACTIVATIONS["sigmoid"]
    Counted.log = Log()
    with kernels.using("numba" if compiled else "numpy"):
        counting = CountingKernels(kernels._LOADED[0]) if compiled else None
        if compiled:
            kernels._LOADED[0] = counting
        trace = backprop(weights, biases, x, y, COSTS["quadratic"], sig, sig)
        if update:
            sgd_update(weights, biases, trace, 0.1)
    log = Counted.log
    act = [p for p in log.passes if p[1] == batch * width]
    wt = [p for p in log.passes if p[1] == width * width]
    return {
        "act_passes": len(act) / L,
        "act_new": sum(p[2] for p in act) / L,
        "weight_passes": len(wt) / L,
        "weight_new": sum(p[2] for p in wt) / L,
        "matmuls": log.matmuls / L,
        "by_name": dict(Counter(p[0] for p in act + wt)),
        "kernels": {k: v / L for k, v in counting.calls.items()} if compiled else {},
    }
