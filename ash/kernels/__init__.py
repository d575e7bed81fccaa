"""Kernels of the fused ASH Function and their selection.

Each kernel computes, for x viewed as G groups of M elements:
    forward(x, groups, alpha, z, a, eps)            -> y, mu[G], rstd[G]
    backward(gy, x, mu, rstd, alpha, z, a, detach)  -> gx, grad_alpha, grad_z, grad_a
(the exact gradients, including the terms through mu and sigma unless detach).

Kernels, fastest first: ``cpp`` (C++/OpenMP CPU kernel compiled once with
torch.utils.cpp_extension.load_inline and cached), ``compile`` (the eager maths compiled by
torch.compile: Triton on CUDA), ``eager`` (plain PyTorch ops, always available). The environment
variable ``ASH_KERNEL=auto|cpp|compile|eager`` or :func:`set_kernel` overrides the choice. Nothing
compiles at import: a kernel is built on first use, and a build failure falls back to ``eager`` with
one warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import threading
import warnings
from pathlib import Path
from typing import Callable

import torch

__all__ = ["set_kernel", "kernel_name", "get_kernel", "eager_forward", "eager_backward"]

_VALID = ("auto", "cpp", "compile", "eager")
_choice: str | None = None
_lock = threading.Lock()
_cpp_module = None
_cpp_failed = False
_compiled: dict[str, Callable] = {}
_compile_failed = False
_warned: set[str] = set()


def set_kernel(name: str | None) -> None:
    """Force the kernel: 'auto', 'cpp', 'compile' or 'eager' (None: back to $ASH_KERNEL or 'auto')."""
    global _choice
    if name is not None and name not in _VALID:
        raise ValueError(f"unknown ASH kernel {name!r}; choose one of {', '.join(_VALID)}")
    _choice = name


def _requested() -> str:
    name = _choice or os.environ.get("ASH_KERNEL", "auto").strip().lower() or "auto"
    if name not in _VALID:
        raise ValueError(f"ASH_KERNEL={name!r} is not valid; set it to one of {', '.join(_VALID)}")
    return name


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------
# eager: plain PyTorch ops (also what torch.compile traces, and the CUDA fallback)
# ---------------------------------------------------------------------------------------------
def eager_forward(x: torch.Tensor, groups: int, alpha, z, a, eps: float):
    """Fused forward in PyTorch ops on x viewed as (groups, -1); statistics in >= float32."""
    xf = x.reshape(groups, -1)
    if xf.dtype not in (torch.float32, torch.float64):
        xf = xf.float()
    mu = xf.mean(1, keepdim=True)
    var = (xf - mu).square().mean(1, keepdim=True)  # two-pass: stable
    rstd = torch.rsqrt(var + eps)
    s = torch.sigmoid((2 * alpha) * (xf - (mu + z / rstd)))
    y = xf * s if a is None else xf * (a + (1 - a) * s)
    return y.to(x.dtype).reshape(x.shape), mu.squeeze(1), rstd.squeeze(1)


def eager_backward(gy, x, mu, rstd, alpha, z, a, detach_stats: bool):
    """Exact fused backward in PyTorch ops: gx and the gradients of alpha, z and a."""
    G = mu.shape[0]
    xf, gf = x.reshape(G, -1), gy.reshape(G, -1)
    if xf.dtype not in (torch.float32, torch.float64):
        xf, gf = xf.float(), gf.float()
    mu, rstd = mu.to(xf.dtype).unsqueeze(1), rstd.to(xf.dtype).unsqueeze(1)
    d = xf - (mu + z / rstd)
    s = torch.sigmoid((2 * alpha) * d)
    gxs = gf * xf
    b = 1 if a is None else 1 - a
    gu = gxs * b * s * (1 - s)
    gx = gf * (s if a is None else a + b * s) + (2 * alpha) * gu
    U = gu.sum(1, keepdim=True)
    if not detach_stats:
        gx = gx - (2 * alpha / xf.shape[1]) * U * (1 + z * (xf - mu) * rstd)
    g_alpha = 2 * (gu * d).sum()
    g_z = -2 * alpha * (U / rstd).sum()
    g_a = (gxs * (1 - s)).sum()
    return gx.to(x.dtype).reshape(x.shape), g_alpha, g_z, g_a


# ---------------------------------------------------------------------------------------------
# cpp: the C++ CPU kernel
# ---------------------------------------------------------------------------------------------
def _load_cpp():
    global _cpp_module, _cpp_failed
    if _cpp_module is not None or _cpp_failed:
        return _cpp_module
    with _lock:
        if _cpp_module is not None or _cpp_failed:
            return _cpp_module
        ext_log = logging.getLogger("torch.utils.cpp_extension")
        level = ext_log.level
        ext_log.setLevel(logging.ERROR)  # its "No CUDA runtime is found" is noise for a CPU-only kernel
        try:
            from torch.utils.cpp_extension import load_inline

            src = (Path(__file__).with_name("ash_cpu.cpp")).read_text()
            # -march=native: the build is cached per source, CPU and torch version.
            tag = f"{src}{platform.processor()}{_cpu_flags()}{torch.__version__}"
            name = "ash_cpu_" + hashlib.sha1(tag.encode()).hexdigest()[:12]
            _cpp_module = load_inline(
                name=name,
                cpp_sources=[src],
                functions=["ash_forward", "ash_backward"],
                extra_cflags=["-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
                extra_ldflags=["-fopenmp"],
                verbose=False,
            )
        except Exception as exc:  # no compiler, no headers, ...
            _cpp_failed = True
            _warn_once("cpp", f"ash: C++ kernel unavailable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); using eager ops (slower)")
        finally:
            ext_log.setLevel(level)
    return _cpp_module


def _cpu_flags() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return ""


def _cpp_forward(x, groups, alpha, z, a, eps):
    mod = _load_cpp()
    xc = x if x.dtype in (torch.float32, torch.float64) else x.float()
    y, mu, rstd = mod.ash_forward(xc, groups, float(alpha), float(z), 0.0 if a is None else float(a), float(eps))
    return y.to(x.dtype), mu, rstd


def _cpp_backward(gy, x, mu, rstd, alpha, z, a, detach_stats):
    mod = _load_cpp()
    xc = x if x.dtype in (torch.float32, torch.float64) else x.float()
    if gy.dtype != xc.dtype or gy.stride() != xc.stride():
        gy = torch.empty_like(xc).copy_(gy)
    gx, g_alpha, g_z, g_a = mod.ash_backward(gy, xc, mu, rstd, alpha, z, 0.0 if a is None else a, detach_stats)
    return gx.to(x.dtype), g_alpha, g_z, g_a


# ---------------------------------------------------------------------------------------------
# compile: the eager maths through torch.compile (Triton on CUDA, C++ codegen on CPU)
# ---------------------------------------------------------------------------------------------
def _compiled_fn(kind: str):
    global _compile_failed
    if kind not in _compiled:
        fn = eager_forward if kind == "forward" else eager_backward
        _compiled[kind] = torch.compile(fn, dynamic=True)
    return _compiled[kind]


def _compile_forward(x, groups, alpha, z, a, eps):
    return _compiled_fn("forward")(x, groups, alpha, z, a, eps)


def _compile_backward(gy, x, mu, rstd, alpha, z, a, detach_stats):
    return _compiled_fn("backward")(gy, x, mu, rstd, alpha, z, a, detach_stats)


def _compile_available(device: torch.device) -> bool:
    if _compile_failed:
        return False
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
    return True


def kernel_name(x: torch.Tensor) -> str:
    """Name of the kernel that the fused Function will use for x."""
    req = _requested()
    cpu_ok = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)
    if req == "eager":
        return "eager"
    if req == "cpp":
        if cpu_ok and _load_cpp() is not None:
            return "cpp"
        _warn_once("cpp-device", f"ash: ASH_KERNEL=cpp needs CPU tensors and a C++ compiler; using eager ops for {x.device.type}")
        return "eager"
    if req == "compile":
        return "compile" if _compile_available(x.device) else "eager"
    # auto
    if cpu_ok and _load_cpp() is not None:
        return "cpp"
    if x.device.type == "cuda" and _compile_available(x.device):
        return "compile"
    return "eager"


KERNELS = {
    "eager": (eager_forward, eager_backward),
    "cpp": (_cpp_forward, _cpp_backward),
    "compile": (_compile_forward, _compile_backward),
}


def get_kernel(x: torch.Tensor):
    """(name, forward, backward) of the kernel for x."""
    name = kernel_name(x)
    fwd, bwd = KERNELS[name]
    return name, fwd, bwd
