"""DenseNet-BC (Huang et al. 2017): bottleneck layers and compression; DenseNet-100-12 on CIFAR."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from tasks.cls.models.stems import make_stem

ActLayer = Callable[..., nn.Module]


class DenseLayer(nn.Module):
    """BN-act-conv1x1(4k), BN-act-conv3x3(k), concatenated to the input."""

    def __init__(self, in_chans: int, growth: int, act_layer: ActLayer) -> None:
        super().__init__()
        self.bn1, self.act1 = nn.BatchNorm2d(in_chans), act_layer()
        self.conv1 = nn.Conv2d(in_chans, 4 * growth, 1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(4 * growth), act_layer()
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.act1(self.bn1(x)))
        y = self.conv2(self.act2(self.bn2(y)))
        return torch.cat([x, y], 1)


class Transition(nn.Sequential):
    """BN-act-conv1x1 (compression) and 2x2 average pooling between dense blocks."""

    def __init__(self, in_chans: int, out_chans: int, act_layer: ActLayer) -> None:
        super().__init__(nn.BatchNorm2d(in_chans), act_layer(), nn.Conv2d(in_chans, out_chans, 1, bias=False),
                         nn.AvgPool2d(2))


class DenseNetBC(nn.Module):
    """Three dense blocks of `(depth - 4) / 6` bottleneck layers, growth rate k, compression 0.5."""

    def __init__(self, depth: int = 100, growth_rate: int = 12, num_classes: int = 10, act_layer: ActLayer = nn.ReLU,
                 in_chans: int = 3, compression: float = 0.5, stem: str = "cifar") -> None:
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"DenseNet-BC depth must be 6n+4 (10, 16, 40, 100, ...), got {depth}.")
        n = (depth - 4) // 6
        chans = 2 * growth_rate
        self.stem = make_stem(stem, in_chans, chans)
        blocks: list[nn.Module] = []
        for stage in range(3):
            for _ in range(n):
                blocks.append(DenseLayer(chans, growth_rate, act_layer))
                chans += growth_rate
            if stage < 2:
                out = int(chans * compression)
                blocks.append(Transition(chans, out, act_layer))
                chans = out
        self.layers = nn.Sequential(*blocks)
        self.bn, self.act = nn.BatchNorm2d(chans), act_layer()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.layers(self.stem(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.forward_features(x)), 1))
