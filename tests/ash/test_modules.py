import pytest
import torch
from torch import nn

import ash
from ash import functional as AF


def test_ash_parameters_and_defaults():
    m = ash.ASH()
    assert isinstance(m.z, nn.Parameter) and isinstance(m.alpha, nn.Parameter)
    assert m.alpha.item() == 1.0 and m.z.item() == 0.0 and m.stats == "sample" and not m.detach_stats
    assert dict(m.named_parameters()).keys() == {"alpha", "z"}


def test_learn_flags_make_buffers():
    m = ash.ASH(learn_alpha=False, learn_z=False)
    assert list(m.parameters()) == [] and set(dict(m.named_buffers())) == {"alpha", "z"}


def test_fash_z_is_a_buffer():
    m = ash.FASH(10)
    assert "z" in dict(m.named_buffers()) and "z" not in dict(m.named_parameters())
    assert m.z.item() == pytest.approx(ash.z_from_k(10)) and m.k == pytest.approx(10)


def test_lash_a_positive_and_trainable():
    m = ash.LASH(a=0.05)
    assert m.a.item() == pytest.approx(0.05)
    opt = torch.optim.SGD(m.parameters(), lr=100.0)
    x = torch.randn(4, 32)
    (-m(x).abs().sum()).backward()
    opt.step()
    assert m.a.item() > 0


def test_module_matches_functional():
    x = torch.randn(2, 3, 4, 4)
    m = ash.LASH(alpha=1.5, z=0.2, a=0.1, stats="channel")
    torch.testing.assert_close(m(x), AF.lash_naive(x, 1.5, 0.2, 0.1, stats="channel"), atol=1e-6, rtol=1e-5)


def test_inplace_is_accepted_and_ignored():
    x = torch.randn(2, 8)
    y = ash.ASH(inplace=True)(x)
    assert not torch.equal(x, y)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("inf")])
def test_bad_alpha_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        ash.ASH(alpha=alpha)


def test_bad_args_raise():
    with pytest.raises(ValueError, match="stats='sample'"):
        ash.ASH(stats="batch")
    with pytest.raises(ValueError, match="a=0.01"):
        ash.LASH(a=0.0)
    with pytest.raises(ValueError, match=r"\(0, 100\)"):
        ash.FASH(100)


@pytest.mark.parametrize("cls", [ash.ASH, ash.LASH, lambda: ash.FASH(25)])
def test_state_dict_round_trip(cls):
    m1, m2 = cls(), cls()
    with torch.no_grad():
        for p in m1.parameters():
            p.add_(0.37)
    m2.load_state_dict(m1.state_dict())
    x = torch.randn(3, 10)
    torch.testing.assert_close(m1(x), m2(x))


def test_gradients_reach_parameters():
    m = ash.LASH()
    m(torch.randn(4, 3, 5, 5)).square().sum().backward()
    assert all(p.grad is not None and p.grad != 0 for p in m.parameters())


def test_torch_compile_small_model():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), ash.ASH(), nn.Conv2d(4, 2, 3), ash.LASH(stats="channel"))
    x = torch.randn(2, 3, 8, 8)
    ref = model(x)
    compiled = torch.compile(model, backend="aot_eager")
    out = compiled(x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert model[1].z.grad is not None


@pytest.mark.slow
def test_torch_compile_inductor():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), ash.ASH())
    x = torch.randn(2, 3, 8, 8)
    ref = model(x)
    out = torch.compile(model)(x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert model[1].alpha.grad is not None
