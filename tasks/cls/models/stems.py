"""Input stems: `cifar` (3x3 conv, keeps 32x32) and `imagenet` (7x7/2 conv + 3x3/2 max-pool, 224 -> 56)."""
from __future__ import annotations

from torch import nn

STEMS = ("cifar", "imagenet")


def make_stem(kind: str, in_chans: int, out_chans: int) -> nn.Module:
    """The first layer of a classification network for 32x32 (`cifar`) or 224x224 (`imagenet`) inputs."""
    if kind == "cifar":
        return nn.Conv2d(in_chans, out_chans, 3, padding=1, bias=False)
    if kind == "imagenet":
        return nn.Sequential(nn.Conv2d(in_chans, out_chans, 7, stride=2, padding=3, bias=False),
                             nn.MaxPool2d(3, stride=2, padding=1))
    raise ValueError(f"Unknown stem '{kind}'. Valid: {', '.join(STEMS)} (model.stem=cifar|imagenet).")
