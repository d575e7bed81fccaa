"""The fused Function against the equations, the naive reference and finite differences."""

import pytest
import torch

import ash
from ash import functional as AF
from ash import kernels

torch.manual_seed(0)
KERNELS = ["eager", "cpp"]


@pytest.fixture(params=KERNELS)
def kernel(request):
    kernels.set_kernel(request.param)
    yield request.param
    kernels.set_kernel(None)


def independent_ash(x, alpha, z, a=None, stats="sample", eps=1e-5, hard=False):
    """Eq. A3 / A8 computed per group with numpy-free float64 loops over groups."""
    x64 = x.double()
    y = torch.empty_like(x64)
    groups = x64.reshape(x.shape[0], -1) if stats == "sample" else x64.reshape(x.shape[0] * x.shape[1], -1)
    out = y.view_as(groups)
    for i, g in enumerate(groups):
        mu = g.sum() / g.numel()
        sigma = (((g - mu) ** 2).sum() / g.numel() + eps).sqrt()
        theta = mu + z * sigma
        s = (g > theta).double() if hard else 0.5 + 0.5 * torch.tanh(alpha * (g - theta))  # A3
        out[i] = g * s if a is None else s * g + a * (1 - s) * g
    return y


@pytest.mark.parametrize("stats", ["sample", "channel"])
@pytest.mark.parametrize("lash", [False, True])
def test_fused_matches_equations(kernel, stats, lash):
    x = torch.randn(3, 4, 5, 6)
    a = 0.2 if lash else None
    y = AF.lash(x, 1.7, 0.4, a, stats=stats) if lash else AF.ash(x, 1.7, 0.4, stats=stats)
    torch.testing.assert_close(y.double(), independent_ash(x, 1.7, 0.4, a, stats), atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("stats", ["sample", "channel"])
def test_naive_matches_equations(stats):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(ash.ash_naive(x, 0.7, -0.3, stats=stats), independent_ash(x, 0.7, -0.3, None, stats))
    torch.testing.assert_close(ash.lash_naive(x, 0.7, -0.3, 0.1, stats=stats), independent_ash(x, 0.7, -0.3, 0.1, stats))


def test_a3_equals_a4():
    x = torch.randn(1000, dtype=torch.float64)
    t = 0.3
    torch.testing.assert_close(x * torch.sigmoid(2 * 1.3 * (x - t)), 0.5 * x + 0.5 * x * torch.tanh(1.3 * (x - t)))


@pytest.mark.parametrize("stats", ["sample", "channel"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("lash", [False, True])
def test_gradcheck_fused(kernel, stats, detach, lash):
    # detach_stats changes the gradient, not the function: finite differences then check z, alpha, a
    # only, and the x-gradient is compared with the naive reference below.
    x = torch.randn(2, 3, 3, 2, dtype=torch.float64, requires_grad=not detach)
    alpha = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    z = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    if lash:
        f = lambda x, al, z, a: AF.lash(x, al, z, a, stats=stats, detach_stats=detach)  # noqa: E731
        assert torch.autograd.gradcheck(f, (x, alpha, z, a))
    else:
        f = lambda x, al, z: AF.ash(x, al, z, stats=stats, detach_stats=detach)  # noqa: E731
        assert torch.autograd.gradcheck(f, (x, alpha, z))


@pytest.mark.parametrize("stats", ["sample", "channel"])
def test_detached_x_gradient_float64(kernel, stats):
    x = torch.randn(2, 3, 3, 2, dtype=torch.float64)
    w = torch.randn_like(x)
    grads = []
    for fn in (AF.lash, ash.lash_naive):
        xi = x.clone().requires_grad_()
        (fn(xi, 1.3, 0.4, 0.2, stats=stats, detach_stats=True) * w).sum().backward()
        grads.append(xi.grad)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("stats", ["sample", "channel"])
@pytest.mark.parametrize("detach", [False, True])
def test_gradcheck_naive(stats, detach):
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=not detach)
    p = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.1, -0.5, 0.3)]
    f = lambda x, al, z, a: ash.lash_naive(x, al, z, a, stats=stats, detach_stats=detach)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, *p))


@pytest.mark.parametrize("stats", ["sample", "channel"])
@pytest.mark.parametrize("detach", [False, True])
def test_fused_grads_match_naive_float32(kernel, stats, detach):
    x = torch.randn(4, 8, 6, 6) * 3 + 1
    grads = []
    for fn in (AF.lash, ash.lash_naive):
        xi = x.clone().requires_grad_()
        p = [torch.tensor(v, requires_grad=True) for v in (0.9, 0.6, 0.05)]
        y = fn(xi, *p, stats=stats, detach_stats=detach)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        grads.append([xi.grad] + [q.grad for q in p])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2, atol=1e-4, rtol=1e-4)


def test_hard_fash10_keeps_ten_percent():
    x = torch.randn(16, 64, 32, 32)
    m = ash.FASH(10, hard=True)
    kept = (m(x) != 0).float().mean().item()
    assert abs(kept - 0.10) < 0.01


def test_sign_convention_keeps_the_top():
    x = torch.randn(4, 1000)
    y = ash.FASH(10, hard=True)(x)
    assert (y[y != 0] > 1.0).all()  # the kept 10 % lie above z = 1.28 sigma


def test_large_alpha_approaches_hard(kernel):
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    hard = AF.ash(x, 1.0, 1.0, hard=True)
    errs = [(AF.ash(x, al, 1.0) - hard).abs().max().item() for al in (1.0, 10.0, 1000.0)]
    assert errs[0] > errs[1] > errs[2]
    assert (AF.ash(x, 1e6, 1.0) - hard).abs().mean().item() < 1e-6


def test_fash50_zero_mean_is_swish(kernel):
    x = torch.randn(3, 4, 5, 5)
    x = x - x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(ash.FASH(50, alpha=1.5)(x), x * torch.sigmoid(2 * 1.5 * x), atol=1e-6, rtol=1e-5)


def test_hard_gradient_reaches_x_only():
    x = torch.randn(2, 10, requires_grad=True)
    m = ash.ASH(hard=True)
    m(x).sum().backward()
    assert torch.equal(x.grad, (m(x.detach()) != 0).float())


@pytest.mark.parametrize(
    "x",
    [torch.full((2, 3, 4, 4), 2.5), torch.zeros(2, 3, 4, 4), torch.randn(2, 8, 1, 1), torch.randn(1, 3, 5, 5),
     torch.randn(2, 3, 4, 4) * 1e4],
    ids=["constant", "zeros", "1x1", "batch1", "1e4"])
@pytest.mark.parametrize("stats", ["sample", "channel"])
def test_finite_values_and_grads(kernel, x, stats):
    x = x.clone().requires_grad_()
    p = [torch.tensor(v, requires_grad=True) for v in (1.0, 0.5, 0.1)]
    y = AF.lash(x, *p, stats=stats)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(q.grad) for q in p)


def test_large_magnitude_matches_reference(kernel):
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64) * 1e4 + 5e4
    torch.testing.assert_close(AF.ash(x.float(), 1.0, 0.3).double(), independent_ash(x.float(), 1.0, 0.3),
                               rtol=1e-4, atol=1e-1)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_stats_in_float32(kernel, dtype):
    x = (torch.randn(2, 4, 8, 8) * 3 + 100).to(dtype).requires_grad_()
    y = AF.ash(x, 1.0, 0.5)
    assert y.dtype == dtype
    ref = independent_ash(x.detach().float(), 1.0, 0.5)
    torch.testing.assert_close(y.double(), ref, rtol=2e-2, atol=2e-1)
    y.float().sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def test_autocast_bf16(kernel):
    conv = torch.nn.Conv2d(3, 8, 3)
    m = ash.ASH()
    x = torch.randn(2, 3, 10, 10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(conv(x))
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert torch.isfinite(m.alpha.grad) and torch.isfinite(m.z.grad) and torch.isfinite(conv.weight.grad).all()


@pytest.mark.parametrize("stats", ["sample", "channel"])
def test_channels_last(kernel, stats):
    x = torch.randn(2, 5, 6, 7)
    xc = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    xn = x.clone().requires_grad_()
    yc, yn = AF.ash(xc, 1.2, 0.3, stats=stats), AF.ash(xn, 1.2, 0.3, stats=stats)
    torch.testing.assert_close(yc, yn)
    w = torch.randn_like(x)
    (yc * w).sum().backward()
    (yn * w).sum().backward()
    torch.testing.assert_close(xc.grad, xn.grad, atol=1e-5, rtol=1e-5)


def test_saves_only_input_and_two_floats_per_sample(kernel):
    x = torch.randn(8, 16, 10, 10, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        AF.ash(x, torch.tensor(1.0, requires_grad=True), torch.tensor(0.0, requires_grad=True))
    assert sum(saved) <= x.numel() * x.element_size() + 8 * 2 * 8 + 64


def test_bad_stats_raise():
    with pytest.raises(ValueError, match="stats='sample'"):
        AF.ash(torch.randn(2, 3, 4), stats="batch")
    with pytest.raises(ValueError, match="stats='sample'"):
        AF.ash(torch.randn(4, 3), stats="channel")


def test_kernel_override_env(monkeypatch):
    monkeypatch.setenv("ASH_KERNEL", "eager")
    assert kernels.kernel_name(torch.randn(2, 2)) == "eager"
    monkeypatch.setenv("ASH_KERNEL", "nonsense")
    with pytest.raises(ValueError, match="eager"):
        kernels.kernel_name(torch.randn(2, 2))
    with pytest.raises(ValueError, match="cpp"):
        kernels.set_kernel("fast")


def test_import_compiles_nothing():
    import subprocess
    import sys
    code = "import ash, ash.kernels as k, sys; assert 'ash.kernels.cpp' not in sys.modules; assert 'torch.utils.cpp_extension' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
