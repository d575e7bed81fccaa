"""The config's `act` group as a model's `act_layer` (ash's factory: one call, one new module per call site)."""
from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig, OmegaConf
from torch import nn

import ash
from tasks.common.errors import ConfigError

# Keys of an `act` config that steer where the activation goes or how it trains, not how it is built.
PLACEMENT_KEYS = ("name", "apply_to", "lr_scale", "gated")


def act_kwargs(act_cfg: DictConfig) -> dict:
    """The constructor arguments of the configured activation."""
    cfg = OmegaConf.to_container(act_cfg, resolve=True)
    return {k: v for k, v in cfg.items() if k not in PLACEMENT_KEYS and v is not None}


def is_gated(act_cfg: DictConfig) -> bool:
    """True for a gated MLP (act=swiglu): it replaces a transformer block's MLP, not one activation."""
    return bool(act_cfg.get("gated", False))


def check_gated_mlp(act_cfg: DictConfig, model_cfg: DictConfig) -> None:
    """act=swiglu only where the model has transformer MLPs to replace (`gated_mlp: true` in its config)."""
    if is_gated(act_cfg) and not model_cfg.get("gated_mlp", False):
        raise ConfigError(
            f"act={act_cfg.name} is a gated MLP for transformer blocks (model=vit, task=lm), not an elementwise "
            f"activation; model={model_cfg.name} has no transformer MLP to replace. Use act=swish for SiLU.")


def act_factory(act_cfg: DictConfig) -> Callable[..., nn.Module]:
    """`ash.get_act_layer` for the configured activation, checked here so a bad name or argument fails fast.
    A gated MLP's factory is its gate's SiLU (tasks/common/transformer_mlp.py builds the MLP)."""
    if is_gated(act_cfg):
        return ash.get_act_layer("swish")
    name, kwargs = act_cfg.name, act_kwargs(act_cfg)
    try:
        ash.build_activation(name, **kwargs)
    except (KeyError, ValueError, TypeError) as error:
        message = error.args[0] if error.args else str(error)
        raise ConfigError(f"act={name}: {message}") from error
    return ash.get_act_layer(name, **kwargs)
