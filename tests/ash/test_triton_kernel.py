"""The hand-written Triton kernel against the naive reference, run on CPU by Triton's interpreter.

TRITON_INTERPRET=1 must hold when triton is first imported (tests/conftest.py sets it for the whole session,
since timm, Lightning and torch.compile import triton during collection) and when a kernel is chosen (ASH_KERNEL=triton accepts CPU tensors only in that mode). Sizes are small:
the interpreter runs every program in Python.
"""

import pytest
import torch

triton_kernel = pytest.importorskip("ash.kernels.triton_kernel")

import ash  # noqa: E402
from ash import functional as AF  # noqa: E402
from ash import kernels  # noqa: E402


@pytest.fixture(autouse=True)
def triton_on_cpu(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    kernels.set_kernel("triton")
    yield
    kernels.set_kernel(None)


def run_both(x, stats="sample", a=None, detach=False, z=0.4):
    """(fused values and grads, naive values and grads) for the same input, params and upstream grad."""
    out = []
    gy = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(x.dtype)
    for fn in (AF.lash if a is not None else AF.ash, AF.lash_naive if a is not None else AF.ash_naive):
        xi = x.detach().clone().requires_grad_()
        al, zt = torch.tensor(1.3, requires_grad=True), torch.tensor(z, requires_grad=True)
        ps = [al, zt] + ([torch.tensor(a, requires_grad=True)] if a is not None else [])
        y = fn(xi, *ps, stats=stats, detach_stats=detach)
        out.append((y, *torch.autograd.grad(y, [xi, *ps], gy)))
    return out


def assert_close(fused, naive, tol=2e-5):
    for f, n in zip(fused, naive):
        torch.testing.assert_close(f.float(), n.float(), atol=tol * max(1.0, float(n.detach().abs().max())), rtol=tol)


@pytest.mark.parametrize("shape,stats,a,detach", [
    ((3, 5, 7, 9), "sample", None, False),      # odd sizes
    ((3, 5, 7, 9), "channel", 0.1, False),      # L-ASH, per channel
    ((1, 3000), "sample", None, True),          # 1 sample, several chunks per group, detached stats
    ((2, 6, 33), "token", None, False),         # per position over the last dim
])
def test_matches_naive(shape, stats, a, detach):
    x = torch.randn(shape)
    fused, naive = run_both(x, stats, a, detach)
    assert_close(fused, naive)
    assert kernels.kernel_name(x) == "triton" and not kernels.failed_kernels()


@pytest.mark.parametrize("stats", ["sample", "channel"])
def test_channels_last_read_in_place(stats):
    x = torch.randn(2, 6, 5, 7).to(memory_format=torch.channels_last)
    y, x_saved, mu, rstd = triton_kernel.forward(x, stats, torch.tensor(1.0), torch.tensor(0.3), None, 1e-5)
    assert x_saved.data_ptr() == x.data_ptr()  # no copy
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert mu.shape == rstd.shape == (2 if stats == "sample" else 12,) and mu.dtype == torch.float32
    fused, naive = run_both(x, stats, a=0.2)
    assert_close(fused, naive)


def test_constant_maps_and_bf16():
    x = torch.zeros(2, 3, 4, 4)
    x[1] = 2.5  # constant: sigma = sqrt(eps), theta = mu + z sqrt(eps)
    fused, naive = run_both(x, "sample")
    assert_close(fused, naive)
    assert torch.isfinite(torch.stack([g.float().sum() for g in fused[1:]])).all()
    xb = torch.randn(2, 4, 8, 8).bfloat16()
    fused, naive = run_both(xb, "channel")
    assert fused[0].dtype == torch.bfloat16
    assert_close(fused[:1], naive[:1], tol=1e-2)  # same float32 maths, one bf16 rounding of the output


def test_token_mode_is_causal():
    x = torch.randn(2, 8, 16)
    x2 = x.clone()
    x2[:, 5:] += torch.randn(2, 3, 16)
    y, y2 = AF.ash(x, stats="token"), AF.ash(x2, stats="token")
    assert torch.equal(y[:, :5], y2[:, :5]) and not torch.allclose(y[:, 5:], y2[:, 5:])


def test_module_in_a_model_trains():
    layer = ash.LASH(stats="channel")
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    layer(x).square().sum().backward()
    assert layer.alpha.grad is not None and layer.log_a.grad is not None and x.grad.shape == x.shape
