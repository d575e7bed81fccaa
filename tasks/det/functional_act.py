"""Module activations for torchvision's two functional `F.relu` sites, so that `ash.swap_activations` reaches them.

`TwoMLPHead` (the Faster R-CNN box head) and `LastLevelP6P7` (RetinaNet's P6 -> P7) call `F.relu`, which a
module swap cannot replace. The subclasses below compute exactly the same function with one `nn.ReLU` per
call site and keep the parameter names, so state dicts load unchanged.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.detection.faster_rcnn import TwoMLPHead
from torchvision.ops.feature_pyramid_network import LastLevelP6P7


class TwoMLPHeadAct(TwoMLPHead):
    """TwoMLPHead whose two ReLUs are modules (`relu6`, `relu7`)."""

    def __init__(self, head: TwoMLPHead) -> None:
        nn.Module.__init__(self)
        self.fc6, self.fc7 = head.fc6, head.fc7
        self.relu6, self.relu7 = nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(start_dim=1)
        return self.relu7(self.fc7(self.relu6(self.fc6(x))))


class LastLevelP6P7Act(LastLevelP6P7):
    """LastLevelP6P7 whose ReLU between P6 and P7 is a module (`relu`)."""

    def __init__(self, block: LastLevelP6P7) -> None:
        nn.Module.__init__(self)
        self.p6, self.p7, self.use_P5 = block.p6, block.p7, block.use_P5
        self.relu = nn.ReLU()

    def forward(self, p: list[torch.Tensor], c: list[torch.Tensor],
                names: list[str]) -> tuple[list[torch.Tensor], list[str]]:
        p6 = self.p6(p[-1] if self.use_P5 else c[-1])
        p7 = self.p7(self.relu(p6))
        p.extend([p6, p7])
        names.extend(["p6", "p7"])
        return p, names


REPLACEMENTS: dict[type[nn.Module], type[nn.Module]] = {TwoMLPHead: TwoMLPHeadAct, LastLevelP6P7: LastLevelP6P7Act}


def replace_functional_activations(model: nn.Module) -> list[str]:
    """Swap, in place, every exact TwoMLPHead / LastLevelP6P7 for its module-activation twin; returns their paths."""
    replaced = []
    for path, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            new_cls = REPLACEMENTS.get(type(child))
            if new_cls is not None:
                setattr(parent, name, new_cls(child))
                replaced.append(f"{path}.{name}" if path else name)
    return replaced
