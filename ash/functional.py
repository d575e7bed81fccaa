"""ASH and L-ASH as functions: the naive reference, the threshold, and the fused autograd Function.

    theta = mu + z * sigma,  mu, sigma = mean and sqrt(population var + eps) of each group
    ASH(x)  = x * sigmoid(2 alpha (x - theta))                 (appendix eq. A4)
    L-ASH(x) = s x + a (1 - s) x,  s = sigmoid(2 alpha (x - theta))   (eq. A8)
    hard:  x * H(x - theta)                                     (eq. A2, alpha -> infinity)

Groups (``stats``): ``"sample"``, all non-batch elements of a sample; ``"channel"``, each (sample,
channel), channel = dim 1; ``"token"``, each position over the last dim (like LayerNorm), the mode for
sequence models, where "sample" statistics let the output at token t depend on the tokens after t.
"""

from __future__ import annotations

import torch

from . import kernels
from .kernels.layout import STATS_MODES, check_stats, stat_dims, stat_groups

__all__ = ["ash", "lash", "ash_naive", "lash_naive", "ash_hard", "threshold", "stat_groups", "STATS_MODES"]


def threshold(x: torch.Tensor, z, stats: str = "sample", eps: float = 1e-5, detach_stats: bool = False) -> torch.Tensor:
    """theta = mu + z sigma per statistics group, shaped to broadcast against x (in x's dtype or float32)."""
    var, mu = torch.var_mean(x, stat_dims(x, stats), correction=0, keepdim=True)
    sigma = torch.sqrt(var + eps)
    if detach_stats:
        mu, sigma = mu.detach(), sigma.detach()
    return mu + z * sigma


def _wide(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# ---------------------------------------------------------------------------------------------
# naive reference: plain autograd ops (the test oracle; saves several copies of x for backward)
# ---------------------------------------------------------------------------------------------
def ash_naive(x: torch.Tensor, alpha=1.0, z=0.0, *, stats: str = "sample", detach_stats: bool = False,
              hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Reference ASH in plain autograd ops: x * sigmoid(2 alpha (x - mu - z sigma))."""
    xf = _wide(x)
    theta = threshold(xf, z, stats, eps, detach_stats)
    s = (xf > theta).to(xf.dtype) if hard else torch.sigmoid(2 * alpha * (xf - theta))
    return (xf * s).to(x.dtype)


def lash_naive(x: torch.Tensor, alpha=1.0, z=0.0, a=0.01, *, stats: str = "sample",
               detach_stats: bool = False, hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Reference L-ASH in plain autograd ops: s x + a (1 - s) x."""
    xf = _wide(x)
    theta = threshold(xf, z, stats, eps, detach_stats)
    s = (xf > theta).to(xf.dtype) if hard else torch.sigmoid(2 * alpha * (xf - theta))
    return (s * xf + a * (1 - s) * xf).to(x.dtype)


def ash_hard(x: torch.Tensor, z=0.0, a=None, *, stats: str = "sample", eps: float = 1e-5) -> torch.Tensor:
    """Hard ASH (eq. A2), x * H(x - theta), or its L-ASH form with a; gradients reach x only."""
    with torch.no_grad():
        xf = _wide(x)
        mask = xf > threshold(xf, z, stats, eps, True)
    keep = mask.to(x.dtype)
    if a is None:
        return x * keep
    return x * (keep + a * (1 - keep))


# ---------------------------------------------------------------------------------------------
# fused: saves x plus mu and rstd per group; the exact analytic backward (ash/kernels)
# ---------------------------------------------------------------------------------------------
class _FusedASH(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, z, a, stats, detach_stats, eps):
        if torch.compiler.is_compiling():
            name, (y, xs, mu, rstd) = "eager", kernels.eager.forward(x, stats, alpha, z, a, eps)
        else:
            name, (y, xs, mu, rstd) = kernels.forward(x, stats, alpha, z, a, eps)
        ctx.save_for_backward(xs, mu, rstd, alpha, z, a)
        ctx.kernel, ctx.stats, ctx.detach_stats = name, stats, detach_stats
        return y

    @staticmethod
    def backward(ctx, gy):
        x, mu, rstd, alpha, z, a = ctx.saved_tensors
        gx, g_alpha, g_z, g_a = kernels.backward(ctx.kernel, gy, x, mu, rstd, ctx.stats, alpha, z, a,
                                                 ctx.detach_stats)
        need = ctx.needs_input_grad
        return (gx if need[0] else None,
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
    check_stats(x, stats)
    if hard:
        return ash_hard(x, z, stats=stats, eps=eps)
    return _FusedASH.apply(x, _as_param(alpha, x), _as_param(z, x), None, stats, detach_stats, eps)


def lash(x: torch.Tensor, alpha=1.0, z=0.0, a=0.01, *, stats: str = "sample", detach_stats: bool = False,
         hard: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Fused L-ASH, s x + a (1 - s) x with s = sigmoid(2 alpha (x - mu - z sigma))."""
    check_stats(x, stats)
    if hard:
        return ash_hard(x, z, a, stats=stats, eps=eps)
    return _FusedASH.apply(x, _as_param(alpha, x), _as_param(z, x), _as_param(a, x), stats, detach_stats, eps)
