"""Activations by config name: build_activation(name) and get_act_layer(name) (timm's pattern)."""

from __future__ import annotations

import functools
from typing import Callable

from torch import nn

from .modules import ASH, FASH, LASH

__all__ = ["ACTIVATIONS", "build_activation", "get_act_layer", "activation_names"]


def _fixed(cls: type[nn.Module], **defaults) -> Callable[..., nn.Module]:
    @functools.wraps(cls, updated=())
    def make(**kwargs) -> nn.Module:
        return cls(**{**defaults, **kwargs})
    return make


def _fash(**kwargs) -> nn.Module:
    if "k" not in kwargs:
        raise ValueError("act 'fash' needs k, the percent to keep in (0, 100): e.g. build_activation('fash', k=25)")
    return FASH(**kwargs)


# Baselines take `inplace` only where torch does; _drop_inplace below removes it otherwise.
ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "lrelu": _fixed(nn.LeakyReLU, negative_slope=0.01),
    "prelu": _fixed(nn.PReLU, num_parameters=1, init=0.25),
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "swish": nn.SiLU,
    "ash": ASH,
    "lash": LASH,
    "fash10": _fixed(FASH, k=10.0),
    "fash50": _fixed(FASH, k=50.0),
    "fash90": _fixed(FASH, k=90.0),
    "fash": _fash,
}
_NO_INPLACE = {"prelu", "gelu", "softplus"}


def activation_names() -> list[str]:
    """The valid config names."""
    return list(ACTIVATIONS)


def _lookup(name: str) -> Callable[..., nn.Module]:
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise KeyError(f"unknown activation {name!r}; valid names: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]


def build_activation(name: str, **kwargs) -> nn.Module:
    """A new activation module for a config name (kwargs go to its constructor; `inplace` is always accepted)."""
    make = _lookup(name)
    if str(name).lower() in _NO_INPLACE:
        kwargs.pop("inplace", None)
    return make(**kwargs)


def get_act_layer(name: str | Callable[..., nn.Module], **kwargs) -> Callable[..., nn.Module]:
    """A factory usable as a model's ``act_layer``: each call builds a new module (kwargs bound)."""
    if callable(name) and not isinstance(name, str):
        return functools.partial(name, **kwargs) if kwargs else name
    _lookup(name)  # fail early on unknown names

    def act_layer(*args, **call_kwargs) -> nn.Module:
        # timm / torchvision pass `inplace=True` (sometimes positionally): accepted and ignored
        call_kwargs.pop("inplace", None)
        return build_activation(name, **{**kwargs, **call_kwargs})

    act_layer.__name__ = f"act_layer_{name}"
    act_layer.__qualname__ = act_layer.__name__
    return act_layer
