"""Kernel choice and fallbacks: a failure injected into each kernel at first use ends in eager, one warning."""

import warnings

import pytest
import torch
import torch.utils.cpp_extension

import ash
from ash import functional as AF
from ash import kernels
from ash.kernels import compiled, cpp


@pytest.fixture
def fresh(monkeypatch):
    """A process state with no kernel failed or warned yet (restored after the test)."""
    monkeypatch.setattr(kernels, "_failed", set())
    monkeypatch.setattr(kernels, "_warned", set())
    monkeypatch.setattr(kernels, "_compile_failed", False)
    yield monkeypatch
    kernels.set_kernel(None)


def grads(x, fn=AF.ash):
    xi = x.clone().requires_grad_()
    alpha, z = torch.tensor(1.2, requires_grad=True), torch.tensor(0.3, requires_grad=True)
    y = fn(xi, alpha, z)
    return (y, *torch.autograd.grad(y.square().sum(), [xi, alpha, z]))


def check_falls_back(name, x):
    """The first call warns once and matches the naive maths; the kernel is marked failed; no second warning."""
    kernels.set_kernel(name)
    with pytest.warns(RuntimeWarning, match=f"the {name} kernel failed at first use .*injected"):
        got = grads(x)
    for g, r in zip(got, grads(x, AF.ash_naive)):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)
    assert name in kernels.failed_kernels() and kernels.kernel_name(x) == "eager"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads(x)


def _raise(*_a, **_k):
    raise RuntimeError("injected failure")


def test_cpp_build_failure_falls_back(fresh):
    fresh.setattr(cpp, "_module", None)
    fresh.setattr(torch.utils.cpp_extension, "load_inline", _raise)
    check_falls_back("cpp", torch.randn(3, 4, 5))


def test_compile_failure_falls_back_and_sets_compile_failed(fresh):
    fresh.setattr(compiled, "_compiled", {})
    fresh.setattr(torch, "compile", lambda fn, **kw: _raise)  # torch.compile fails at the first call
    check_falls_back("compile", torch.randn(3, 4, 5))
    assert kernels._compile_failed is True


def test_triton_launch_failure_falls_back(fresh):
    fresh.setenv("TRITON_INTERPRET", "1")
    tk = pytest.importorskip("ash.kernels.triton_kernel")

    class Broken:
        def __getitem__(self, grid):
            return _raise

    fresh.setattr(tk, "_stats_kernel", Broken())
    check_falls_back("triton", torch.randn(3, 4, 5))


def test_backward_failure_falls_back(fresh):
    x = torch.randn(2, 3, 4)
    kernels.set_kernel("cpp")
    fresh.setattr(cpp, "backward", _raise)
    with pytest.warns(RuntimeWarning, match="cpp kernel failed"):
        got = grads(x)
    for g, r in zip(got, grads(x, AF.ash_naive)):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)


def test_unsupported_request_warns_once(fresh):
    fresh.delenv("TRITON_INTERPRET", raising=False)
    kernels.set_kernel("triton")
    with pytest.warns(RuntimeWarning, match="ASH_KERNEL=triton does not run on cpu"):
        assert kernels.kernel_name(torch.randn(2, 2)) == "eager"
    assert "triton" not in kernels.failed_kernels()


@pytest.mark.parametrize("name", ["eager", "cpp"])
def test_token_mode_causal_sample_mode_leaks(name):
    kernels.set_kernel(name)
    try:
        x = torch.randn(2, 10, 16)
        later = x.clone()
        later[:, 6:] = torch.randn(2, 4, 16) * 3
        tok, tok2 = AF.ash(x, stats="token"), AF.ash(later, stats="token")
        assert torch.equal(tok[:, :6], tok2[:, :6])  # positions before 6 do not see the change
        torch.testing.assert_close(tok, AF.ash_naive(x, stats="token"), atol=1e-6, rtol=1e-5)
        smp, smp2 = AF.ash(x, stats="sample"), AF.ash(later, stats="sample")
        assert (smp[:, :6] - smp2[:, :6]).abs().max() > 1e-2  # sample statistics leak the future
    finally:
        kernels.set_kernel(None)


def test_token_mode_on_a_layer_matches_layernorm_groups():
    x = torch.randn(3, 5, 8) * 2 + 1
    layer = ash.ASH(z=0.5, stats="token")
    mu, sigma = x.mean(-1, keepdim=True), (x.var(-1, correction=0, keepdim=True) + 1e-5).sqrt()
    want = x * torch.sigmoid(2 * (x - (mu + 0.5 * sigma)))
    torch.testing.assert_close(layer(x), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ash.threshold(x, 0.5, "token"), mu + 0.5 * sigma)
