"""The learned parameters of a model's ASH-family layers, in one forward order in every process.

The order is static: depth first through the module tree, each parent's children in the order its
``forward`` source first uses them (``ash.source.child_use_order``; swapped parents are read from their
rewritten source), children that the source does not name (containers, torch's own modules, code
without source) in registration order after them. It does not depend on which forward ran before.
"""

from __future__ import annotations

from torch import nn

from .modules import LASH, ASHBase
from .source import child_use_order
from .swappable import CONTAINERS

__all__ = ["ash_parameters", "layer_order"]


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    children = list(module.named_children())
    if isinstance(module, CONTAINERS) or len(children) < 2:
        return children
    rank = {name: i for i, name in enumerate(child_use_order(type(module)))}
    return sorted(children, key=lambda c: rank.get(c[0], len(rank)))  # stable: registration order for ties


def layer_order(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of every submodule of model (each once), in static forward order."""
    out, seen = [], {id(model)}

    def visit(prefix: str, module: nn.Module) -> None:
        for name, child in _children(module):
            if child is None or id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}.{name}" if prefix else name
            out.append((path, child))
            visit(path, child)

    visit("", model)
    return out


def ash_parameters(model: nn.Module) -> list[dict]:
    """Per ASH-family layer in static forward order: path, depth, z, k (%), alpha, a (None unless L-ASH)."""
    rows = []
    for path, m in layer_order(model):
        if isinstance(m, ASHBase):
            rows.append({"path": path, "depth": len(rows), "z": float(m.z.detach()), "k": m.k,
                         "alpha": float(m.alpha.detach()), "a": float(m.a.detach()) if isinstance(m, LASH) else None})
    return rows
