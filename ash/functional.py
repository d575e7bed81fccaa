"""ASH and L-ASH as functions: the naive reference and the fused autograd Function.

    theta = mu + z * sigma,  mu, sigma = mean and sqrt(population var + eps) of each sample
    ASH(x)  = x * sigmoid(2 alpha (x - theta))                 (appendix eq. A4)
    L-ASH(x) = s x + a (1 - s) x,  s = sigmoid(2 alpha (x - theta))   (eq. A8)
    hard:  x * H(x - theta)                                     (eq. A2, alpha -> infinity)

``stats="sample"`` takes mu and sigma over all non-batch elements of a sample,
``stats="channel"`` over the elements of each (sample, channel), channel = dim 1.
"""

from __future__ import annotations

import torch

from . import kernels

__all__ = ["ash", "lash", "ash_naive", "lash_naive", "ash_hard", "stat_groups", "STATS_MODES"]

STATS_MODES = ("sample", "channel")


def _check_stats(x: torch.Tensor, stats: str) -> None:
    if stats not in STATS_MODES:
        raise ValueError(f"stats={stats!r} is not valid; use stats='sample' or stats='channel'")
    need = 2 if stats == "sample" else 3
    if x.dim() < need:
        raise ValueError(
            f"stats={stats!r} needs an input with at least {need} dims (batch first"
            f"{', channel second' if need == 3 else ''}), got shape {tuple(x.shape)}"
            + ("; use stats='sample'" if stats == "channel" else "")
        )


def stat_groups(x: torch.Tensor, stats: str) -> int:
    """Number of groups that get their own mu and sigma: N (sample) or N*C (channel)."""
    _check_stats(x, stats)
    return x.shape[0] * (x.shape[1] if stats == "channel" else 1)


def _stat_dims(x: torch.Tensor, stats: str) -> tuple[int, ...]:
    _check_stats(x, stats)
    return tuple(range(1 if stats == "sample" else 2, x.dim()))


# ---------------------------------------------------------------------------------------------
# naive reference: plain autograd ops (the test oracle; saves several copies of x for backward)
# ---------------------------------------------------------------------------------------------
def _naive_theta(x, z, stats, detach_stats, eps):
    dims = _stat_dims(x, stats)
    var, mu = torch.var_mean(x, dims, correction=0, keepdim=True)
    sigma = torch.sqrt(var + eps)
    if detach_stats:
        mu, sigma = mu.detach(), sigma.detach()
    return mu + z * sigma


def ash_naive(x: torch.Tensor, alpha=1.0, z=0.0, *, stats: str = "sample", detach_stats: bool = False,
              hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Reference ASH in plain autograd ops: x * sigmoid(2 alpha (x - mu - z sigma))."""
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    theta = _naive_theta(xf, z, stats, detach_stats, eps)
    s = (xf > theta).to(xf.dtype) if hard else torch.sigmoid(2 * alpha * (xf - theta))
    return (xf * s).to(x.dtype)


def lash_naive(x: torch.Tensor, alpha=1.0, z=0.0, a=0.01, *, stats: str = "sample",
               detach_stats: bool = False, hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Reference L-ASH in plain autograd ops: s x + a (1 - s) x."""
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    theta = _naive_theta(xf, z, stats, detach_stats, eps)
    s = (xf > theta).to(xf.dtype) if hard else torch.sigmoid(2 * alpha * (xf - theta))
    return (s * xf + a * (1 - s) * xf).to(x.dtype)


def ash_hard(x: torch.Tensor, z=0.0, a=None, *, stats: str = "sample", eps: float = 1e-5) -> torch.Tensor:
    """Hard ASH (eq. A2), x * H(x - theta), or its L-ASH form with a; gradients reach x only."""
    with torch.no_grad():
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        mask = xf > _naive_theta(xf, z, stats, True, eps)
    keep = mask.to(x.dtype)
    if a is None:
        return x * keep
    return x * (keep + a * (1 - keep))


# ---------------------------------------------------------------------------------------------
# fused: saves x plus mu and rstd per group; the exact analytic backward
# ---------------------------------------------------------------------------------------------
def _dense_groups(x: torch.Tensor, stats: str) -> torch.Tensor:
    """x laid out so that each statistics group is one contiguous block of memory."""
    if x.is_contiguous():
        return x
    if stats == "sample" and x.dim() in (4, 5):
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        if x.is_contiguous(memory_format=fmt):  # a sample is still one block
            return x
    return x.contiguous()


class _FusedASH(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, z, a, stats, detach_stats, eps):
        groups = stat_groups(x, stats)
        if torch.compiler.is_compiling():
            name, fwd = "eager", kernels.eager_forward
        else:
            name, fwd, _ = kernels.get_kernel(x)
        xd = _dense_groups(x, stats)
        if name == "cpp":  # the C++ kernel takes Python floats
            y, mu, rstd = fwd(xd, groups, alpha.item(), z.item(), None if a is None else a.item(), eps)
        else:
            y, mu, rstd = fwd(xd, groups, alpha, z, a, eps)
        if xd is not x and x.dim() in (4, 5):  # hand back the caller's memory format
            y = y.contiguous(memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)
        ctx.save_for_backward(xd, mu, rstd, alpha, z, a)
        ctx.kernel, ctx.detach_stats = name, detach_stats
        return y

    @staticmethod
    def backward(ctx, gy):
        x, mu, rstd, alpha, z, a = ctx.saved_tensors
        bwd = kernels.KERNELS[ctx.kernel][1]
        if ctx.kernel == "cpp":
            scalars = (alpha.item(), z.item(), None if a is None else a.item())
        else:
            scalars, gy = (alpha, z, a), gy.reshape(x.shape)
        gx, g_alpha, g_z, g_a = bwd(gy, x, mu, rstd, *scalars, ctx.detach_stats)
        need = ctx.needs_input_grad
        return (gx.reshape(gy.shape) if need[0] else None,
                g_alpha.to(alpha.dtype) if need[1] else None,
                g_z.to(z.dtype) if need[2] else None,
                g_a.to(a.dtype) if a is not None and need[3] else None,
                None, None, None)


def _as_param(v, ref: torch.Tensor) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v
    dtype = ref.dtype if ref.dtype == torch.float64 else torch.float32
    return torch.tensor(float(v), dtype=dtype, device=ref.device)


def ash(x: torch.Tensor, alpha=1.0, z=0.0, *, stats: str = "sample", detach_stats: bool = False,
        hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Fused ASH, x * sigmoid(2 alpha (x - mu - z sigma)); saves only x and 2 floats per group."""
    if hard:
        return ash_hard(x, z, stats=stats, eps=eps)
    return _FusedASH.apply(x, _as_param(alpha, x), _as_param(z, x), None, stats, detach_stats, eps)


def lash(x: torch.Tensor, alpha=1.0, z=0.0, a=0.01, *, stats: str = "sample", detach_stats: bool = False,
         hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Fused L-ASH, s x + a (1 - s) x with s = sigmoid(2 alpha (x - mu - z sigma))."""
    if hard:
        return ash_hard(x, z, a, stats=stats, eps=eps)
    return _FusedASH.apply(x, _as_param(alpha, x), _as_param(z, x), _as_param(a, x), stats, detach_stats, eps)
