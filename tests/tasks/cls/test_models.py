"""The classification models: parameter counts of the paper's networks, stems, one module per site."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import ash
from tasks.cls.models.densenet import DenseNetBC
from tasks.cls.models.resnet import PreActResNet
from tasks.cls.models.wrn import WideResNet


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model, expected", [
    (lambda: PreActResNet(depth=164, num_classes=10), 1.70e6),   # He et al. 2016, Table 2
    (lambda: WideResNet(depth=28, widen_factor=10, num_classes=10), 36.5e6),  # Zagoruyko & Komodakis 2016
    (lambda: DenseNetBC(depth=100, growth_rate=12, num_classes=10), 0.8e6),   # Huang et al. 2017
], ids=["resnet164", "wrn28_10", "densenet100_12"])
def test_parameter_counts_match_the_papers(model, expected):
    assert n_params(model()) == pytest.approx(expected, rel=0.04)


@pytest.mark.parametrize("build", [lambda a: PreActResNet(depth=20, act_layer=a),
                                   lambda a: WideResNet(depth=10, widen_factor=1, act_layer=a),
                                   lambda a: DenseNetBC(depth=16, growth_rate=4, act_layer=a)],
                         ids=["resnet", "wrn", "densenet"])
def test_every_activation_site_has_its_own_ash_module(build):
    model = build(ash.get_act_layer("ash"))
    counts: dict[int, int] = {}
    hooks = [m.register_forward_hook(lambda m, i, o: counts.__setitem__(id(m), counts.get(id(m), 0) + 1))
             for m in model.modules() if isinstance(m, ash.ASH)]
    model(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert len(counts) == len(hooks) > 5
    assert set(counts.values()) == {1}  # no module serves two sites


@pytest.mark.parametrize("stem, size, expected_grid", [("cifar", 32, 8), ("imagenet", 224, 14)])
def test_stems_give_the_usual_feature_map_sizes(stem, size, expected_grid):
    model = PreActResNet(depth=11, num_classes=1000, stem=stem, base_width=4)
    features = model.forward_features(torch.randn(1, 3, size, size))
    assert features.shape[-1] == expected_grid
    assert model(torch.randn(1, 3, size, size)).shape == (1, 1000)


@pytest.mark.parametrize("cls, depth", [(PreActResNet, 21), (WideResNet, 27), (DenseNetBC, 99)])
def test_invalid_depth_names_the_valid_ones(cls, depth):
    with pytest.raises(ValueError, match="depth must be"):
        cls(depth=depth)
