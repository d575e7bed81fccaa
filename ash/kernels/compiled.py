"""The compile kernel: the eager maths through ``torch.compile`` (Inductor: Triton on CUDA, C++ on CPU).

Compiled lazily on first use, once per function (``dynamic=True``); a compile error surfaces at
that first call, where the selector falls back to eager.
"""

from __future__ import annotations

import torch

from . import eager
from .layout import dense_groups, restore_format, stat_groups

__all__ = ["forward", "backward", "supports"]

_compiled: dict[str, object] = {}


def supports(x: torch.Tensor) -> bool:
    """CUDA tensors need triton for Inductor; CPU tensors need a C++ compiler (found at first use)."""
    if x.device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
    return True


def _fn(kind: str):
    if kind not in _compiled:
        _compiled[kind] = torch.compile(eager.forward_dense if kind == "forward" else eager.backward_dense,
                                        dynamic=True)
    return _compiled[kind]


def forward(x, stats, alpha, z, a, eps):
    """Kernel interface (see ash.kernels.eager)."""
    xd = dense_groups(x, stats)
    y, mu, rstd = _fn("forward")(xd, stat_groups(x, stats), alpha, z, a, eps)
    return restore_format(y, x), xd, mu, rstd


def backward(gy, x, mu, rstd, stats, alpha, z, a, detach_stats):
    """Kernel interface (see ash.kernels.eager)."""
    return _fn("backward")(gy.reshape(x.shape), x, mu, rstd, alpha, z, a, detach_stats)
