"""Wide ResNet (Zagoruyko & Komodakis 2016): pre-activation basic blocks, WRN-28-10 on CIFAR."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from tasks.cls.models.stems import make_stem

ActLayer = Callable[..., nn.Module]


class WideBasicBlock(nn.Module):
    """BN-act-conv3x3, BN-act-(dropout)-conv3x3; two activation sites, two modules."""

    def __init__(self, in_chans: int, out_chans: int, stride: int, dropout: float, act_layer: ActLayer) -> None:
        super().__init__()
        self.bn1, self.act1 = nn.BatchNorm2d(in_chans), act_layer()
        self.conv1 = nn.Conv2d(in_chans, out_chans, 3, stride=stride, padding=1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(out_chans), act_layer()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or in_chans != out_chans:
            self.shortcut = nn.Conv2d(in_chans, out_chans, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        skip = self.shortcut(pre) if self.shortcut is not None else x
        y = self.conv1(pre)
        y = self.conv2(self.dropout(self.act2(self.bn2(y))))
        return y + skip


class WideResNet(nn.Module):
    """Three stages of `(depth - 4) / 6` blocks with widths 16k, 32k, 64k."""

    def __init__(self, depth: int = 28, widen_factor: int = 10, num_classes: int = 10, act_layer: ActLayer = nn.ReLU,
                 in_chans: int = 3, dropout: float = 0.0, stem: str = "cifar") -> None:
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"Wide ResNet depth must be 6n+4 (10, 16, 22, 28, ...), got {depth}.")
        blocks = (depth - 4) // 6
        self.stem = make_stem(stem, in_chans, 16)
        layers, chans = [], 16
        for stage, width in enumerate((16 * widen_factor, 32 * widen_factor, 64 * widen_factor)):
            for i in range(blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(WideBasicBlock(chans, width, stride, dropout, act_layer))
                chans = width
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
