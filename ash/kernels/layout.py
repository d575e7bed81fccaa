"""How a tensor splits into statistics groups for each ``stats`` mode, and the dense view kernels read."""

from __future__ import annotations

import torch

__all__ = ["STATS_MODES", "check_stats", "stat_groups", "stat_dims", "dense_groups", "restore_format"]

STATS_MODES = ("sample", "channel", "token")
_MIN_DIMS = {"sample": 2, "channel": 3, "token": 2}
_NEEDS = {"sample": "batch first", "channel": "batch first, channel second", "token": "batch first, features last"}


def check_stats(x: torch.Tensor, stats: str) -> None:
    """Raise a ValueError naming the fix if ``stats`` is unknown or x has too few dims for it."""
    need = _MIN_DIMS.get(stats)
    if need is None:
        raise ValueError(f"stats={stats!r} is not valid; use stats='sample', 'channel' or 'token'")
    if x.dim() < need:
        raise ValueError(f"stats={stats!r} needs an input with at least {need} dims ({_NEEDS[stats]}), got shape "
                         f"{tuple(x.shape)}" + ("; use stats='sample'" if stats == "channel" else ""))


def stat_groups(x: torch.Tensor, stats: str) -> int:
    """Number of groups with their own mu and sigma: N (sample), N*C (channel) or numel/D (token)."""
    if stats == "sample":
        return x.shape[0]
    if stats == "channel":
        return x.shape[0] * x.shape[1]
    return x.numel() // max(x.shape[-1], 1)


def stat_dims(x: torch.Tensor, stats: str) -> tuple[int, ...]:
    """The dims that one group's statistics reduce over."""
    check_stats(x, stats)
    if stats == "token":
        return (x.dim() - 1,)
    return tuple(range(1 if stats == "sample" else 2, x.dim()))


def _cl_format(x: torch.Tensor):
    return torch.channels_last if x.dim() == 4 else torch.channels_last_3d


def dense_groups(x: torch.Tensor, stats: str) -> torch.Tensor:
    """x laid out so that each statistics group is one contiguous block (no copy when it already is)."""
    if x.is_contiguous():
        return x
    if stats == "sample" and x.dim() in (4, 5) and x.is_contiguous(memory_format=_cl_format(x)):
        return x  # a sample is still one block
    return x.contiguous()


def restore_format(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y (computed on a dense copy of x) in x's channels_last format, if x had it."""
    if x.dim() in (4, 5) and not x.is_contiguous():
        fmt = _cl_format(x)
        if x.is_contiguous(memory_format=fmt) and not y.is_contiguous(memory_format=fmt):
            return y.contiguous(memory_format=fmt)
    return y
