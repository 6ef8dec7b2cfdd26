"""The benchmark's harness: paired timings, the report's structure and its markdown.

Nothing here knows what is measured; the cases (``bench_engine``,
``bench_diagnostics``, ``bench_pipeline``) build callables and hand them to
``Bench.paired``, and ``benchmark.py`` runs the cases and writes the page.

A figure measured in one process is a paired comparison: A and B alternate
(A B, B A, A B, …), each timing covers enough calls to last ``min_time``
seconds, and the figure is the median of the per-pair ratios t_A / t_B, which
cancels slow drifts of a shared machine that hit both sides of a pair alike.
"""

from __future__ import annotations

import math
import mmap
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

Clock = Callable[[], float]


# ---- paired timings ----------------------------------------------------------------
@dataclass
class Pair:
    """Summary of paired timings t_A, t_B (seconds per call) and page faults per call."""

    ratio: float  # median over pairs of t_A / t_B
    q1: float
    q3: float
    t_a: float  # median t_A
    t_b: float
    pairs: int
    fast_a: float  # fastest t_A: load on a shared machine only adds time
    fast_b: float
    faults_a: float = 0.0  # minor page faults per call during A's timed calls
    faults_b: float = 0.0

    @property
    def best(self) -> float:
        """Fastest A over fastest B."""
        return self.fast_a / self.fast_b

    def spread(self) -> str:
        return (
            f"{self.ratio:.3f} (IQR {self.q1:.3f}–{self.q3:.3f}, {self.pairs} pairs; "
            f"fastest/fastest {self.best:.3f})"
        )


def summarise(t_a: list[float], t_b: list[float], faults: tuple[float, float] = (0.0, 0.0)) -> Pair:
    """Median and quartiles of the per-pair ratios t_a[k] / t_b[k], and each side's median.

    Parameters
    ----------
    t_a, t_b : list of float
        Seconds per call of A and of B in pair k, same length.
    faults : (float, float)
        Minor page faults per call of A and of B, passed through.
    """
    ratios = np.asarray(t_a) / np.asarray(t_b)  # (pairs,)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    return Pair(
        float(med), float(q1), float(q3), float(np.median(t_a)), float(np.median(t_b)),
        len(ratios), min(t_a), min(t_b), *faults,
    )  # fmt: skip


def time_calls(fn: Callable[[], object], calls: int, clock: Clock = time.perf_counter) -> float:
    """Seconds per call of ``fn`` over ``calls`` consecutive calls."""
    start = clock()
    for _ in range(calls):
        fn()
    return (clock() - start) / calls


def minor_faults() -> int:
    """Minor page faults of this process so far: first touches of pages the OS handed out."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def paired(
    a: Callable[[], object],
    b: Callable[[], object],
    max_pairs: int,
    min_time: float,
    budget: float,
    clock: Clock = time.perf_counter,
) -> Pair:
    """Time A and B alternately (A B, B A, …) and summarise t_A / t_B.

    Each timing repeats its callable enough times to last about ``min_time``
    seconds; calls shorter than half a second get one untimed call first, which
    absorbs the switch from the other side (caches, sleeping BLAS threads).
    The number of pairs (3 to ``max_pairs``) keeps the figure within about
    ``budget`` seconds.  Page faults are counted over the same timed calls, so
    a count belongs to the time beside it.
    """
    # Three timed warm-up rounds: lazy set-up on either side, and the fastest of
    # them sizes the timings (a single call can land in another process's slice).
    t_one = max(min(time_calls(fn, 1, clock) for _ in range(3)) for fn in (a, b))
    t_one = max(t_one, 1e-7)
    calls = max(1, math.ceil(min_time / t_one))
    warm = t_one < 0.5
    pairs = max(3, min(max_pairs, int(budget / (2 * (calls + warm) * t_one))))
    times: dict[int, list[float]] = {0: [], 1: []}
    faults = [0, 0]
    for k in range(pairs):
        for side in (0, 1) if k % 2 == 0 else (1, 0):
            fn = (a, b)[side]
            if warm:
                fn()
            before = minor_faults()
            times[side].append(time_calls(fn, calls, clock))
            faults[side] += minor_faults() - before
    per_call = (faults[0] / (pairs * calls), faults[1] / (pairs * calls))
    return summarise(times[0], times[1], per_call)


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
        before = minor_faults()
        t_fresh = time_calls(lambda m=m: write(m), 1)
        faults = minor_faults() - before
        t_kept = time_calls(lambda m=m: write(m), 1)
        m.close()
        if faults:
            costs.append(max(t_fresh - t_kept, 0.0) / faults)
    return float(np.median(costs)) if costs else 0.0


# ---- report structure --------------------------------------------------------------
@dataclass
class Figure:
    """One line of the summary: a value and its target.

    ``value`` is a ratio t_A / t_B when the target is written with ×, ≥ or ≤
    a plain number, and an overhead t_A / t_B − 1 when the target is a
    percentage.
    """

    case: str
    value: float
    target: str
    met: bool | None  # None: no target
    detail: str = ""


@dataclass
class Section:
    """One figure of the page: its title ("N. …"), what it measures, its lines and notes.

    ``method`` is empty for the harness's in-process paired ratios and says
    what the figure is otherwise.
    """

    title: str
    what: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    method: str = ""

    @property
    def number(self) -> str:
        return self.title.split(".")[0]


@dataclass
class Bench:
    """Settings and shared state every case receives."""

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
        """Sizes of width ≥ 256 (figure 2's range); the largest in quick mode."""
        return [s for s in self.sizes if s[0] >= 256] or self.sizes[-1:]


def case_label(size: tuple[int, int, int]) -> str:
    return "width {}, {} hidden, batch {}".format(*size)


# ---- markdown --------------------------------------------------------------------
def _value(f: Figure) -> str:
    return f"{f.value:+.1%}" if "%" in f.target else f"{f.value:.3f}×"


def _method(sections: list[Section]) -> str:
    others = "".join(f"  Figure {s.number} is not: {s.method}" for s in sections if s.method)
    return (
        "Method, the definition of a step and the figures' formulas are in "
        "`experiments/benchmark.py`'s docstring; in short, a figure measured in this "
        "process is the median of paired ratios t_A / t_B, A and B timed alternately."
        + others
        + "  Each paired detail line also gives fastest/fastest, the ratio of the two sides' "
        "fastest timings: other processes can only add time to a timing, so it is less "
        "sensitive to their load than the medians (not immune: a side that never got a quiet "
        "moment stays inflated); where the load average below is high, it is the steadier "
        "of the two.  Absolute times (ms) are medians of one side's timings, not paired, so "
        "they drift with the load between figures measured minutes apart.  "
        "Summary values with a % target are overheads t_A / t_B − 1; the others are "
        "ratios t_A / t_B."
    )


def render(
    sections: list[Section], rows: list[tuple[str, str]], seconds: float, quick: bool
) -> str:
    """The markdown page: header, machine table, summary, one part per section."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`experiments/benchmark.py`); do not edit by hand.  "
        f"This run took {seconds:.0f} s{' (quick mode: tiny sizes)' if quick else ''}.  "
        + _method(sections),
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
        if not sec.figures:
            lines.append(f"| {sec.number} | skipped | | | |")
        for f in sec.figures:
            met = "n/a" if f.met is None else ("met" if f.met else "**missed**")
            lines.append(f"| {sec.number} | {f.case} | {_value(f)} | {f.target} | {met} |")
    for sec in sections:
        lines += ["", f"## {sec.title}", "", sec.what, ""]
        lines += [f"- **{f.case}**: {f.detail}" for f in sec.figures]
        if sec.notes:
            lines.append("")
            lines += [f"- {n}" for n in sec.notes]
    return "\n".join(lines) + "\n"


# ---- configuration ---------------------------------------------------------------
def compose_train_config(overrides: list[str]) -> dict:
    """conf/train/config.yaml composed with ``overrides`` (Hydra's compose API), resolved."""
    from omegaconf import OmegaConf

    from gradlab.jobs.config import compose

    return OmegaConf.to_container(compose(ROOT / "conf", "train", overrides), resolve=True)


def runner_setting(section: str, key: str):
    """``section.key`` of the composed training config, or None (no such key, or null)."""
    if not (ROOT / "conf" / "train" / "config.yaml").exists():
        return None
    return (compose_train_config([]).get(section) or {}).get(key)
