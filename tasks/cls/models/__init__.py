"""Classification models by config name; each takes an activation factory and calls it once per site."""
from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig, OmegaConf
from torch import nn

from tasks.cls.models.densenet import DenseNetBC
from tasks.cls.models.resnet import PreActResNet
from tasks.cls.models.wrn import WideResNet

ARCHS = {"preact_resnet": PreActResNet, "wide_resnet": WideResNet, "densenet_bc": DenseNetBC}


def build_model(model_cfg: DictConfig, num_classes: int, in_chans: int, act_layer: Callable[..., nn.Module],
                act_cfg: DictConfig | None = None) -> nn.Module:
    """Build `model_cfg.arch` (one of ARCHS, or `timm` for any timm model with its activations swapped;
    `act_cfg` lets a timm transformer take a gated MLP, act=swiglu)."""
    kwargs = OmegaConf.to_container(model_cfg, resolve=True)
    name, arch = kwargs.pop("name"), kwargs.pop("arch")
    for key in ("tasks", "gated_mlp"):
        kwargs.pop(key, None)
    if arch == "timm":
        return _timm_model(kwargs.pop("timm_name", name), kwargs, num_classes, in_chans, act_layer, act_cfg)
    if arch not in ARCHS:
        raise ValueError(f"Unknown model.arch '{arch}'. Valid: {', '.join([*ARCHS, 'timm'])}.")
    return ARCHS[arch](num_classes=num_classes, in_chans=in_chans, act_layer=act_layer, **kwargs)


def _timm_model(name: str, kwargs: dict, num_classes: int, in_chans: int, act_layer, act_cfg) -> nn.Module:
    import timm

    import ash
    from tasks.common.activation import is_gated
    from tasks.common.transformer_mlp import timm_mlp_kwargs

    if name not in timm.list_models():
        raise ValueError(f"timm has no model '{name}'; see `timm.list_models()` (e.g. model=timm model.name=resnet50).")
    kwargs.pop("pretrained", None)  # no downloads: weights are always random here
    gated = act_cfg is not None and is_gated(act_cfg)  # a gated MLP in every block instead of an activation
    if gated:
        kwargs.update(timm_mlp_kwargs(act_cfg, kwargs["embed_dim"], kwargs.get("mlp_ratio", 4.0)))
    model = timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kwargs)
    if not gated:
        ash.swap_activations(model, act_layer)
    return model
