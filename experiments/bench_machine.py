"""The machine table of reports/benchmarks.md: CPU, SIMD level, BLAS libraries, threads, load.

Element-wise passes run on NumPy's SIMD kernels and matrix products on a BLAS
library, and which of each a machine gets decides the engine's speed: the
table names NumPy's SIMD dispatch targets found on this CPU (what
``np.show_runtime()`` prints) and the one its float64 ``np.exp`` runs
(``numpy.lib.introspect.opt_func_info``), the kernel OpenBLAS chose, and the
BLAS and CPU capability PyTorch was built with, and the engine's compiled
kernels with the CPU numba compiles them for.  ``AVX2_ENV`` turns an AVX-512
machine's rows into an AVX2 machine's: ``NPY_DISABLE_CPU_FEATURES=X86_V4`` and
``OPENBLAS_CORETYPE=Haswell`` for NumPy, ``NUMBA_CPU_NAME`` and
``NUMBA_CPU_FEATURES`` for the compiled kernels, ``ATEN_CPU_CAPABILITY=avx2`` and
``MKL_ENABLE_INSTRUCTIONS=AVX2`` for PyTorch (its row then says AVX2); without
the last two an engine-vs-PyTorch figure compares an AVX2 engine with an AVX-512
PyTorch.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from gradlab.engine import kernels

#: Env variables that select an OpenBLAS kernel by hand (see benchmark.py's docstring).
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: LLVM's features of a Haswell CPU (AVX2 + FMA, no AVX-512), for NUMBA_CPU_FEATURES:
#: numba takes the host's features unless told, so NUMBA_CPU_NAME alone keeps AVX-512.
HASWELL_FEATURES = (
    "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fsgsbase,+fxsr,+invpcid,"
    "+lzcnt,+mmx,+movbe,+pclmul,+popcnt,+rdrnd,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,"
    "+ssse3,+x87,+xsave,+xsaveopt"
)

#: The switches that make an AVX-512 machine run an AVX2 machine's code paths: NumPy's
#: SIMD kernels, OpenBLAS's kernel, the compiled kernels' target, PyTorch's and MKL's.
AVX2_ENV = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4",
    "OPENBLAS_CORETYPE": "Haswell",
    "NUMBA_CPU_NAME": "haswell",
    "NUMBA_CPU_FEATURES": HASWELL_FEATURES,
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def numpy_simd() -> str:
    """NumPy's SIMD baseline and the dispatch targets this CPU supports (np.show_runtime())."""
    from numpy._core import _multiarray_umath as umath

    found = [t for t in umath.__cpu_dispatch__ if umath.__cpu_features__.get(t)]
    missing = [t for t in umath.__cpu_dispatch__ if not umath.__cpu_features__.get(t)]
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES")
    return (
        f"float64 np.exp runs its {exp_kernel() or '?'} kernel; "
        f"baseline {' '.join(umath.__cpu_baseline__) or 'none'}; dispatch targets found "
        f"{' '.join(found) or 'none'}, not found {' '.join(missing) or 'none'}"
        + (f"; NPY_DISABLE_CPU_FEATURES={disabled!r}" if disabled is not None else "")
    )


def exp_kernel() -> str | None:
    """The SIMD target NumPy's float64 ``np.exp`` runs here, e.g. X86_V3 (None: unknown)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:  # NumPy < 2.0
        return None
    return (
        opt_func_info(func_name="^exp$", signature="float64")
        .get("exp", {})
        .get("dd", {})
        .get("current")
    )


def simd_kind() -> str:
    """The x86 vector width of NumPy's float64 exp here: AVX-512 (X86_V4) or AVX2 (X86_V3)."""
    kernel = exp_kernel()
    names = {"X86_V4": "AVX-512", "X86_V3": "AVX2"}
    return names.get(kernel, kernel or "unknown")


def numpy_blas() -> dict | None:
    """threadpoolctl's entry for NumPy's BLAS (the one inside numpy.libs), else the first."""
    libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    return next((lib for lib in libs if "numpy" in lib["filepath"]), libs[0] if libs else None)


def numpy_blas_threads() -> int:
    lib = numpy_blas()
    return lib["num_threads"] if lib else 1


def torch_blas(torch) -> str:
    """The BLAS PyTorch was built with (BLAS_INFO of torch.__config__.show()), e.g. mkl."""
    config = torch.__config__.show()
    return next((p.split("=")[1] for p in config.split(", ") if "BLAS_INFO=" in p), "?")


def blas_sides(torch) -> str:
    """One sentence naming the BLAS of each side of an engine-vs-PyTorch figure."""
    lib = numpy_blas()
    ours = (
        f"{lib['internal_api']} {lib.get('version') or ''} ({lib.get('architecture') or '?'} "
        "kernel)"
        if lib
        else "no BLAS threadpoolctl can see"
    )
    return (
        f"The two sides run different BLAS libraries: NumPy's products run on {ours}, "
        f"PyTorch's on {torch_blas(torch)} (PyTorch's build settings; threadpoolctl does not "
        "list it because it is linked into libtorch), so the ratio compares the libraries as "
        "well as the engines."
    )


def _blas_rows() -> list[tuple[str, str]]:
    rows = []
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
    return rows


def compiled_target() -> str | None:
    """The CPU numba compiles the engine's kernels for and its widest SIMD set, or None."""
    if kernels.backend().startswith("NumPy"):
        return None
    from llvmlite import binding

    name = os.environ.get("NUMBA_CPU_NAME") or binding.get_host_cpu_name()
    features = os.environ.get("NUMBA_CPU_FEATURES")
    if features is None:
        features = binding.get_host_cpu_features().flatten()
    width = "AVX-512" if "+avx512f" in features else "AVX2" if "+avx2" in features else "SSE"
    if platform.machine() not in ("x86_64", "AMD64"):
        width = platform.machine()
    return f"{name} ({width})"


def _kind() -> str:
    lib = numpy_blas()
    kernel = f"OpenBLAS {lib.get('architecture')} kernel" if lib and lib.get("architecture") else ""
    target = compiled_target()
    return (
        f"{simd_kind()} element-wise kernels (NumPy's np.exp)"
        + (f", {kernel}" if kernel else "")
        + (f", compiled kernels for {target}" if target else "")
    )


def _kernels_row() -> tuple[str, str]:
    target = compiled_target()
    where = f", LLVM target {target}" if target else ""
    if target and os.environ.get("NUMBA_CPU_NAME"):
        where += " (NUMBA_CPU_NAME, NUMBA_CPU_FEATURES)"
    return ("Engine's element-wise kernels (gradlab.engine.kernels)", kernels.backend() + where)


def _torch_row(torch, skip_reason: str) -> tuple[str, str]:
    if torch is None:
        return ("PyTorch", f"not installed ({skip_reason})")
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        "PyTorch",
        f"{torch.__version__}, BLAS {torch_blas(torch)}, CPU capability {capability}, "
        f"threads: {torch.get_num_threads()}",
    )


def machine_rows(
    torch, skip_reason: str, threads: str, load_start: tuple[float, ...]
) -> list[tuple[str, str]]:
    """(what, value) rows describing where the numbers were measured."""
    load = os.getloadavg()
    return [
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical cores"),
        ("Python", f"{platform.python_version()}, {' '.join(platform.libc_ver())}"),
        ("NumPy", np.__version__),
        ("Machine kind", _kind()),
        ("NumPy SIMD (element-wise kernels)", numpy_simd()),
        _kernels_row(),
        *_blas_rows(),
        _torch_row(torch, skip_reason),
        ("Threads used on both sides", threads),
        (
            "Load average (1 min) at start / end",
            f"{load_start[0]:.2f} / {load[0]:.2f} (other processes share these cores)",
        ),
    ]
