"""Pre-activation ResNet with bottleneck blocks (He et al. 2016, "Identity Mappings"); ResNet-164 on CIFAR."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from tasks.cls.models.stems import make_stem

ActLayer = Callable[..., nn.Module]


class PreActBottleneck(nn.Module):
    """BN-act-conv1x1, BN-act-conv3x3, BN-act-conv1x1; three activation sites, three modules."""

    expansion = 4

    def __init__(self, in_chans: int, width: int, stride: int, act_layer: ActLayer) -> None:
        super().__init__()
        out = width * self.expansion
        self.bn1, self.act1 = nn.BatchNorm2d(in_chans), act_layer()
        self.conv1 = nn.Conv2d(in_chans, width, 1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(width), act_layer()
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn3, self.act3 = nn.BatchNorm2d(width), act_layer()
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_chans != out:
            self.shortcut = nn.Conv2d(in_chans, out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        skip = self.shortcut(pre) if self.shortcut is not None else x
        y = self.conv1(pre)
        y = self.conv2(self.act2(self.bn2(y)))
        y = self.conv3(self.act3(self.bn3(y)))
        return y + skip


class PreActResNet(nn.Module):
    """Three stages of `(depth - 2) / 9` bottlenecks with widths w, 2w, 4w (outputs x4)."""

    def __init__(self, depth: int = 164, num_classes: int = 10, act_layer: ActLayer = nn.ReLU,
                 in_chans: int = 3, base_width: int = 16, stem: str = "cifar") -> None:
        super().__init__()
        if (depth - 2) % 9 != 0 or depth < 11:
            raise ValueError(f"Pre-activation bottleneck ResNet depth must be 9n+2 (11, 20, 29, ..., 164), got {depth}.")
        blocks = (depth - 2) // 9
        self.stem = make_stem(stem, in_chans, base_width)
        layers, chans = [], base_width
        for stage, width in enumerate((base_width, base_width * 2, base_width * 4)):
            for i in range(blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(PreActBottleneck(chans, width, stride, act_layer))
                chans = width * PreActBottleneck.expansion
        self.layers = nn.Sequential(*layers)
        self.bn, self.act = nn.BatchNorm2d(chans), act_layer()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.layers(self.stem(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.forward_features(x)), 1))
