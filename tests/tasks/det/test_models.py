"""tasks/det/models.py and functional_act.py: every activation swapped once per call site, frozen stages."""
from __future__ import annotations

import sys
from collections import Counter, defaultdict

import pytest
import torch
from torch import nn
from torchvision.models.detection import faster_rcnn, retinanet, ssdlite
from torchvision.models.detection.faster_rcnn import TwoMLPHead
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops.misc import FrozenBatchNorm2d

from ash.modules import ASHBase
from tasks.common.activation import act_factory
from tasks.det.functional_act import LastLevelP6P7Act, TwoMLPHeadAct, replace_functional_activations
from tasks.det.models import BUILDERS, build_detector

# Call sites per detector (torchvision 0.29): module activations + the F.relu made modules.
SITES = {"fasterrcnn": 50 + 2, "retinanet": 57 + 1, "fasterrcnn_mobilenet": 40 + 2, "ssdlite": 63}
FUNCTIONAL_NAMES = {"relu", "relu_", "relu6", "hardswish", "silu", "gelu", "leaky_relu", "elu"}
MODULE_PY = nn.Module.__call__.__code__.co_filename


def detector(compose, arch: str, act: str = "ash", *overrides: str) -> nn.Module:
    cfg = compose(["task=det", f"model={arch}", f"act={act}", "model.min_size=64", "model.max_size=64", *overrides])
    return build_detector(cfg.model, 11, act_factory(cfg.act))


class FunctionalCalls(torch.overrides.TorchFunctionMode):
    """Counts functional activation calls (F.relu, torch.relu_, F.hardswish, ...) during a forward."""

    def __init__(self) -> None:
        super().__init__()
        self.names: Counter = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in FUNCTIONAL_NAMES:
            self.names[name] += 1
        return func(*args, **(kwargs or {}))


def call_sites(model: nn.Module, images: list[torch.Tensor]) -> dict[str, tuple[set, int]]:
    """For every ASH module: the code locations that called it in one eval forward, and how many calls."""
    sites, calls = defaultdict(set), Counter()
    names = {m: n for n, m in model.named_modules()}

    def hook(module, _args):
        frame = sys._getframe(1)
        while frame.f_code.co_filename == MODULE_PY:
            frame = frame.f_back
        sites[names[module]].add((frame.f_code.co_filename, frame.f_lineno))
        calls[names[module]] += 1

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, ASHBase)]
    with torch.no_grad():
        model.eval()(images)
    for h in handles:
        h.remove()
    return {name: (sites[name], calls[name]) for name in names.values() if name in sites}


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_census_one_module_per_call_site(compose, arch):
    model = detector(compose, arch)
    ash_modules = [n for n, m in model.named_modules() if isinstance(m, ASHBase)]
    assert len(ash_modules) == SITES[arch]
    assert not [n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.Hardswish))]
    recorder = FunctionalCalls()
    with recorder:
        census = call_sites(model, [torch.rand(3, 64, 64)])
    assert not recorder.names, f"functional activations left: {dict(recorder.names)}"
    assert set(census) == set(ash_modules), "every ASH module runs"
    assert all(len(where) == 1 for where, _ in census.values()), "no module is called from two sites"
    if arch == "retinanet":  # a head conv applied to the 5 FPN levels in a loop stays one module
        where, calls = census["head.classification_head.conv.0.1"]
        assert len(where) == 1 and calls == 5


def test_functional_replacements_keep_the_maths_and_the_state_dict():
    torch.manual_seed(0)
    head = TwoMLPHead(8, 6)
    x = torch.randn(4, 2, 2, 2)
    new = TwoMLPHeadAct(head)
    assert torch.equal(new(x), head(x)) and new.state_dict().keys() == head.state_dict().keys()
    block = LastLevelP6P7(4, 4)
    p, c = [torch.randn(1, 4, 8, 8)], [torch.randn(1, 4, 8, 8)]
    ref, _ = block(list(p), c, ["p5"])
    out, names = LastLevelP6P7Act(block)(list(p), c, ["p5"])
    assert names == ["p5", "p6", "p7"] and all(torch.equal(a, b) for a, b in zip(out, ref))
    model = nn.Sequential(head, block)
    assert replace_functional_activations(model) == ["0", "1"]
    assert isinstance(model[0], TwoMLPHeadAct) and isinstance(model[1], LastLevelP6P7Act)


def torchvision_frozen(arch: str, trainable: int, monkeypatch) -> set[str]:
    """Parameter names torchvision's own builder freezes (its pretrained recipe, forced without weights)."""
    for module in (faster_rcnn, retinanet, ssdlite):
        monkeypatch.setattr(module, "_validate_trainable_layers", lambda _trained, value, _max, _default: value)
    model = BUILDERS[arch](weights=None, weights_backbone=None, num_classes=11, trainable_backbone_layers=trainable)
    replace_functional_activations(model)
    return {n for n, p in model.named_parameters() if not p.requires_grad}


@pytest.mark.parametrize("arch, trainable", [("fasterrcnn", 3), ("fasterrcnn", 5), ("fasterrcnn_mobilenet", 2),
                                             ("ssdlite", 1), ("ssdlite", 4)])
def test_trainable_backbone_layers_freeze_ash_in_frozen_stages(compose, monkeypatch, arch, trainable):
    model = detector(compose, arch, "ash", f"model.trainable_backbone_layers={trainable}")
    params = dict(model.named_parameters())
    frozen = {n for n, p in params.items() if not p.requires_grad}
    is_ash = {n for n in params if n.endswith((".z", ".alpha"))}
    assert frozen - is_ash == torchvision_frozen(arch, trainable, monkeypatch) & params.keys()
    ash_paths = [n for n, m in model.named_modules() if isinstance(m, ASHBase)]
    for path in ash_paths:  # an activation is frozen with the block that holds it
        parent = path.rsplit(".", 1)[0]
        block = {n in frozen for n in params if n.startswith(parent + ".") and n not in is_ash}
        if len(block) == 1:
            assert (f"{path}.z" in frozen) == (f"{path}.alpha" in frozen) == block.pop(), path
    if arch == "fasterrcnn" and trainable == 3:
        body = model.backbone.body
        assert {"backbone.body.relu.z", "backbone.body.layer1.0.relu_site2.z"} <= frozen
        assert "backbone.body.layer2.0.relu.z" not in frozen
        assert isinstance(body.bn1, FrozenBatchNorm2d) and isinstance(body.layer1[0].bn1, FrozenBatchNorm2d)
        assert isinstance(body.layer2[0].bn1, nn.BatchNorm2d)
    elif arch == "fasterrcnn":
        assert not frozen
    else:
        assert frozen & is_ash and is_ash - frozen
