"""Benchmark the engine against PyTorch, the BLAS limit and itself; write reports/benchmarks.md.

    make bench                                     # = .venv/bin/python experiments/benchmark.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE make bench   # where those are set, see below
    .venv/bin/python experiments/benchmark.py --quick --out /tmp/bench.md   # smoke run, seconds

Every figure is a paired comparison inside this one process: A and B alternate
(A B, B A, A B, …), each timing covers enough calls to last ``--min-time``
seconds, and the figure is the median of the per-pair ratios t_A / t_B, which
cancels the slow drifts of a shared, noisy machine.  Both sides use the same
dtype and the same number of BLAS threads (NumPy's OpenBLAS via threadpoolctl,
PyTorch via ``torch.set_num_threads``): by default the runner's
``runtime.blas_threads`` from conf/runtime/default.yaml (what every gradlab job uses), else
all of NumPy's; ``--threads N`` measures with N.

A *step* is one SGD step on one mini-batch: forward pass, backward pass and the
update W ← W − η∇W, b ← b − η∇b (η = 0.1), float64, sigmoid in every layer,
quadratic cost C = (1/2n) Σ_k ‖a^L_k − y_k‖².  The network has ``hidden``
layers of ``width`` units between an input and an output of ``width`` units, so
L = hidden + 1 weight matrices of shape (width, width).  The engine's step is
what ``gradlab.training.loop`` runs (``backprop`` then ``sgd_update``, the last trace
kept until the next step replaces it); PyTorch's is the idiom a user would
write (``zero_grad``, ``nn.functional.linear`` + ``sigmoid``, ``backward``,
``optim.SGD.step``).

Sections are functions in ``SECTIONS``; each takes the ``Bench`` context and
returns a ``Section``.  Adding a figure is adding a function to that list.

Some processors get OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) in their
environment because older OpenBLAS builds compute wrong results on them; they
slow a current NumPy.  Unset both for this command alone (second line above);
the report records whether they were set and which kernel OpenBLAS runs.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import mmap
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from bench_pipeline import ensemble_probe, sweep_throughput, tracking_overhead
from threadpoolctl import threadpool_info, threadpool_limits

import gradlab
from gradlab.engine.backprop import backprop
from gradlab.engine.costs import COSTS
from gradlab.engine.diagnostics import SpectralCache, layer_table
from gradlab.engine.spectral import EXACT_BELOW
from gradlab.names import COLUMNS
from gradlab.training.sgd import sgd_update

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "benchmarks.md"

LR = 0.1  # η of conf/train/config.yaml; the value does not change the work per step
SEED = 0
#: (width, hidden layers, batch) of figure 1, from Nielsen-sized to BLAS-bound.
SIZES = [(30, 4, 10), (100, 20, 64), (256, 20, 128), (1024, 8, 256)]
QUICK_SIZES = [(30, 4, 10), (64, 3, 16)]
#: Env variables that select an OpenBLAS kernel by hand (see the module docstring).
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ---- measurement -----------------------------------------------------------
@dataclass
class Pair:
    """Median and quartiles of t_A / t_B over paired timings; seconds per call."""

    ratio: float
    q1: float
    q3: float
    t_a: float
    t_b: float
    pairs: int
    best: float  # fastest A over fastest B: load on a shared machine only adds time

    def spread(self) -> str:
        return (
            f"{self.ratio:.3f} (IQR {self.q1:.3f}–{self.q3:.3f}, {self.pairs} pairs; "
            f"fastest/fastest {self.best:.3f})"
        )


def _time(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def paired(
    a: Callable[[], object],
    b: Callable[[], object],
    max_pairs: int,
    min_time: float,
    budget: float,
) -> Pair:
    """Time A and B alternately (A B, B A, …) and summarise t_A / t_B.

    Each timing repeats its callable enough times to last about ``min_time``
    seconds; calls shorter than half a second get one untimed call first, which
    absorbs the switch from the other side (caches, sleeping BLAS threads).
    The number of pairs (3 to ``max_pairs``) keeps the figure within about
    ``budget`` seconds.
    """
    # Three timed warm-up rounds: lazy set-up on either side, and the fastest of
    # them sizes the timings (a single call can land in another process's slice).
    t_one = max(min(_time(fn, 1) for _ in range(3)) for fn in (a, b))
    t_one = max(t_one, 1e-7)
    calls = max(1, math.ceil(min_time / t_one))
    warm = t_one < 0.5
    per_pair = 2 * (calls + warm) * t_one
    pairs = max(3, min(max_pairs, int(budget / per_pair)))
    ratios, ta, tb = [], [], []
    for k in range(pairs):
        order = (a, b) if k % 2 == 0 else (b, a)
        t = {}
        for fn in order:
            if warm:
                fn()
            t[fn] = _time(fn, calls)
        ratios.append(t[a] / t[b])
        ta.append(t[a])
        tb.append(t[b])
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    t_a, t_b = float(np.median(ta)), float(np.median(tb))
    return Pair(float(med), float(q1), float(q3), t_a, t_b, pairs, min(ta) / min(tb))


def faults_per_call(fn: Callable[[], object], calls: int = 3) -> float:
    """Minor page faults per call: first touches of memory the OS had to hand out."""
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def fresh_page_cost(megabytes: int = 64) -> float:
    """Seconds per minor page fault: writing fresh anonymous memory minus rewriting it.

    A new ``mmap`` always arrives untouched (malloc might recycle memory), and
    without MADV_HUGEPAGE it is backed by 4 KiB pages, like NumPy arrays under
    4 MiB.
    """
    size = megabytes * 2**20

    def write(m: mmap.mmap) -> None:
        arr = np.frombuffer(m, dtype=np.float64)
        arr.fill(1.0)
        del arr  # release the buffer so that the map can close

    costs = []
    for _ in range(3):
        m = mmap.mmap(-1, size)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t_fresh = _time(lambda m=m: write(m), 1)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        t_kept = _time(lambda m=m: write(m), 1)
        m.close()
        if faults:
            costs.append(max(t_fresh - t_kept, 0.0) / faults)
    return float(np.median(costs)) if costs else 0.0


# ---- the two steps ---------------------------------------------------------
def make_problem(width: int, hidden: int, batch: int, dtype: str = "float64"):
    """The network and one mini-batch, drawn from SEED (the same for every side)."""
    rng = np.random.default_rng(SEED)
    net = gradlab.MLP([width] * (hidden + 2), "sigmoid", seed=rng, dtype=dtype)
    x = rng.standard_normal((batch, width)).astype(dtype)
    y = rng.uniform(0.0, 1.0, (batch, width)).astype(dtype)
    return net, x, y


class EngineStep:
    """One SGD step of the engine, as ``gradlab.training.loop`` runs it."""

    def __init__(self, net: gradlab.MLP, x: np.ndarray, y: np.ndarray) -> None:
        self.weights = [w.copy() for w in net.weights]
        self.biases = [b.copy() for b in net.biases]
        self.act = net.hidden
        self.x, self.y = x, y
        self.trace = None

    def __call__(self) -> None:
        self.trace = backprop(
            self.weights, self.biases, self.x, self.y, COSTS["quadratic"], self.act, self.act
        )
        sgd_update(self.weights, self.biases, self.trace, LR)


class TorchStep:
    """The same step in PyTorch autograd, written the way a PyTorch user would."""

    def __init__(self, torch, net: gradlab.MLP, x: np.ndarray, y: np.ndarray) -> None:
        self.torch = torch
        self.weights = [torch.tensor(w, requires_grad=True) for w in net.weights]
        self.biases = [torch.tensor(b, requires_grad=True) for b in net.biases]
        self.x, self.y = torch.tensor(x), torch.tensor(y)
        self.opt = torch.optim.SGD(self.weights + self.biases, lr=LR)

    def loss(self):
        torch = self.torch
        a = self.x
        for w, b in zip(self.weights, self.biases, strict=True):
            a = torch.sigmoid(torch.nn.functional.linear(a, w, b))
        return 0.5 * ((a - self.y) ** 2).sum(dim=1).mean()

    def __call__(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.loss().backward()
        self.opt.step()


class MatmulsOnly:
    """The 3L − 1 matrix products of one engine step, on the step's own operands.

    Per layer l: z = a^{l-1} Wᵀ, ∇W = δᵀ a^{l-1}, and δ W for l > 1 (the
    engine never forms δ^0).  Outputs are fresh arrays, as in the step.
    """

    def __init__(self, step: EngineStep) -> None:
        step()
        self.weights = step.weights
        self.a = step.trace.a
        self.delta = step.trace.delta

    def __call__(self) -> None:
        for i, w in enumerate(self.weights):
            self.a[i] @ w.T
            self.delta[i].T @ self.a[i]
            if i > 0:
                self.delta[i] @ w


# ---- report structure ------------------------------------------------------
@dataclass
class Figure:
    """One line of the summary: a ratio and its target."""

    case: str
    value: float
    target: str
    met: bool | None  # None: no target
    detail: str = ""


@dataclass
class Section:
    title: str
    what: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Bench:
    """Settings and shared state every section receives."""

    quick: bool
    pairs: int
    min_time: float
    threads: int
    log_every: int
    torch: object | None
    torch_skip_reason: str
    sizes: list[tuple[int, int, int]]
    allocator_check: bool

    budget: float  # seconds per figure, so that ``make bench`` stays short
    threads_source: str = ""  # where ``threads`` came from, for the report

    def paired(self, a: Callable[[], object], b: Callable[[], object]) -> Pair:
        return paired(a, b, self.pairs, self.min_time, self.budget)

    def large(self) -> list[tuple[int, int, int]]:
        """Sizes of width ≥ 256 (figure 2's range); the largest two in quick mode."""
        return [s for s in self.sizes if s[0] >= 256] or self.sizes[-1:]


def _case(size: tuple[int, int, int]) -> str:
    return "width {}, {} hidden, batch {}".format(*size)


def _ok(value: float, limit: float, below: bool = True) -> bool:
    return value <= limit if below else value >= limit


# ---- sections ----------------------------------------------------------------
def engine_vs_torch(bench: Bench) -> Section:
    """Figure 1: engine step time / PyTorch step time."""
    sec = Section(
        "1. Engine step vs PyTorch CPU autograd",
        "t(engine step) / t(PyTorch step), float64, same BLAS thread count "
        f"({bench.threads}).  Targets: ≤ 1.0 up to width 256, ≤ 1.15 at width 1024.  "
        "Page faults per step count first touches of memory handed out by the OS.",
    )
    torch = bench.torch
    if torch is None:
        sec.notes.append(f"Skipped: PyTorch is not installed ({bench.torch_skip_reason}).")
        return sec
    for size in bench.sizes:
        net, x, y = make_problem(*size)
        engine, ref = EngineStep(net, x, y), TorchStep(torch, net, x, y)
        ref.loss().backward()  # the same step: compare ∇W¹ before any update
        engine.trace = backprop(engine.weights, engine.biases, x, y, COSTS["quadratic"],
                                engine.act, engine.act)  # fmt: skip
        gw = ref.weights[0].grad.numpy()
        agree = np.max(np.abs(engine.trace.nabla_w[0] - gw)) / np.max(np.abs(gw))
        pair = bench.paired(engine, ref)
        limit = 1.15 if size[0] > 256 else 1.0
        detail = (
            f"{pair.spread()}; engine {pair.t_a * 1e3:.3f} ms, PyTorch {pair.t_b * 1e3:.3f} ms; "
            f"page faults/step engine {faults_per_call(engine):.0f}, "
            f"PyTorch {faults_per_call(ref):.0f}; ∇W¹ agrees to {agree:.1e}"
        )
        met = pair.ratio <= limit
        sec.figures.append(Figure(_case(size), pair.ratio, f"≤ {limit}", met, detail))
    return sec


def engine_vs_matmuls(bench: Bench) -> Section:
    """Figure 2: engine step time / time of its own matrix products."""
    sec = Section(
        "2. Engine step vs its own matrix products (the BLAS limit)",
        "t(engine step) / t(the step's 3L − 1 matrix products alone, same operands, "
        "fresh outputs).  Target: ≤ 1.5 at width ≥ 256.  The anatomy splits the step "
        "into products, first touches of fresh memory (extra page faults × the measured "
        "cost of one) and the rest (element-wise passes and Python).",
    )
    page = fresh_page_cost()
    sec.notes.append(
        f"A first touch of a fresh 4 KiB page costs {page * 1e6:.2f} µs here "
        "(writing 64 MiB of fresh anonymous memory minus rewriting it, per page fault)."
    )
    for size in bench.large():
        net, x, y = make_problem(*size)
        step = EngineStep(net, x, y)
        mm = MatmulsOnly(EngineStep(net, x, y))
        pair = bench.paired(step, mm)
        faults = faults_per_call(step) - faults_per_call(mm)
        t_faults = faults * page
        rest = pair.t_a - pair.t_b - t_faults
        detail = (
            f"{pair.spread()}; step {pair.t_a * 1e3:.2f} ms = products {pair.t_b * 1e3:.2f} ms "
            f"+ extra page faults {faults:.0f} × {page * 1e6:.2f} µs = {t_faults * 1e3:.2f} ms "
            f"+ element-wise and Python {rest * 1e3:.2f} ms"
        )
        met = pair.ratio <= 1.5
        sec.figures.append(Figure(_case(size), pair.ratio, "≤ 1.5", met, detail))
        if not met:
            sec.notes.append(
                f"Limit at width {size[0]}: the products take {pair.t_b * 1e3:.2f} ms on "
                f"{bench.threads} BLAS thread(s); of the {(pair.t_a - pair.t_b) * 1e3:.2f} ms "
                f"beyond them, {t_faults * 1e3:.2f} ms are first touches of fresh memory and "
                f"{rest * 1e3:.2f} ms are element-wise passes over the (n, n_l) arrays "
                "(σ and σ′ from one exponential, δ ⊙ σ′, the bias, the batch means, the "
                "update)"
                + (
                    ", which NumPy runs on one thread while the products use all of them"
                    if bench.threads > 1
                    else ""
                )
                + ".  Each pass is memory-bound, so at this size they cannot shrink to "
                "half of the products' time."
            )
    if bench.allocator_check and platform.libc_ver()[0] == "glibc":
        sec.notes.append(allocator_check(bench))
    return sec


#: glibc settings under which freed memory stays with the process (see allocator_check).
KEEP_FREED_MEMORY = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432"


def allocator_check(bench: Bench) -> str:
    """Figure 2 again in a child process whose glibc keeps the memory it frees.

    glibc hands freed blocks back to the OS (above its trim and mmap
    thresholds), so every step's new arrays arrive as fresh pages; the child
    shows what the step costs when they do not.
    """
    cmd = [sys.executable, __file__, "--only", "engine_vs_matmuls", "--json"]
    cmd += ["--no-allocator-check", "--threads", str(bench.threads), "--no-torch"]
    cmd += ["--pairs", str(bench.pairs), "--min-time", str(bench.min_time)]
    cmd += ["--budget", str(bench.budget)] + (["--quick"] if bench.quick else [])
    env = {**os.environ, "GLIBC_TUNABLES": KEEP_FREED_MEMORY}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"Allocator check failed: {done.stderr.strip().splitlines()[-1:]}"
    figures = json.loads(done.stdout)["engine_vs_matmuls"]
    parts = [f"{f['case']}: {f['value']:.3f}× ({f['detail'].split('; ', 1)[1]})" for f in figures]
    return (
        f"With `GLIBC_TUNABLES={KEEP_FREED_MEMORY}` (glibc keeps freed memory, measured "
        "in a child process): " + "; ".join(parts) + "."
    )


class StepWithDiagnostics:
    """One step, then (if ``table``) the full per-layer table.

    ‖W‖₂ is warm-started from the singular vectors of ``lag`` steps earlier: the
    table at step t starts from the cache the table at step t − lag left
    behind, which is exactly the state a run logging every ``lag`` steps sees.
    """

    def __init__(self, step: EngineStep, table: bool, lag: int = 1) -> None:
        self.step, self.table = step, table
        step()
        first = SpectralCache()
        first(step.weights)
        self.caches = collections.deque([first] * lag, maxlen=lag)

    def __call__(self) -> None:
        s = self.step
        s()
        if self.table:
            cache = self.caches[0].copy()  # the warm start of `lag` steps ago
            self.spec = cache(s.weights)  # (L,), kept to time the table without it
            layer_table(s.trace, s.weights, s.act, s.act, self.spec)
            self.caches.append(cache)


def diagnostics_overhead(bench: Bench) -> Section:
    """Figure 3: (step + layer_table) / step − 1, every step and at log_every."""
    k = bench.log_every
    sec = Section(
        "3. Diagnostics overhead",
        "t(step + gradlab.layer_table with a warm SpectralCache) / t(step) − 1.  Every "
        f"step: the cache is one step old (target ≤ 15 %).  At the default cadence "
        f"(train.log_every = {k}): the table cost with a cache {k} steps old, spread over "
        f"{k} steps, i.e. (ratio − 1) / {k} (target ≤ 3 %).  ‖W‖₂ is exact for layers of "
        f"≤ {EXACT_BELOW} units and comes from warm-started Lanczos above; its error is "
        f"measured against np.linalg.norm(W, 2) (an SVD) after {k}-step-old warm starts.",
    )
    frame = _frame_seconds(bench.sizes[0][1] + 1)
    floors = []
    for size in bench.sizes:
        net, x, y = make_problem(*size)
        L = size[1] + 1
        for lag, limit in ((1, 0.15), (k, 0.03)):
            bare = StepWithDiagnostics(EngineStep(net, x, y), table=False)
            diag = StepWithDiagnostics(EngineStep(net, x, y), table=True, lag=lag)
            pair = bench.paired(diag, bare)
            over = (pair.ratio - 1.0) / lag
            table = pair.t_a - pair.t_b
            detail = f"ratio {pair.spread()}; table {table * 1e3:.3f} ms per call"
            s = diag.step
            if lag == 1:
                table_only = partial(layer_table, s.trace, s.weights, s.act, s.act, diag.spec)
                given = min(_time(table_only, 10) for _ in range(5))  # fastest: no spikes
                given = min(given, table)
                per_layer = (pair.t_b / L, max(given - frame, 0.0) / L, (table - given) / L)
                detail += (
                    f"; per layer: step {per_layer[0] * 1e6:.0f} µs, statistics "
                    f"{per_layer[1] * 1e6:.0f} µs, ‖W‖₂ {per_layer[2] * 1e6:.0f} µs"
                )
                if over > limit:
                    floors.append((size, per_layer))
            else:
                exact = np.array([np.linalg.norm(w, 2) for w in s.weights])  # SVD
                warm = diag.caches[0].copy()(s.weights)
                err = np.max(np.abs(warm - exact) / exact)
                detail += f"; ‖W‖₂ max relative error {err:.1e} against an SVD"
                if over > limit:
                    sec.notes.append(
                        f"Limit at width {size[0]} every {k} steps: one table costs "
                        f"{table * 1e3:.3f} ms and {k} steps {k * pair.t_b * 1e3:.2f} ms, so "
                        f"{limit:.0%} allows {limit * k * pair.t_b * 1e3:.3f} ms: less than "
                        f"the frame ({frame * 1e6:.0f} µs) plus {L} layers of statistics and "
                        "‖W‖₂ (per-layer costs in the every-step line above)."
                    )
            case = f"{_case(size)}, {'every step' if lag == 1 else f'every {k} steps'}"
            sec.figures.append(Figure(case, over, f"≤ {limit:.0%}", over <= limit, detail))
    sec.notes.append(
        f"Building the {len(COLUMNS)}-column DataFrame once costs {frame * 1e6:.0f} µs "
        "(pandas' constructor; row dicts and column assignment cost several times that)."
    )
    if floors:
        big = bench.sizes[-1]
        ws = make_problem(*big)[0].weights
        crowding = min(float(1 - sv[1] / sv[0]) for sv in map(_top_two, ws))
        worst = ", ".join(
            f"width {size[0]}: statistics + ‖W‖₂ {(st + sp) * 1e6:.0f} µs vs step "
            f"{step * 1e6:.0f} µs per layer"
            for size, (step, st, sp) in floors
        )
        sec.notes.append(
            "Limit of the every-step misses: the table needs about a dozen reductions over "
            "each layer's (n, n_l) arrays, ‖W‖₂, and one frame, while a step needs three "
            "products and a few element-wise passes; measured here: " + worst + ".  Per "
            "layer the diagnostics cost the same order as the step itself, so computing "
            "them every step cannot stay within 15 % except where the products dominate.  "
            "At large widths ‖W‖₂ dominates: each Lanczos step is two memory-bound passes "
            f"over W, and the top singular values crowd together (relative gap "
            f"(σ₁ − σ₂)/σ₁ down to {crowding:.1e} at width {big[0]} at initialisation), so "
            "a 1e-9 estimate takes from a few to tens of steps even from a warm start one "
            "SGD step old.  "
            "Runs log every train.log_every steps, the cadence the 3 % target is about."
        )
    return sec


def _top_two(w: np.ndarray) -> np.ndarray:
    """The two largest singular values (an SVD)."""
    return np.linalg.svd(w, compute_uv=False)[:2]


def _frame_seconds(layers: int) -> float:
    """Time to build layer_table's frame from ready column arrays."""
    cols = {name: np.zeros(layers) for name in COLUMNS}
    return min(_time(lambda: pd.DataFrame(cols), 20) for _ in range(3))


def float32_vs_float64(bench: Bench) -> Section:
    """Figure 7: float64 step time / float32 step time at the largest width."""
    size = bench.sizes[-1]
    sec = Section(
        "7. float32 vs float64",
        f"t(float64 step) / t(float32 step) at {_case(size)}: how much faster float32 is.  "
        "Target: ≥ 1.6.",
    )
    net64, x64, y64 = make_problem(*size, dtype="float64")
    net32, x32, y32 = make_problem(*size, dtype="float32")
    f64, f32 = EngineStep(net64, x64, y64), EngineStep(net32, x32, y32)
    pair = bench.paired(f64, f32)
    dtypes = {a.dtype for a in f32.trace.delta + f32.trace.nabla_w + f32.weights}
    detail = (
        f"{pair.spread()}; float64 {pair.t_a * 1e3:.1f} ms, float32 {pair.t_b * 1e3:.1f} ms; "
        f"the float32 step's arrays are all {', '.join(sorted(map(str, dtypes)))}"
    )
    sec.figures.append(Figure(_case(size), pair.ratio, "≥ 1.6", pair.ratio >= 1.6, detail))
    return sec


#: The report's sections, in order.  A new figure is one more function here.
SECTIONS: list[Callable[[Bench], Section]] = [
    engine_vs_torch,
    engine_vs_matmuls,
    diagnostics_overhead,
    tracking_overhead,
    sweep_throughput,
    ensemble_probe,
    float32_vs_float64,
]


# ---- machine and report --------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(bench: Bench, load_start: tuple[float, ...]) -> list[tuple[str, str]]:
    """(what, value) rows describing where the numbers were measured."""
    rows = [
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} logical cores"),
        ("Python", f"{platform.python_version()}, {' '.join(platform.libc_ver())}"),
        ("NumPy", np.__version__),
    ]
    for lib in threadpool_info():
        parts = [" ".join(str(p) for p in (lib.get("internal_api"), lib.get("version")) if p)]
        if lib.get("architecture"):
            parts.append(f"kernel architecture {lib['architecture']}")
        parts.append(f"threads: {lib['num_threads']}")
        name = f"{lib['user_api'].upper()} ({Path(lib['filepath']).name})"
        rows.append((name, ", ".join(parts)))
    for name in OPENBLAS_ENV:
        value = os.environ.get(name)
        rows.append((name, f"set to {value!r}" if value is not None else "not set"))
    torch = bench.torch
    if torch is not None:
        config = torch.__config__.show()
        blas = next((p.split("=")[1] for p in config.split(", ") if "BLAS_INFO=" in p), "?")
        threads = torch.get_num_threads()
        rows.append(("PyTorch", f"{torch.__version__}, BLAS {blas}, threads: {threads}"))
    else:
        rows.append(("PyTorch", f"not installed ({bench.torch_skip_reason})"))
    rows.append(("Threads used on both sides", f"{bench.threads} ({bench.threads_source})"))
    load = os.getloadavg()
    rows.append(
        (
            "Load average (1 min) at start / end",
            f"{load_start[0]:.2f} / {load[0]:.2f} (other processes share these cores)",
        )
    )
    return rows


def render(sections: list[Section], rows: list[tuple[str, str]], seconds: float, args) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`experiments/benchmark.py`); do not edit by hand.  "
        f"This run took {seconds:.0f} s{' (quick mode: tiny sizes)' if args.quick else ''}.  "
        "Method, the definition of a step and the figures' formulas are in the script's "
        "docstring; in short, each figure is the median of paired ratios t_A / t_B measured "
        "alternately in one process.  Each detail line also gives fastest/fastest, the ratio "
        "of the two sides' fastest timings, which other processes cannot inflate: where the "
        "load average below is high, it is the steadier of the two.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        "## Summary",
        "",
        "| figure | case | value | target | met |",
        "|---|---|---|---|---|",
    ]
    for sec in sections:
        fig_no = sec.title.split(".")[0]
        if not sec.figures:
            lines.append(f"| {fig_no} | skipped | | | |")
        for f in sec.figures:
            value = f"{f.value:+.1%}" if "%" in f.target else f"{f.value:.3f}×"
            met = "n/a" if f.met is None else ("met" if f.met else "**missed**")
            lines.append(f"| {fig_no} | {f.case} | {value} | {f.target} | {met} |")
    for sec in sections:
        lines += ["", f"## {sec.title}", "", sec.what, ""]
        lines += [f"- **{f.case}**: {f.detail}" for f in sec.figures]
        if sec.notes:
            lines.append("")
            lines += [f"- {n}" for n in sec.notes]
    return "\n".join(lines) + "\n"


def _config(section: str, key: str):
    """``section.key`` of the training config (conf/train/config.yaml and the shared
    conf/runtime/default.yaml), or None (no file, no key, or null)."""
    from omegaconf import OmegaConf

    paths = [ROOT / "conf" / "train" / "config.yaml", ROOT / "conf" / "runtime" / "default.yaml"]
    loaded = [OmegaConf.load(p) for p in paths if p.exists()]
    return OmegaConf.merge(*loaded).get(section, {}).get(key) if loaded else None


def default_log_every() -> int:
    """train.log_every of conf/train/config.yaml, else 50."""
    return int(_config("train", "log_every") or 50)


def _numpy_blas_threads() -> int:
    libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    numpy_libs = [lib for lib in libs if "numpy" in lib["filepath"]] or libs
    return numpy_libs[0]["num_threads"] if numpy_libs else 1


def main(argv: list[str] | None = None) -> int:
    names = [f.__name__ for f in SECTIONS]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT, help="markdown file to write")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few pairs (smoke run)")
    p.add_argument("--pairs", type=int, default=15, help="paired timings per figure (at most)")
    p.add_argument("--min-time", type=float, default=0.05, help="seconds per timing")
    p.add_argument("--budget", type=float, default=8.0, help="seconds per figure (about)")
    p.add_argument(
        "--threads", type=int, default=None, help="BLAS threads (default: runtime.blas_threads)"
    )
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--only", default=",".join(names), help=f"comma-separated: {', '.join(names)}")
    p.add_argument("--json", action="store_true", help="print the figures as JSON, write nothing")
    p.add_argument(
        "--no-allocator-check", action="store_true", help="skip figure 2's child-process rerun"
    )
    args = p.parse_args(argv)
    if args.pairs < 1 or (args.threads is not None and args.threads < 1):
        p.error("--pairs and --threads must be >= 1")
    if args.min_time <= 0 or args.budget <= 0:
        p.error("--min-time and --budget must be > 0")
    if args.out.exists() and args.out.is_dir():
        p.error(f"--out={args.out} is a directory; give a file name")
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(only) - set(names))
    if unknown or not only:
        p.error(f"--only={args.only!r} is not allowed; choose from: {', '.join(names)}")

    torch, reason = None, "--no-torch given"
    if not args.no_torch:
        try:
            import torch
        except ImportError as err:
            torch, reason = None, f"{err}; install with pip install torch==2.13.0"
    runner_threads = _config("runtime", "blas_threads")
    threads = args.threads or runner_threads or _numpy_blas_threads()
    source = (
        "--threads"
        if args.threads
        else "runtime.blas_threads of conf/runtime/default.yaml"
        if runner_threads
        else "NumPy's BLAS default"
    )
    if torch is not None:
        torch.set_num_threads(threads)
    bench = Bench(
        quick=args.quick,
        pairs=3 if args.quick else args.pairs,
        min_time=0.005 if args.quick else args.min_time,
        threads=threads,
        log_every=5 if args.quick else default_log_every(),
        torch=torch,
        torch_skip_reason=reason,
        sizes=QUICK_SIZES if args.quick else SIZES,
        budget=1.0 if args.quick else args.budget,
        allocator_check=not args.no_allocator_check,
        threads_source=source,
    )
    load_start = os.getloadavg()
    start = time.perf_counter()
    sections = {}
    with threadpool_limits(threads, user_api="blas"):
        for section in SECTIONS:
            if section.__name__ in only:
                print(f"running {section.__name__} …", file=sys.stderr, flush=True)
                sections[section.__name__] = section(bench)
        rows = machine(bench, load_start)
    if args.json:
        out = {k: [vars(f) for f in sec.figures] for k, sec in sections.items()}
        print(json.dumps(out))
        return 0
    text = render(list(sections.values()), rows, time.perf_counter() - start, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
