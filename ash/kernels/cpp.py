"""The cpp kernel: C++/OpenMP CPU code (ash_cpu.cpp), built on first use by torch's JIT extension loader.

The build (``torch.utils.cpp_extension.load_inline``, which needs ``ninja`` and a C++ compiler) is
cached per source, CPU and torch version. Nothing is built at import.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import threading
from pathlib import Path

import torch

from .layout import dense_groups, restore_format, stat_groups

__all__ = ["load", "forward", "backward", "supports"]

_lock = threading.Lock()
_module = None


def supports(x: torch.Tensor) -> bool:
    """CPU tensors of a floating dtype."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def load():
    """The compiled extension (built once per process; raises if the build fails)."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            _module = _build()
    return _module


def _build():
    ext_log = logging.getLogger("torch.utils.cpp_extension")
    level = ext_log.level
    ext_log.setLevel(logging.ERROR)  # its "No CUDA runtime is found" is noise for a CPU-only kernel
    try:
        from torch.utils.cpp_extension import load_inline

        src = Path(__file__).with_name("ash_cpu.cpp").read_text()
        # -march=native: so the cache key holds the CPU as well as the source and torch version.
        tag = f"{src}{platform.processor()}{_cpu_flags()}{torch.__version__}"
        return load_inline(
            name="ash_cpu_" + hashlib.sha1(tag.encode()).hexdigest()[:12],
            cpp_sources=[src],
            functions=["ash_forward", "ash_backward"],
            extra_cflags=["-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
            extra_ldflags=["-fopenmp"],
            verbose=False,
        )
    finally:
        ext_log.setLevel(level)


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return ""


def forward(x, stats, alpha, z, a, eps):
    """Kernel interface (see ash.kernels.eager)."""
    xd = dense_groups(x, stats)
    y, mu, rstd = load().ash_forward(xd, stat_groups(x, stats), alpha, z, a, eps)
    return restore_format(y, x), xd, mu, rstd


def backward(gy, x, mu, rstd, stats, alpha, z, a, detach_stats):
    """Kernel interface (see ash.kernels.eager)."""
    if gy.shape != x.shape:
        gy = gy.reshape(x.shape)
    return load().ash_backward(gy, x, mu, rstd, alpha, z, a, detach_stats)
