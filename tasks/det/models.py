"""torchvision detectors by config name, random weights, every activation swapped (one module per call site)."""
from __future__ import annotations

import warnings
from typing import Callable

from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchvision.models import detection
from torchvision.ops.misc import FrozenBatchNorm2d

import ash
from tasks.common.errors import ConfigError
from tasks.det.functional_act import replace_functional_activations

BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "fasterrcnn": detection.fasterrcnn_resnet50_fpn,
    "fasterrcnn_mobilenet": detection.fasterrcnn_mobilenet_v3_large_320_fpn,
    "retinanet": detection.retinanet_resnet50_fpn,
    "ssdlite": detection.ssdlite320_mobilenet_v3_large,
}
# Images per device a training step needs: SSDLite's last extra feature maps are 1x1, so with one image
# BatchNorm sees a single value per channel and cannot normalise it.
MIN_TRAIN_BATCH = {"ssdlite": 2}
# Keys of a model config that are not torchvision builder arguments.
OWN_KEYS = ("name", "tasks", "arch", "min_size", "max_size", "trainable_backbone_layers", "weights", "bn_momentum")


def build_detector(model_cfg: DictConfig, num_classes: int, act_layer: Callable[..., nn.Module]) -> nn.Module:
    """The detector `model_cfg.arch` for `num_classes` (background included), with `act_layer` at every site."""
    kwargs = OmegaConf.to_container(model_cfg, resolve=True)
    arch = kwargs["arch"]
    if arch not in BUILDERS:
        raise ConfigError(f"Unknown model.arch '{arch}' for task=det. Valid: {', '.join(BUILDERS)}.")
    if kwargs.get("weights") is not None:
        raise ConfigError("model.weights must be null: the suite trains detectors from random weights and never "
                          "downloads any; start from a checkpoint of this suite with ckpt_path=<file.ckpt>.")
    builder_kwargs = {k: v for k, v in kwargs.items() if k not in OWN_KEYS}
    model = BUILDERS[arch](weights=None, weights_backbone=None, num_classes=num_classes, **builder_kwargs)
    set_image_size(model, int(kwargs["min_size"]), int(kwargs["max_size"]))
    if kwargs.get("bn_momentum") is not None:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = float(kwargs["bn_momentum"])
    replace_functional_activations(model)
    report = ash.swap_activations(model, act_layer)
    if report.functional:
        warnings.warn(f"model={model_cfg.name}: functional activations left in place:\n{report}", stacklevel=2)
    if kwargs.get("trainable_backbone_layers") is not None:
        freeze_backbone(model, arch, int(kwargs["trainable_backbone_layers"]))
    return model


def set_image_size(model: nn.Module, min_size: int, max_size: int) -> None:
    """Resize rule of the detector's input transform; SSD resizes to a fixed min_size x min_size square."""
    transform = model.transform
    transform.min_size, transform.max_size = (min_size,), max_size
    if transform.fixed_size is not None:
        if max_size != min_size:
            raise ConfigError(f"This detector resizes every image to a fixed square: set model.min_size only "
                              f"(got min_size={min_size}, max_size={max_size}).")
        transform.fixed_size = (min_size, min_size)


def backbone_stages(model: nn.Module, arch: str) -> tuple[list[tuple[nn.Module, str]], list[int]]:
    """The backbone's blocks in forward order, as (parent, name), and the index where each stage starts."""
    if arch in ("fasterrcnn", "retinanet"):
        body = model.backbone.body  # conv1, bn1, relu, maxpool | layer1 | layer2 | layer3 | layer4
        return [(body, name) for name in body._modules], [0, 4, 5, 6, 7]
    if arch == "fasterrcnn_mobilenet":
        parents = [model.backbone.body]
    else:  # ssdlite splits MobileNet's C4 block: features[0] ends with its expansion layer
        parents = list(model.backbone.features)
    blocks = [(parent, name) for parent in parents for name in parent._modules]
    starts = [i for i, (parent, name) in enumerate(blocks) if getattr(parent._modules[name], "_is_cn", False)]
    if arch == "ssdlite":
        starts.append(len(parents[0]) - 1)
    return blocks, [0, *starts, len(blocks) - 1]


def freeze_backbone(model: nn.Module, arch: str, trainable_layers: int) -> None:
    """torchvision's pretrained recipe: all but the last `trainable_layers` stages frozen, activations included.

    A frozen stage is a fixed function: its parameters (the ASH z and alpha among them) stop training and its
    BatchNorm layers become FrozenBatchNorm2d with their current statistics.
    """
    blocks, starts = backbone_stages(model, arch)
    if not 0 <= trainable_layers <= len(starts):
        raise ConfigError(f"model.trainable_backbone_layers={trainable_layers} must be in [0, {len(starts)}] "
                          f"for model={arch} (null: everything trains).")
    frozen_until = len(blocks) if trainable_layers == 0 else starts[len(starts) - trainable_layers]
    for parent, name in blocks[:frozen_until]:
        frozen = frozen_batchnorm(parent._modules[name])
        frozen.requires_grad_(False)
        setattr(parent, name, frozen)


def frozen_batchnorm(module: nn.Module) -> nn.Module:
    """`module` with every BatchNorm2d (itself included) replaced by a FrozenBatchNorm2d of the same statistics."""
    if isinstance(module, nn.BatchNorm2d):
        frozen = FrozenBatchNorm2d(module.num_features, eps=module.eps).to(module.weight.device)
        for key in ("weight", "bias", "running_mean", "running_var"):
            getattr(frozen, key).copy_(getattr(module, key).detach())
        return frozen
    for name, child in list(module.named_children()):
        setattr(module, name, frozen_batchnorm(child))
    return module
