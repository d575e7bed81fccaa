"""DCGAN shapes, the paper's initialisation, and where the configured activation goes (`act.apply_to`)."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

import ash
from tasks.common.activation import act_factory
from tasks.common.errors import ConfigError
from tasks.gan.models import build_dcgan

MODEL = OmegaConf.create({"latent_dim": 100, "g_width": 8, "d_width": 8})


def dcgan(act: str = "ash", image_size: int = 32, chans: int = 1, apply_to=None):
    act_cfg = OmegaConf.create({"name": act} if apply_to is None else {"name": act, "apply_to": apply_to})
    return build_dcgan(MODEL, act_cfg, image_size, chans, act_factory(act_cfg))


@pytest.mark.parametrize("image_size, chans", [(32, 1), (64, 3)])
def test_generator_makes_images_in_tanh_range_and_discriminator_one_logit_each(image_size, chans):
    model = dcgan(image_size=image_size, chans=chans)
    images = model(torch.randn(5, 100))
    assert images.shape == (5, chans, image_size, image_size)
    assert images.abs().max() <= 1
    assert model.discriminator(images).shape == (5,)


def test_the_activation_goes_to_every_generator_site_and_the_discriminator_keeps_leaky_relu_by_default():
    model = dcgan("ash", image_size=64)
    g_acts = [m for m in model.generator.modules() if isinstance(m, ash.ASH)]
    assert len(g_acts) == 4 and len({id(m) for m in g_acts}) == 4  # 64 px: 4 hidden layers, one module each
    assert not any(isinstance(m, nn.ReLU) for m in model.generator.modules())
    assert isinstance(model.generator.net[-1], nn.Tanh)  # the output is not an activation to swap
    d_acts = [m for m in model.discriminator.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(d_acts) == 4 and all(m.negative_slope == 0.2 for m in d_acts)
    assert not any(isinstance(m, ash.ASH) for m in model.discriminator.modules())
    assert all(row["path"].startswith("generator.") for row in ash.ash_parameters(model))


def test_apply_to_both_networks_puts_the_activation_into_the_discriminator_too():
    model = dcgan("swish", apply_to=["generator", "discriminator"])
    assert sum(isinstance(m, nn.SiLU) for m in model.discriminator.modules()) == 3
    assert not any(isinstance(m, nn.LeakyReLU) for m in model.discriminator.modules())
    only_d = dcgan("swish", apply_to=["discriminator"])
    assert not any(isinstance(m, nn.SiLU) for m in only_d.generator.modules())  # the paper's ReLU stays


def test_bad_apply_to_and_image_size_are_config_errors():
    with pytest.raises(ConfigError, match="apply_to"):
        dcgan(apply_to=["encoder"])
    with pytest.raises(ConfigError, match="power of two"):
        dcgan(image_size=48)


def test_weights_follow_the_dcgan_paper():
    model = dcgan("relu", image_size=64, chans=3)
    convs = torch.cat([m.weight.detach().flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(float(convs.std()) - 0.02) < 0.002 and abs(float(convs.mean())) < 0.002
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(float(m.bias.detach().abs().max()) == 0 for m in norms)
    gammas = torch.cat([m.weight.detach() for m in norms])
    assert abs(float(gammas.mean()) - 1) < 0.01 and 0.015 < float(gammas.std()) < 0.025  # N(1, 0.02), not all ones


def test_composed_config_reads_apply_to_from_the_command_line(compose, tiny):
    from tasks.gan import DATAMODULES, build_module

    assert "apply_to" not in compose(tiny).act
    both = compose([*tiny, "act=ash", "+act.apply_to=[generator,discriminator]"])
    module = build_module(both, DATAMODULES["digits"](both.data))
    assert any(isinstance(m, ash.ASH) for m in module.discriminator.modules())
