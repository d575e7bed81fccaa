"""The triton kernel: hand-written Triton for CUDA (and CPU tensors under ``TRITON_INTERPRET=1``).

x is G groups of M elements, read in place through (outer, inner, element) strides, so contiguous
and channels_last inputs need no copy. Each group is split into S chunks so that a few large samples
still fill the GPU (a split reduction, as in Triton's layer-norm tutorial):
    forward : stats partials (count, mean, M2 per chunk, Chan's combine)  ->  y (each program combines
              its group's partials; chunk 0 stores mu and rstd, the only tensors saved besides x)
    backward: sums per chunk (U = sum dL/du, sum dL/du * d, sum gy x (1 - s))  ->  gx, with the terms
              through mu and sigma, plus per-group parts of the gradients of alpha, z and a.
Statistics and arithmetic are in float32 for every input dtype.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from .layout import stat_groups

__all__ = ["forward", "backward", "supports"]

_MAX_CHUNKS = 1024
_sm_count: dict[int, int] = {}


def supports(x: torch.Tensor) -> bool:
    """float32/float16/bfloat16 CUDA tensors, or CPU tensors under TRITON_INTERPRET=1."""
    on_device = x.device.type == "cuda" or (x.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1")
    return on_device and x.dtype in (torch.float32, torch.float16, torch.bfloat16)


@triton.jit
def _group_base(g, n_inner, s_outer, s_inner):
    """Offset of group g's first element: (outer index, inner index) = divmod(g, n_inner)."""
    return (g // n_inner).to(tl.int64) * s_outer + (g % n_inner).to(tl.int64) * s_inner


@triton.jit
def _slopes(a_ptr, HAS_A: tl.constexpr):
    """(A, B) of y = x (A + B s): (0, 1) for ASH, (a, 1 - a) for L-ASH."""
    if HAS_A:
        A = tl.load(a_ptr).to(tl.float32)
    else:
        A = tl.zeros((), tl.float32)
    return A, 1.0 - A


@triton.jit
def _stats_kernel(x_ptr, part_ptr, M, n_inner, s_outer, s_inner, s_m, S, TILES, BLOCK: tl.constexpr):
    g = tl.program_id(0)
    c = tl.program_id(1)
    base = _group_base(g, n_inner, s_outer, s_inner)
    cnt = tl.zeros((), tl.float32)
    mean = tl.zeros((), tl.float32)
    m2 = tl.zeros((), tl.float32)
    for t in range(0, TILES):
        idx = (c * TILES + t) * BLOCK + tl.arange(0, BLOCK)
        mask = idx < M
        v = tl.load(x_ptr + base + idx.to(tl.int64) * s_m, mask=mask, other=0.0).to(tl.float32)
        n_t = tl.sum(mask.to(tl.float32), 0)
        mean_t = tl.sum(v, 0) / tl.maximum(n_t, 1.0)
        d = tl.where(mask, v - mean_t, 0.0)
        n_new = cnt + n_t
        delta = mean_t - mean
        w = n_t / tl.maximum(n_new, 1.0)
        mean = mean + delta * w
        m2 = m2 + tl.sum(d * d, 0) + delta * delta * cnt * w
        cnt = n_new
    out = part_ptr + (g * S + c) * 3
    tl.store(out, cnt)
    tl.store(out + 1, mean)
    tl.store(out + 2, m2)


@triton.jit
def _forward_kernel(x_ptr, y_ptr, part_ptr, mu_ptr, rstd_ptr, alpha_ptr, z_ptr, a_ptr, M, n_inner, s_outer,
                    s_inner, s_m, S, TILES, eps, HAS_A: tl.constexpr, BLOCK: tl.constexpr, SP: tl.constexpr):
    g = tl.program_id(0)
    c = tl.program_id(1)
    base = _group_base(g, n_inner, s_outer, s_inner)
    j = tl.arange(0, SP)
    jm = j < S
    p = part_ptr + (g * S + j) * 3
    n = tl.load(p, mask=jm, other=0.0)
    means = tl.load(p + 1, mask=jm, other=0.0)
    m2 = tl.load(p + 2, mask=jm, other=0.0)
    total = tl.sum(n, 0)
    mu = tl.sum(n * means, 0) / total
    dm = tl.where(jm, means - mu, 0.0)
    var = (tl.sum(m2, 0) + tl.sum(n * dm * dm, 0)) / total
    rstd = 1.0 / tl.sqrt(var + eps)
    if c == 0:
        tl.store(mu_ptr + g, mu)
        tl.store(rstd_ptr + g, rstd)
    alpha = tl.load(alpha_ptr).to(tl.float32)
    th = mu + tl.load(z_ptr).to(tl.float32) / rstd
    A, B = _slopes(a_ptr, HAS_A)
    for t in range(0, TILES):
        idx = (c * TILES + t) * BLOCK + tl.arange(0, BLOCK)
        mask = idx < M
        off = base + idx.to(tl.int64) * s_m
        v = tl.load(x_ptr + off, mask=mask, other=0.0).to(tl.float32)
        s = tl.sigmoid(2.0 * alpha * (v - th))
        tl.store(y_ptr + off, (v * (A + B * s)).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _backward_sums_kernel(x_ptr, gy_ptr, mu_ptr, rstd_ptr, alpha_ptr, z_ptr, a_ptr, part_ptr, M, n_inner, s_outer,
                          s_inner, s_m, S, TILES, HAS_A: tl.constexpr, BLOCK: tl.constexpr):
    g = tl.program_id(0)
    c = tl.program_id(1)
    base = _group_base(g, n_inner, s_outer, s_inner)
    alpha = tl.load(alpha_ptr).to(tl.float32)
    th = tl.load(mu_ptr + g) + tl.load(z_ptr).to(tl.float32) / tl.load(rstd_ptr + g)
    A, B = _slopes(a_ptr, HAS_A)
    u = tl.zeros((BLOCK,), tl.float32)
    ud = tl.zeros((BLOCK,), tl.float32)
    ua = tl.zeros((BLOCK,), tl.float32)
    for t in range(0, TILES):
        idx = (c * TILES + t) * BLOCK + tl.arange(0, BLOCK)
        mask = idx < M
        off = base + idx.to(tl.int64) * s_m
        v = tl.load(x_ptr + off, mask=mask, other=0.0).to(tl.float32)
        gv = tl.load(gy_ptr + off, mask=mask, other=0.0).to(tl.float32)
        d = v - th
        s = tl.sigmoid(2.0 * alpha * d)
        gxs = gv * v
        gu = gxs * B * s * (1.0 - s)  # dL/du, u = 2 alpha (x - theta)
        u += gu
        ud += gu * d
        ua += gxs * (1.0 - s)
    out = part_ptr + (g * S + c) * 3
    tl.store(out, tl.sum(u, 0))
    tl.store(out + 1, tl.sum(ud, 0))
    tl.store(out + 2, tl.sum(ua, 0))


@triton.jit
def _backward_kernel(x_ptr, gy_ptr, gx_ptr, mu_ptr, rstd_ptr, alpha_ptr, z_ptr, a_ptr, part_ptr, gpar_ptr, M,
                     n_inner, s_outer, s_inner, s_m, S, TILES, HAS_A: tl.constexpr, DETACH: tl.constexpr,
                     BLOCK: tl.constexpr, SP: tl.constexpr):
    g = tl.program_id(0)
    c = tl.program_id(1)
    base = _group_base(g, n_inner, s_outer, s_inner)
    j = tl.arange(0, SP)
    jm = j < S
    p = part_ptr + (g * S + j) * 3
    U = tl.sum(tl.load(p, mask=jm, other=0.0), 0)
    alpha = tl.load(alpha_ptr).to(tl.float32)
    z = tl.load(z_ptr).to(tl.float32)
    mu = tl.load(mu_ptr + g)
    rstd = tl.load(rstd_ptr + g)
    if c == 0:  # this group's parts of the gradients of alpha, z and a
        tl.store(gpar_ptr + g * 3, 2.0 * tl.sum(tl.load(p + 1, mask=jm, other=0.0), 0))
        tl.store(gpar_ptr + g * 3 + 1, -2.0 * alpha * U / rstd)
        tl.store(gpar_ptr + g * 3 + 2, tl.sum(tl.load(p + 2, mask=jm, other=0.0), 0))
    th = mu + z / rstd
    A, B = _slopes(a_ptr, HAS_A)
    # dL/dtheta = -2 alpha U spreads over x through mu (1/M) and sigma ((x - mu) rstd / M)
    k = -2.0 * alpha * U / M
    for t in range(0, TILES):
        idx = (c * TILES + t) * BLOCK + tl.arange(0, BLOCK)
        mask = idx < M
        off = base + idx.to(tl.int64) * s_m
        v = tl.load(x_ptr + off, mask=mask, other=0.0).to(tl.float32)
        gv = tl.load(gy_ptr + off, mask=mask, other=0.0).to(tl.float32)
        s = tl.sigmoid(2.0 * alpha * (v - th))
        gx = gv * (A + B * s) + 2.0 * alpha * (gv * v * B * s * (1.0 - s))
        if not DETACH:
            gx += k * (1.0 + z * (v - mu) * rstd)
        tl.store(gx_ptr + off, gx.to(gx_ptr.dtype.element_ty), mask=mask)


def _strides(x: torch.Tensor, stats: str):
    """(x readable in place, G, M, n_inner, s_outer, s_inner, s_m) for the kernels' addressing."""
    if stats == "channel" and x.dim() in (4, 5) and not x.is_contiguous():
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        if x.is_contiguous(memory_format=fmt):  # channel c of sample n: every C-th element
            return x, x.shape[0] * x.shape[1], x[0, 0].numel(), x.shape[1], x.stride(0), 1, x.shape[1]
    if stats == "sample" and x.dim() in (4, 5) and not x.is_contiguous():
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        if x.is_contiguous(memory_format=fmt):  # a sample is still one block
            return x, x.shape[0], x[0].numel(), 1, x.stride(0), 0, 1
    x = x.contiguous()
    G = stat_groups(x, stats)
    M = x.numel() // max(G, 1)
    if stats == "channel":
        return x, G, M, x.shape[1], x.stride(0), M, 1
    return x, G, M, 1, M, 0, 1


def _plan(G: int, M: int, device: torch.device) -> tuple[int, int, int, int]:
    """(BLOCK, TILES per chunk, S chunks per group, SP = S rounded up to a power of 2)."""
    block = min(1024, max(16, triton.next_power_of_2(M)))
    tiles_total = triton.cdiv(M, block)
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        if idx not in _sm_count:
            _sm_count[idx] = torch.cuda.get_device_properties(idx).multi_processor_count
        target = 4 * _sm_count[idx]
    else:  # the interpreter runs programs one after another: few, but still more than one per group
        target = 2 * G
    chunks = max(1, min(tiles_total, triton.cdiv(target, G), _MAX_CHUNKS))
    tiles = triton.cdiv(tiles_total, chunks)
    chunks = triton.cdiv(tiles_total, tiles)
    return block, tiles, chunks, triton.next_power_of_2(chunks)


def forward(x, stats, alpha, z, a, eps):
    """Kernel interface (see ash.kernels.eager); x is saved as given, without a copy."""
    x, G, M, n_inner, s_outer, s_inner, s_m = _strides(x, stats)
    block, tiles, S, SP = _plan(G, M, x.device)
    f32 = dict(device=x.device, dtype=torch.float32)
    part = torch.empty(G * S * 3, **f32)
    mu, rstd = torch.empty(G, **f32), torch.empty(G, **f32)
    y = torch.empty_like(x)
    _stats_kernel[(G, S)](x, part, M, n_inner, s_outer, s_inner, s_m, S, tiles, BLOCK=block)
    _forward_kernel[(G, S)](x, y, part, mu, rstd, alpha, z, alpha if a is None else a, M, n_inner, s_outer, s_inner,
                            s_m, S, tiles, eps, HAS_A=a is not None, BLOCK=block, SP=SP)
    return y, x, mu, rstd


def backward(gy, x, mu, rstd, stats, alpha, z, a, detach_stats):
    """Kernel interface (see ash.kernels.eager)."""
    x, G, M, n_inner, s_outer, s_inner, s_m = _strides(x, stats)
    if gy.stride() != x.stride() or gy.shape != x.shape:
        gy = torch.empty_like(x).copy_(gy.reshape(x.shape))
    block, tiles, S, SP = _plan(G, M, x.device)
    part = torch.empty(G * S * 3, device=x.device, dtype=torch.float32)
    gpar = torch.empty(G, 3, device=x.device, dtype=torch.float32)
    gx = torch.empty_like(x)
    a_ptr = alpha if a is None else a
    _backward_sums_kernel[(G, S)](x, gy, mu, rstd, alpha, z, a_ptr, part, M, n_inner, s_outer, s_inner, s_m, S, tiles,
                                  HAS_A=a is not None, BLOCK=block)
    _backward_kernel[(G, S)](x, gy, gx, mu, rstd, alpha, z, a_ptr, part, gpar, M, n_inner, s_outer, s_inner, s_m, S,
                             tiles, HAS_A=a is not None, DETACH=bool(detach_stats), BLOCK=block, SP=SP)
    g_alpha, g_z, g_a = gpar.sum(0).unbind()
    return gx, g_alpha, g_z, g_a
