"""Segmentation models from segmentation-models-pytorch by config: architecture x encoder, every activation swapped."""
from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig, OmegaConf
from torch import nn

import ash
from tasks.common.errors import ConfigError

# Keys of a model config that are not smp constructor arguments, or are renamed.
_OWN_KEYS = ("name", "tasks", "arch", "encoder", "encoder_weights")


def build_model(model_cfg: DictConfig, num_classes: int, in_chans: int,
                act_layer: Callable[..., nn.Module]) -> nn.Module:
    """The smp model of `model_cfg` with one new activation module (from act_layer) per call site."""
    model = create_model(model_cfg, num_classes, in_chans)
    ash.swap_activations(model, act_layer)
    return model


def create_model(model_cfg: DictConfig, num_classes: int, in_chans: int) -> nn.Module:
    """`smp.create_model(arch, encoder, ...)` from the config, with smp's own activations."""
    import segmentation_models_pytorch as smp

    kwargs = OmegaConf.to_container(model_cfg, resolve=True)
    arch, encoder, weights = kwargs["arch"], kwargs["encoder"], kwargs.get("encoder_weights")
    extra = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items() if k not in _OWN_KEYS}
    _check_encoder(encoder)
    try:
        model = smp.create_model(arch, encoder_name=encoder, encoder_weights=weights, in_channels=in_chans,
                                 classes=num_classes, **extra)
    except KeyError as e:
        raise ConfigError(f"model.arch={arch}: {e.args[0]}") from e
    except (ValueError, TypeError, AssertionError) as e:
        raise ConfigError(f"model={model_cfg.name}: smp cannot build {arch} with encoder {encoder} and "
                          f"{extra}: {e}") from e
    return model


def _check_encoder(encoder: str) -> None:
    """Fail early, saying where to look, for an encoder that neither timm (`tu-<name>`) nor smp knows."""
    import segmentation_models_pytorch as smp
    import timm

    if encoder.startswith("tu-"):
        if not timm.is_model(encoder[3:]):
            raise ConfigError(f"model.encoder={encoder}: timm has no model '{encoder[3:]}' "
                              f"(see timm.list_models(), e.g. model.encoder=tu-resnet34).")
    elif encoder not in smp.encoders.get_encoder_names():
        raise ConfigError(f"model.encoder={encoder} is not an smp encoder; use tu-<timm model> "
                          f"(e.g. tu-resnet18, tu-efficientnet_b0) or one of smp.encoders.get_encoder_names().")
