"""Benchmark the engine against PyTorch, the BLAS limit and itself; write reports/benchmarks.md.

    make bench                                     # = .venv/bin/python experiments/benchmark.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE make bench   # where those are set, see below
    .venv/bin/python experiments/benchmark.py --quick --out /tmp/bench.md   # smoke run, seconds

Every figure except 5 is a paired comparison inside this one process: A and B
alternate (A B, B A, A B, …), each timing covers enough calls to last
``--min-time`` seconds, and the figure is the median of the per-pair ratios
t_A / t_B, which cancels the slow drifts of a shared, noisy machine
(``bench_harness``).  Figure 5 times whole sweeps as subprocesses, two
repetitions per launcher, and is the median of those two ratios
(``bench_pipeline``).  Values with a % target are overheads t_A / t_B − 1.
Both sides use the same dtype and the same number of BLAS threads (NumPy's
OpenBLAS via threadpoolctl, PyTorch via ``torch.set_num_threads``): by default
the runner's ``runtime.blas_threads`` from the training config (what every
gradlab job uses), else all of NumPy's; ``--threads N`` measures with N.

A *step* is one SGD step on one mini-batch: forward pass, backward pass and the
update W ← W − η∇W, b ← b − η∇b (η = 0.1), float64, sigmoid in every layer,
quadratic cost C = (1/2n) Σ_k ‖a^L_k − y_k‖²; figure 1b times the forward and
backward passes alone (``net.backprop``), no update on either side, and figure 1c
the same with NumPy's element-wise kernels instead of the compiled ones
(``gradlab.engine.kernels``).  The
network has ``hidden`` layers of ``width`` units between an input and an output
of ``width`` units, so L = hidden + 1 weight matrices of shape (width, width).
The engine's step is what ``gradlab.training.loop`` runs (``backprop``, then
the decay and the SGD optimiser's step, the last trace kept until the next step
replaces it); PyTorch's is the idiom a user would write (``zero_grad``,
``nn.functional.linear`` + ``sigmoid``, ``backward``, ``optim.SGD.step``).

Modules: ``bench_harness`` (paired timings, report structure, markdown),
``bench_machine`` (the machine table), ``bench_steps`` (what is timed), and the
cases ``bench_engine`` (figures 1, 1b, 1c, 1d, 2, 7), ``bench_diagnostics`` (3),
``bench_pipeline`` (4, 5, 6), ``bench_recurrent`` (8, a BPTT pass of the RNN
and the LSTM, defined in its docstring) and ``bench_remedies`` (9: skips + layer
norm, Adam).  Cases are functions in ``SECTIONS``; each takes the ``Bench``
context and returns a ``Section``.  Adding a figure is adding a
function to that list.

Some processors get OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) in their
environment because older OpenBLAS builds compute wrong results on them; they
slow a current NumPy.  Unset both for this command alone (second line above);
the report records whether they were set and which kernel OpenBLAS runs.

An AVX-512 machine measures an AVX2 machine's figures with
``NPY_DISABLE_CPU_FEATURES=X86_V4 OPENBLAS_CORETYPE=Haswell`` for NumPy,
``NUMBA_CPU_NAME=haswell`` and ``NUMBA_CPU_FEATURES`` (Haswell's list, see
``bench_machine.HASWELL_FEATURES``) for the compiled kernels, and
``ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2`` for PyTorch (the
machine table then names X86_V3, the Haswell kernel, haswell and AVX2); with
NumPy's switches alone an AVX2 engine races an AVX-512 PyTorch.  On an AVX-512
machine figure 1d does exactly that: it reruns figures 1, 1b and 1c in a child
process with all of them set (``bench_machine.AVX2_ENV``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench_diagnostics import diagnostics_overhead
from bench_engine import (
    avx2_machine,
    engine_vs_matmuls,
    engine_vs_torch,
    float32_vs_float64,
    forward_backward,
    numpy_kernels,
)
from bench_harness import ROOT, Bench, Section, render, runner_setting
from bench_machine import machine_rows, numpy_blas_threads
from bench_pipeline import ensemble_probe, sweep_throughput, tracking_overhead
from bench_recurrent import recurrent
from bench_remedies import remedies
from threadpoolctl import threadpool_limits

OUT = ROOT / "reports" / "benchmarks.md"

#: (width, hidden layers, batch) of figure 1, from Nielsen-sized to BLAS-bound.
SIZES = [(30, 4, 10), (100, 20, 64), (256, 20, 128), (1024, 8, 256)]
QUICK_SIZES = [(30, 4, 10), (64, 3, 16)]

#: The report's sections, in order.  A new figure is one more function here.
SECTIONS: list[Callable[[Bench], Section]] = [
    engine_vs_torch,
    forward_backward,
    numpy_kernels,
    avx2_machine,
    engine_vs_matmuls,
    diagnostics_overhead,
    tracking_overhead,
    sweep_throughput,
    ensemble_probe,
    float32_vs_float64,
    recurrent,
    remedies,
]


def default_log_every() -> int:
    """train.log_every of the training config, else 50."""
    return int(runner_setting("train", "log_every") or 50)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(names))
    if unknown or not args.only:
        p.error(f"--only={','.join(args.only)!r} is not allowed; choose from: {', '.join(names)}")
    return args


def make_bench(args: argparse.Namespace) -> Bench:
    """The shared context: sizes, timing settings, BLAS threads and PyTorch (if any)."""
    torch, reason = None, "--no-torch given"
    if not args.no_torch:
        try:
            import torch
        except ImportError as err:
            torch, reason = None, f"{err}; install with pip install torch==2.13.0"
    runner_threads = runner_setting("runtime", "blas_threads")
    threads = args.threads or runner_threads or numpy_blas_threads()
    source = (
        "--threads"
        if args.threads
        else "runtime.blas_threads of the training config"
        if runner_threads
        else "NumPy's BLAS default"
    )
    if torch is not None:
        torch.set_num_threads(threads)
    return Bench(
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = make_bench(args)
    load_start = os.getloadavg()
    start = time.perf_counter()
    sections = {}
    with threadpool_limits(bench.threads, user_api="blas"):
        for section in SECTIONS:
            if section.__name__ in args.only:
                print(f"running {section.__name__} …", file=sys.stderr, flush=True)
                sections[section.__name__] = section(bench)
        threads = f"{bench.threads} ({bench.threads_source})"
        rows = machine_rows(bench.torch, bench.torch_skip_reason, threads, load_start)
    if args.json:
        figures = {k: [vars(f) for f in sec.figures] for k, sec in sections.items()}
        print(json.dumps({**figures, "machine": rows}))
        return 0
    text = render(list(sections.values()), rows, time.perf_counter() - start, args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
