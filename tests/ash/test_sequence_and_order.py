"""Sequence models (token statistics in a timm ViT and a causal transformer) and the stable layer order."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import ash
from ash import kernels

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["eager", "cpp"])
def kernel(request):
    kernels.set_kernel(request.param)
    yield request.param
    kernels.set_kernel(None)


def causal_layer(stats: str) -> nn.Module:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, activation=nn.GELU(), batch_first=True)
    report = ash.swap_activations(layer, "ash", stats=stats)
    assert report.n_sites == 1 and isinstance(layer.activation, ash.ASH)
    return layer.eval()


def test_causal_transformer_token_mode_sees_no_future(kernel):
    x = torch.randn(2, 9, 16)
    later = x.clone()
    later[:, 5:] += 3 * torch.randn(2, 4, 16)
    mask = nn.Transformer.generate_square_subsequent_mask(9)
    with torch.no_grad():  # inference: torch's fast path must not bypass the swapped activation
        tok = causal_layer("token")
        y, y2 = tok(x, src_mask=mask, is_causal=True), tok(later, src_mask=mask, is_causal=True)
        torch.testing.assert_close(y[:, :5], y2[:, :5], atol=1e-6, rtol=0)
        smp = causal_layer("sample")
        s, s2 = smp(x, src_mask=mask, is_causal=True), smp(later, src_mask=mask, is_causal=True)
    assert (s[:, :5] - s2[:, :5]).abs().max() > 1e-3  # sample statistics leak tokens after t
    assert not torch.allclose(y, s)
    tok.train()
    tok(x, src_mask=mask, is_causal=True).sum().backward()
    assert tok.activation.z.grad is not None


def test_timm_vit_token_mode(kernel):
    timm = pytest.importorskip("timm")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=2,
                              num_classes=3)
    report = ash.swap_activations(model, "ash", stats="token")
    assert report.n_sites == 2 and [r.path for r in report] == ["blocks.0.mlp.act", "blocks.1.mlp.act"]
    y = model(torch.randn(2, 3, 32, 32))
    y.sum().backward()
    assert y.shape == (2, 3) and all(m.alpha.grad is not None for m in model.modules() if isinstance(m, ash.ASH))


def first_call_order(model: nn.Module, x) -> list[str]:
    names = {id(m): p for p, m in model.named_modules()}
    seen = []
    hooks = [m.register_forward_pre_hook(lambda mod, _a: seen.append(names[id(mod)]) if names[id(mod)] not in seen else None)
             for m in model.modules() if isinstance(m, ash.ASH)]
    model(x)
    for h in hooks:
        h.remove()
    return seen


def builders():
    import torchvision
    from tasks.cls.models.densenet import DenseNetBC
    from tasks.cls.models.resnet import PreActResNet

    act = ash.get_act_layer("ash")
    return {
        "resnet18 swapped": lambda: _swapped(torchvision.models.resnet18(num_classes=3)),
        "mobilenet_v3 swapped": lambda: _swapped(torchvision.models.mobilenet_v3_small(num_classes=3)),
        "preact_resnet act_layer": lambda: PreActResNet(depth=20, num_classes=3, act_layer=act, stem="cifar"),
        "densenet act_layer": lambda: DenseNetBC(depth=22, growth_rate=4, num_classes=3, act_layer=act),
    }


def _swapped(model):
    ash.swap_activations(model, "ash")
    return model


@pytest.mark.parametrize("name", ["resnet18 swapped", "mobilenet_v3 swapped", "preact_resnet act_layer",
                                  "densenet act_layer"])
def test_order_is_forward_order_before_and_after_a_forward(name):
    model = builders()[name]()
    before = [r["path"] for r in ash.ash_parameters(model)]
    called = first_call_order(model, torch.randn(2, 3, 32, 32))
    assert before == called  # the static order is the order of the first calls
    assert [r["path"] for r in ash.ash_parameters(model)] == before
    assert [r["depth"] for r in ash.ash_parameters(model)] == list(range(len(before)))


def test_order_is_the_same_in_a_fresh_process():
    code = ("import ash, torchvision, json; m = torchvision.models.resnet18(); ash.swap_activations(m, 'ash'); "
            "print(json.dumps([r['path'] for r in ash.ash_parameters(m)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout
    import json
    import torchvision

    model = _swapped(torchvision.models.resnet18())
    model(torch.randn(2, 3, 32, 32))
    assert json.loads(out) == [r["path"] for r in ash.ash_parameters(model)]
