"""The eager kernel: the fused maths in plain PyTorch ops (always available; what ``compile`` traces).

Every kernel has this interface, for x viewed as G groups of M elements:
    forward(x, stats, alpha, z, a, eps)                  -> y, x_saved, mu[G], rstd[G]
    backward(gy, x_saved, mu, rstd, stats, alpha, z, a, detach) -> gx, grad_alpha, grad_z, grad_a
alpha, z (and a, or None for ASH) are 0-dim tensors; the gradients are exact, including the terms
through mu and sigma unless ``detach``.
"""

from __future__ import annotations

import torch

from .layout import dense_groups, restore_format, stat_groups

__all__ = ["forward", "backward", "forward_dense", "backward_dense"]


def forward_dense(x: torch.Tensor, groups: int, alpha, z, a, eps: float):
    """Forward on x viewed as (groups, -1); statistics in >= float32."""
    xf = x.reshape(groups, -1)
    if xf.dtype not in (torch.float32, torch.float64):
        xf = xf.float()
    mu = xf.mean(1, keepdim=True)
    var = (xf - mu).square().mean(1, keepdim=True)  # two-pass: stable
    rstd = torch.rsqrt(var + eps)
    s = torch.sigmoid((2 * alpha) * (xf - (mu + z / rstd)))
    y = xf * s if a is None else xf * (a + (1 - a) * s)
    return y.to(x.dtype).reshape(x.shape), mu.squeeze(1), rstd.squeeze(1)


def backward_dense(gy, x, mu, rstd, alpha, z, a, detach_stats: bool):
    """Exact backward on x viewed as (G, -1): gx and the gradients of alpha, z and a."""
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


def forward(x, stats, alpha, z, a, eps):
    """The kernel interface over :func:`forward_dense`."""
    xd = dense_groups(x, stats)
    y, mu, rstd = forward_dense(xd, stat_groups(x, stats), alpha, z, a, eps)
    return restore_format(y, x), xd, mu, rstd


def backward(gy, x, mu, rstd, stats, alpha, z, a, detach_stats):
    """The kernel interface over :func:`backward_dense`."""
    return backward_dense(gy.reshape(x.shape), x, mu, rstd, alpha, z, a, detach_stats)
