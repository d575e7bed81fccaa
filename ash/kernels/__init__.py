"""The kernels of the fused ASH Function, and the one place that chooses among them.

Kernels (one file each): ``cpp`` (C++/OpenMP, CPU), ``triton`` (hand-written Triton, CUDA; on CPU
only under Triton's interpreter, ``TRITON_INTERPRET=1``), ``compile`` (the eager maths through
``torch.compile``) and ``eager`` (plain PyTorch ops, always available). ``auto`` picks ``cpp`` on
CPU and ``compile`` on CUDA; ``triton`` is opt-in until ``make gpu-check`` has passed on a GPU.
``ASH_KERNEL=auto|cpp|triton|compile|eager`` or :func:`set_kernel` overrides the choice.

Nothing is built at import. A kernel that fails at first use (build, compile or launch) is marked
failed for the process, one RuntimeWarning says why, and that call and all later ones run eager.
"""

from __future__ import annotations

import importlib
import os
import warnings

import torch

from . import eager

__all__ = ["KERNELS", "set_kernel", "kernel_name", "forward", "backward", "failed_kernels"]

KERNELS = ("auto", "cpp", "triton", "compile", "eager")
_MODULES = {"cpp": "cpp", "triton": "triton_kernel", "compile": "compiled"}
_choice: str | None = None
_failed: set[str] = set()
_compile_failed = False  # kept in step with _failed for the compile kernel
_warned: set[str] = set()


def set_kernel(name: str | None) -> None:
    """Force the kernel: 'auto', 'cpp', 'triton', 'compile' or 'eager' (None: back to $ASH_KERNEL or 'auto')."""
    global _choice
    if name is not None and name not in KERNELS:
        raise ValueError(f"unknown ASH kernel {name!r}; choose one of {', '.join(KERNELS)}")
    _choice = name


def failed_kernels() -> set[str]:
    """Kernels that failed at first use in this process (they are no longer chosen)."""
    return set(_failed)


def _requested() -> str:
    name = _choice or os.environ.get("ASH_KERNEL", "auto").strip().lower() or "auto"
    if name not in KERNELS:
        raise ValueError(f"ASH_KERNEL={name!r} is not valid; set it to one of {', '.join(KERNELS)}")
    return name


def _module(name: str):
    return importlib.import_module(f".{_MODULES[name]}", __name__)


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def _usable(name: str, x: torch.Tensor) -> bool:
    return name not in _failed and _module(name).supports(x)


def kernel_name(x: torch.Tensor) -> str:
    """Name of the kernel that the fused Function will use for x."""
    req = _requested()
    if req == "eager":
        return "eager"
    if req == "auto":
        prefer = "cpp" if x.device.type == "cpu" else "compile" if x.device.type == "cuda" else None
        return prefer if prefer is not None and _usable(prefer, x) else "eager"
    if _usable(req, x):
        return req
    if req not in _failed:
        need = (_module(req).supports.__doc__ or "").rstrip(".")
        _warn_once(f"{req}-{x.device.type}", f"ash: ASH_KERNEL={req} does not run on {x.device.type} {x.dtype} "
                   f"tensors (it needs: {need}); using eager ops")
    return "eager"


def _fail(name: str, exc: BaseException) -> None:
    global _compile_failed
    _failed.add(name)
    if name == "compile":
        _compile_failed = True
    first = (str(exc).strip().splitlines() or [""])[0][:160]
    _warn_once(f"{name}-failed", f"ash: the {name} kernel failed at first use ({type(exc).__name__}: {first}); "
               "using eager ops from now on (slower, same results)")


def forward(x, stats, alpha, z, a, eps):
    """(kernel name, (y, x_saved, mu, rstd)) from the chosen kernel, or eager if it fails."""
    name = kernel_name(x)
    if name != "eager":
        try:
            return name, _module(name).forward(x, stats, alpha, z, a, eps)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:  # build, compile or launch failure: the job goes on eager
            _fail(name, exc)
    return "eager", eager.forward(x, stats, alpha, z, a, eps)


def backward(name, gy, x, mu, rstd, stats, alpha, z, a, detach_stats):
    """(gx, grad_alpha, grad_z, grad_a) from the kernel that ran the forward, or eager if it fails."""
    if name != "eager" and name not in _failed:
        try:
            return _module(name).backward(gy, x, mu, rstd, stats, alpha, z, a, detach_stats)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            _fail(name, exc)
    return eager.backward(gy, x, mu, rstd, stats, alpha, z, a, detach_stats)
