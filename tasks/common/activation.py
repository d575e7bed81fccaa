"""The config's `act` group as a model's `act_layer` (ash's factory: one call, one new module per call site)."""
from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig, OmegaConf
from torch import nn

import ash
from tasks.common.errors import ConfigError

# Keys of an `act` config that steer where the activation goes or how it trains, not how it is built.
PLACEMENT_KEYS = ("name", "apply_to", "lr_scale")


def act_kwargs(act_cfg: DictConfig) -> dict:
    """The constructor arguments of the configured activation."""
    cfg = OmegaConf.to_container(act_cfg, resolve=True)
    return {k: v for k, v in cfg.items() if k not in PLACEMENT_KEYS and v is not None}


def act_factory(act_cfg: DictConfig) -> Callable[..., nn.Module]:
    """`ash.get_act_layer` for the configured activation, checked here so a bad name or argument fails fast."""
    name, kwargs = act_cfg.name, act_kwargs(act_cfg)
    try:
        ash.build_activation(name, **kwargs)
    except (KeyError, ValueError, TypeError) as error:
        message = error.args[0] if error.args else str(error)
        raise ConfigError(f"act={name}: {message}") from error
    return ash.get_act_layer(name, **kwargs)
