"""DCGAN (Radford, Metz, Chintala 2015): generator and discriminator for square images of 2^n pixels.

The generator calls its activation factory once per hidden layer (the paper's ReLU by default); the
discriminator uses LeakyReLU(0.2) unless the activation is also applied to it (`act.apply_to`).
The generator's tanh and the discriminator's logit are outputs, never swapped.
"""
from __future__ import annotations

import math
from typing import Callable

from omegaconf import DictConfig
from torch import Tensor, nn

from tasks.common.errors import ConfigError

ActLayer = Callable[..., nn.Module]
PARTS = ("generator", "discriminator")


def _n_stages(image_size: int) -> int:
    """Up- (or down-) sampling stages between 4x4 and image_size x image_size."""
    stages = math.log2(image_size / 4) if image_size >= 8 else 0
    if not stages or stages != int(stages):
        raise ConfigError(f"DCGAN needs data.image_size to be a power of two >= 8 (e.g. 32 or 64), got {image_size}.")
    return int(stages)


class Generator(nn.Module):
    """z (B, latent, 1, 1) -> 4x4 -> ... -> image (B, C, S, S) in [-1, 1]; ConvTranspose + BN + act per stage."""

    def __init__(self, latent_dim: int, out_chans: int, image_size: int, width: int, act_layer: ActLayer) -> None:
        super().__init__()
        stages = _n_stages(image_size)
        chans = [width * 2 ** i for i in reversed(range(stages))]  # e.g. 64 px, width 64: 512, 256, 128, 64
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, chans[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(chans[0]), act_layer()]
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), act_layer()]
        layers += [nn.ConvTranspose2d(chans[-1], out_chans, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """image -> one logit per image; strided Conv + BN (none after the input) + activation per stage."""

    def __init__(self, in_chans: int, image_size: int, width: int, act_layer: ActLayer) -> None:
        super().__init__()
        stages = _n_stages(image_size)
        chans = [width * 2 ** i for i in range(stages)]  # e.g. 64 px, width 64: 64, 128, 256, 512
        layers: list[nn.Module] = [nn.Conv2d(in_chans, chans[0], 4, 2, 1, bias=False), act_layer()]
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), act_layer()]
        layers += [nn.Conv2d(chans[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


class DCGAN(nn.Module):
    """The pair; `forward(z)` generates."""

    def __init__(self, generator: Generator, discriminator: Discriminator) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)


def dcgan_init(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02) and shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def apply_to(act_cfg: DictConfig) -> list[str]:
    """Which networks get the configured activation: `act.apply_to`, default [generator]."""
    parts = list(act_cfg.get("apply_to", None) or ["generator"])
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ConfigError(f"act.apply_to has {unknown}; valid entries: {list(PARTS)} "
                          f"(e.g. '+act.apply_to=[generator,discriminator]').")
    return parts


def build_dcgan(model_cfg: DictConfig, act_cfg: DictConfig, image_size: int, chans: int, act_layer: ActLayer) -> DCGAN:
    """The DCGAN of `model_cfg` for images of `chans` x image_size^2, with the activation where `act.apply_to` says."""
    parts = apply_to(act_cfg)
    g_act = act_layer if "generator" in parts else nn.ReLU
    d_act = act_layer if "discriminator" in parts else (lambda: nn.LeakyReLU(0.2))
    model = DCGAN(Generator(int(model_cfg.latent_dim), chans, image_size, int(model_cfg.g_width), g_act),
                  Discriminator(chans, image_size, int(model_cfg.d_width), d_act))
    model.apply(dcgan_init)
    return model
