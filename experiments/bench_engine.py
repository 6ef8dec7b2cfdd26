"""Figures 1, 1b, 1c, 2 and 7 of reports/benchmarks.md: the engine's own speed.

1.  SGD step vs PyTorch; 1b. forward+backward vs PyTorch, and against the floor
of its matrix products plus one ``np.exp`` pass per layer; 1c. the same pass with
NumPy's element-wise kernels instead of the compiled ones; 2. SGD step vs its
own matrix products (the BLAS limit), with an allocator check in a child
process; 7. float64 vs float32.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import numpy as np
from bench_harness import (
    ROOT,
    Bench,
    Figure,
    Section,
    case_label,
    fresh_page_cost,
    time_calls,
)
from bench_machine import AVX2_ENV, blas_sides, simd_kind
from bench_steps import (
    EngineBackprop,
    EngineStep,
    ExpPerLayer,
    MatmulsOnly,
    TorchBackprop,
    TorchStep,
    make_problem,
)

from gradlab.engine import kernels

#: glibc settings under which freed memory stays with the process (see allocator_check).
KEEP_FREED_MEMORY = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432"

ALLOCATOR_NOTE = (
    "Page faults per call are counted over the same timed calls as the times beside them.  "
    "They are not a property of the step alone: glibc raises its mmap threshold to the "
    "largest block freed so far (and its trim threshold to twice that) and trims only the "
    "top of its heap, so whether a step's arrays come back from the heap or are returned to "
    "the OS and faulted in again depends on what the process allocated and freed before, "
    "including the other side of the pair between the step's calls.  The same step "
    "therefore shows different counts in figures 1 and 2; the allocator check of figure 2 "
    "fixes both thresholds and shows the step without them."
)


def _limit(width: int) -> float:
    return 1.15 if width > 256 else 1.0


def _torch_section(title: str, what: str, bench: Bench) -> Section:
    """A section whose notes name the BLAS of each side, or say that PyTorch is missing."""
    sec = Section(title, what)
    if bench.torch is None:
        sec.notes.append(f"Skipped: PyTorch is not installed ({bench.torch_skip_reason}).")
    else:
        sec.notes.append(blas_sides(bench.torch))
    return sec


def _agreement(engine_nabla_w1: np.ndarray, ref: TorchStep) -> float:
    """max |∇W¹ engine − ∇W¹ PyTorch| / max |∇W¹ PyTorch|, before any update."""
    ref.loss().backward()
    gw = ref.weights[0].grad.numpy()
    return float(np.max(np.abs(engine_nabla_w1 - gw)) / np.max(np.abs(gw)))


def engine_vs_torch(bench: Bench) -> Section:
    """Figure 1: engine step time / PyTorch step time."""
    sec = _torch_section(
        "1. Engine step vs PyTorch CPU autograd",
        "t(engine step) / t(PyTorch step), float64, same BLAS thread count "
        f"({bench.threads}).  Targets: ≤ 1.0 up to width 256, ≤ 1.15 at width 1024.",
        bench,
    )
    if bench.torch is None:
        return sec
    sec.notes.append(ALLOCATOR_NOTE)
    for size in bench.sizes:
        net, x, y = make_problem(*size)
        engine, ref = EngineStep(net, x, y), TorchStep(bench.torch, net, x, y)
        agree = _agreement(engine.backprop().nabla_w[0], ref)  # the same step, before updates
        pair = bench.paired(engine, ref)
        limit = _limit(size[0])
        detail = (
            f"{pair.spread()}; engine {pair.t_a * 1e3:.3f} ms, PyTorch {pair.t_b * 1e3:.3f} ms; "
            f"page faults/step engine {pair.faults_a:.0f}, PyTorch {pair.faults_b:.0f}; "
            f"∇W¹ agrees to {agree:.1e}"
        )
        met = pair.ratio <= limit
        sec.figures.append(Figure(case_label(size), pair.ratio, f"≤ {limit}", met, detail))
    return sec


def forward_backward(bench: Bench) -> Section:
    """Figure 1b: engine forward+backward / PyTorch forward+backward, and the exp floor."""
    sec = _torch_section(
        "1b. Engine forward+backward vs PyTorch CPU autograd",
        "t(net.backprop(x, y, 'quadratic')) / t(PyTorch forward + backward()), no optimiser "
        f"on either side, sigmoid in every layer, float64, {bench.threads} BLAS thread(s), "
        f"the engine with its {kernels.backend()} element-wise kernels.  Targets as figure "
        "1.  The detail line also times the floor: the pass's 3L − 1 matrix products plus "
        "one np.exp pass per layer over its (n, n_l) array, the element-wise work no "
        "NumPy-only sigmoid network can skip (σ and σ′ come from one e^{−|z|}), and gives "
        "engine / floor, products / PyTorch (the products alone, the floor less the "
        "np.exp passes) and floor / PyTorch.  The compiled kernels evaluate e^{−|z|} "
        "inside their one pass per layer, so they can go below the np.exp floor.",
        bench,
    )
    if bench.torch is None:
        return sec
    for size in bench.sizes:
        net, x, y = make_problem(*size)
        engine, ref = EngineBackprop(net, x, y), TorchBackprop(bench.torch, net, x, y)
        mm, exp = MatmulsOnly(EngineStep(net, x, y)), ExpPerLayer(EngineStep(net, x, y))
        agree = _agreement(net.backprop(x, y, "quadratic").nabla_w[0], ref.step)
        pair = bench.paired(engine, ref)
        floor = bench.paired(engine, lambda mm=mm, exp=exp: (mm(), exp()))
        exp_only = min(_time_min(exp, bench.min_time) for _ in range(3))
        products = max(floor.t_b - exp_only, 0.0)
        limit = _limit(size[0])
        detail = (
            f"{pair.spread()}; engine {pair.t_a * 1e3:.3f} ms, PyTorch {pair.t_b * 1e3:.3f} ms; "
            f"floor {floor.t_b * 1e3:.3f} ms (of which one np.exp per layer "
            f"{exp_only * 1e3:.3f} ms), engine / floor {floor.spread()}, so products / "
            f"PyTorch ≈ {pair.ratio / floor.ratio * products / floor.t_b:.3f} and floor / "
            f"PyTorch ≈ {pair.ratio / floor.ratio:.3f} (quotients of the medians); ∇W¹ "
            f"agrees to {agree:.1e}"
        )
        met = pair.ratio <= limit
        sec.figures.append(Figure(case_label(size), pair.ratio, f"≤ {limit}", met, detail))
    return sec


def numpy_kernels(bench: Bench) -> Section:
    """Figure 1c: figure 1b with NumPy's element-wise kernels, and compiled / NumPy."""
    sec = _torch_section(
        "1c. Engine forward+backward with NumPy's element-wise kernels",
        "Figure 1b's pass with GRADLAB_KERNELS=numpy (the engine without numba, or with it "
        "switched off): t(engine, NumPy kernels) / t(PyTorch), no target.  The detail line "
        "pairs the two engines: t(engine, compiled kernels) / t(engine, NumPy kernels), the "
        "same pass, products and all, so it shows what the compiled kernels save.",
        bench,
    )
    if bench.torch is None:
        return sec
    if kernels.backend().startswith("NumPy"):
        sec.notes.append(f"Skipped: the compiled kernels do not run here ({kernels.backend()}).")
        return sec
    for size in bench.sizes:
        net, x, y = make_problem(*size)
        slow = EngineBackprop(net, x, y, kernels="numpy")
        vs_torch = bench.paired(slow, TorchBackprop(bench.torch, net, x, y))
        saved = bench.paired(EngineBackprop(net, x, y, kernels="numba"), slow)
        detail = (
            f"{vs_torch.spread()}; NumPy kernels {vs_torch.t_a * 1e3:.3f} ms, PyTorch "
            f"{vs_torch.t_b * 1e3:.3f} ms; compiled / NumPy kernels {saved.spread()}"
        )
        sec.figures.append(Figure(case_label(size), vs_torch.ratio, "—", None, detail))
    return sec


def _child_figures(bench: Bench, only, *flags: str, env: dict) -> dict | str:
    """benchmark.py's --json figures ``only``, run in a child process with ``env``.

    The child gets this run's timing settings; returns the last line of its
    stderr instead if it failed.
    """
    cmd = [sys.executable, str(ROOT / "experiments" / "benchmark.py")]
    cmd += ["--only", ",".join(only), "--json", "--no-allocator-check", *flags]
    cmd += ["--threads", str(bench.threads), "--pairs", str(bench.pairs)]
    cmd += ["--min-time", str(bench.min_time), "--budget", str(bench.budget)]
    cmd += ["--quick"] if bench.quick else []
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return str(done.stderr.strip().splitlines()[-1:])
    return json.loads(done.stdout)


#: The figures figure 1d measures again as an AVX2 machine.
AVX2_FIGURES = ("engine_vs_torch", "forward_backward", "numpy_kernels")


def _avx2_switches() -> str:
    shown = {**AVX2_ENV, "NUMBA_CPU_FEATURES": "(Haswell's)"}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def avx2_machine(bench: Bench) -> Section:
    """Figure 1d: figures 1, 1b and 1c again in a child process that runs AVX2 code paths."""
    sec = Section(
        "1d. Figures 1, 1b and 1c on an AVX2 machine (AVX-512 switched off)",
        f"The three figures above measured again in a child process with {_avx2_switches()}"
        + ": NumPy's float64 exp runs its AVX2 (X86_V3) kernel, which calls the scalar "
        "libm exp, OpenBLAS its Haswell kernel, the compiled kernels are built for Haswell "
        "and PyTorch runs its AVX2 kernels and MKL's AVX2 code, as on an AVX2 machine such "
        "as a 2-core AMD EPYC cloud machine.  The same CPU otherwise: its caches, clock and "
        "memory are not an AVX2 machine's.  Targets as figures 1 and 1b.",
    )
    if bench.torch is None:
        sec.notes.append(f"Skipped: PyTorch is not installed ({bench.torch_skip_reason}).")
        return sec
    if simd_kind() != "AVX-512":
        sec.notes.append(
            f"Skipped: NumPy's exp runs its {simd_kind()} kernel here, so figures 1–1c "
            "above are already this machine kind's."
        )
        return sec
    result = _child_figures(bench, AVX2_FIGURES, env={**os.environ, **AVX2_ENV})
    if isinstance(result, str):
        sec.notes.append(f"The child process failed: {result}")
        return sec
    machine = dict(result["machine"])
    names = {"engine_vs_torch": "1", "forward_backward": "1b", "numpy_kernels": "1c"}
    for key in AVX2_FIGURES:
        for f in result[key]:
            case = f"AVX2, figure {names[key]}: {f['case']}"
            sec.figures.append(Figure(case, f["value"], f["target"], f["met"], f["detail"]))
    sec.notes.append(
        f"The child's machine kind: {machine['Machine kind']}; NumPy SIMD: "
        f"{machine['NumPy SIMD (element-wise kernels)']}; PyTorch: {machine['PyTorch']}."
    )
    return sec


def _time_min(fn, min_time: float) -> float:
    """Seconds per call of ``fn``, over calls lasting about ``min_time`` in all."""
    one = max(time_calls(fn, 1), 1e-7)
    return time_calls(fn, max(1, int(min_time / one)))


def _anatomy(bench: Bench, size: tuple[int, int, int], page: float) -> Figure:
    """One line of figure 2: step / products, split into products, faults and the rest."""
    net, x, y = make_problem(*size)
    step = EngineStep(net, x, y)
    mm = MatmulsOnly(EngineStep(net, x, y))
    pair = bench.paired(step, mm)
    faults = pair.faults_a - pair.faults_b
    t_faults = faults * page
    rest = pair.t_a - pair.t_b - t_faults
    detail = (
        f"{pair.spread()}; step {pair.t_a * 1e3:.2f} ms = products {pair.t_b * 1e3:.2f} ms "
        f"+ extra page faults {faults:.0f} × {page * 1e6:.2f} µs = {t_faults * 1e3:.2f} ms "
        f"+ element-wise and Python {rest * 1e3:.2f} ms"
    )
    return Figure(case_label(size), pair.ratio, "≤ 1.5", pair.ratio <= 1.5, detail)


def engine_vs_matmuls(bench: Bench) -> Section:
    """Figure 2: engine step time / time of its own matrix products."""
    sec = Section(
        "2. Engine step vs its own matrix products (the BLAS limit)",
        "t(engine step) / t(the step's 3L − 1 matrix products alone, same operands, "
        "fresh outputs).  Target: ≤ 1.5 at width ≥ 256.  The anatomy splits the step "
        "into products, first touches of fresh memory (extra page faults during the timed "
        "calls × the measured cost of one) and the rest (element-wise passes and Python).",
    )
    page = fresh_page_cost()
    sec.notes.append(
        f"A first touch of a fresh 4 KiB page costs {page * 1e6:.2f} µs here "
        "(writing 64 MiB of fresh anonymous memory minus rewriting it, per page fault)."
    )
    for size in bench.large():
        fig = _anatomy(bench, size, page)
        sec.figures.append(fig)
        if not fig.met:
            sec.notes.append(
                f"Limit at width {size[0]}: the element-wise passes over the (n, n_l) arrays "
                "(σ and σ′ from one exponential, δ ⊙ σ′, the bias, the batch means, the "
                "update) are memory-bound"
                + (", and NumPy runs them on one thread" if bench.threads > 1 else "")
                + ", so at this size they cannot shrink to half of the products' time."
            )
    if bench.allocator_check and platform.libc_ver()[0] == "glibc":
        sec.notes.append(allocator_check(bench))
    return sec


def allocator_check(bench: Bench) -> str:
    """Figure 2 again in a child process whose glibc keeps the memory it frees.

    glibc hands freed blocks back to the OS (above its trim and mmap
    thresholds, which move with what the process freed before), so a step's
    new arrays may arrive as fresh pages; the child fixes both thresholds and
    shows what the step costs when they do not.
    """
    env = {**os.environ, "GLIBC_TUNABLES": KEEP_FREED_MEMORY}
    result = _child_figures(bench, ("engine_vs_matmuls",), "--no-torch", env=env)
    if isinstance(result, str):
        return f"Allocator check failed: {result}"
    figures = result["engine_vs_matmuls"]
    parts = [f"{f['case']}: {f['value']:.3f}× ({f['detail'].split('; ', 1)[1]})" for f in figures]
    return (
        f"With `GLIBC_TUNABLES={KEEP_FREED_MEMORY}` (glibc keeps freed memory, measured "
        "in a child process): " + "; ".join(parts) + "."
    )


def float32_vs_float64(bench: Bench) -> Section:
    """Figure 7: float64 step time / float32 step time at the largest width."""
    size = bench.sizes[-1]
    sec = Section(
        "7. float32 vs float64",
        f"t(float64 step) / t(float32 step) at {case_label(size)}: how much faster float32 "
        "is.  Target: ≥ 1.6.",
    )
    f64 = EngineStep(*make_problem(*size, dtype="float64"))
    f32 = EngineStep(*make_problem(*size, dtype="float32"))
    pair = bench.paired(f64, f32)
    dtypes = {a.dtype for a in f32.trace.delta + f32.trace.nabla_w + f32.weights}
    detail = (
        f"{pair.spread()}; float64 {pair.t_a * 1e3:.1f} ms, float32 {pair.t_b * 1e3:.1f} ms; "
        f"the float32 step's arrays are all {', '.join(sorted(map(str, dtypes)))}"
    )
    sec.figures.append(Figure(case_label(size), pair.ratio, "≥ 1.6", pair.ratio >= 1.6, detail))
    return sec
