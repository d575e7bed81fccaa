"""The smp models of the seg task: built from the configs, every activation call site swapped to its own module."""
from __future__ import annotations

import sys
from collections import defaultdict

import pytest
import torch
from torch import nn

import ash
from ash.swap import is_swappable
from tasks.common.activation import act_factory
from tasks.common.errors import ConfigError
from tasks.common.registry import options_for
from tasks.seg.models import build_model, create_model

MODELS = options_for("model", "seg")
_MODULE_PY = nn.Module.__call__.__code__.co_filename


def call_sites(model: nn.Module, x: torch.Tensor) -> dict[nn.Module, set[tuple[str, int, int]]]:
    """For every activation module called in one forward: the (file, line, caller) places that called it."""
    sites: dict[nn.Module, set] = defaultdict(set)

    def hook(module, _args):
        frame = sys._getframe(1)
        while frame.f_code.co_filename == _MODULE_PY:
            frame = frame.f_back
        sites[module].add((frame.f_code.co_filename, frame.f_lineno, id(frame.f_locals.get("self"))))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if is_swappable(m)]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return sites


def test_the_three_paper_models_have_configs():
    assert {"unet", "deeplabv3p", "efficientnet"} <= set(MODELS)


@pytest.mark.parametrize("overrides", [[f"model={m}"] for m in MODELS] + [["model=unet", "model.encoder=resnet18"]],
                         ids=[*MODELS, "unet-torchvision-resnet18"])
def test_call_site_census_one_ash_module_per_site(compose, overrides):
    """After the swap no activation module is called at two sites, and #ASH layers == #call sites."""
    cfg = compose(["task=seg", "act=ash", *overrides])
    x = torch.rand(2, 3, 64, 64)
    torch.manual_seed(0)
    before = call_sites(create_model(cfg.model, 11, 3), x)
    n_sites = sum(len(s) for s in before.values())
    torch.manual_seed(0)
    model = build_model(cfg.model, 11, 3, act_factory(cfg.act))
    after = call_sites(model, x)
    ash_layers = [m for m in model.modules() if isinstance(m, ash.ASH)]
    assert all(isinstance(m, ash.ASH) for m in after), "an activation was left unswapped"
    assert all(len(s) == 1 for s in after.values()), "an activation module is called at more than one site"
    assert len(ash_layers) == n_sites == len(after)
    assert len(ash.ash_parameters(model)) == n_sites
    if "model.encoder=resnet18" in overrides:
        assert n_sites > len(before)  # torchvision's BasicBlock reuses self.relu: the swap unties it


@pytest.mark.parametrize("model_name", [*MODELS, "mini/unet", "mini/deeplabv3p", "mini/efficientnet"])
def test_every_parameter_is_trained(compose, model_name):
    """No dead weights: one backward reaches every parameter (a cut encoder must not keep its unused stages)."""
    cfg = compose(["task=seg", "act=ash", f"model={model_name}"])
    torch.manual_seed(0)
    model = build_model(cfg.model, 11, 3, act_factory(cfg.act))
    model(torch.rand(2, 3, 64, 64)).square().mean().backward()
    untrained = [name for name, p in model.named_parameters() if p.grad is None]
    assert not untrained, f"{len(untrained)} parameters get no gradient, e.g. {untrained[:3]}"


def test_encoder_and_depth_are_config_parameters(compose):
    cfg = compose(["task=seg", "model=unet", "model.encoder=tu-resnet10t", "model.encoder_depth=3",
                   "model.decoder_channels=[32,16,8]"])
    model = build_model(cfg.model, 11, 3, act_factory(cfg.act))
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 11, 32, 32)
    assert len(model.encoder.out_channels) == 4  # input + 3 stages


@pytest.mark.parametrize("override, expected", [("model.encoder=tu-nosuchnet", "timm has no model"),
                                                ("model.encoder=nosuch", "not an smp encoder"),
                                                ("model.arch=NoSuchArch", "model.arch=NoSuchArch")])
def test_bad_model_config_is_a_config_error(compose, override, expected):
    cfg = compose(["task=seg", "model=unet", override])
    with pytest.raises(ConfigError, match=expected):
        create_model(cfg.model, 11, 3)
