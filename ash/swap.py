"""Put an activation into any model: one new module per call site, functional uses reported.

A *call site* is a place in a parent module's code that calls a child activation module. Sites
are found statically, from the source of the parent's methods reachable from ``forward``: a
module called twice in a forward (torchvision's BasicBlock calls ``self.relu`` at two lines) has
two sites. A site inside a loop (a head applied to every FPN level) is one site. A parent whose
child has several sites gets a per-class subclass whose methods call ``self.relu``,
``self.relu_site1``, ... (the source, rewritten once per class; attribute access only, so
``torch.compile``, DDP and ``copy.deepcopy`` work; pickling the whole model object does not - save
``state_dict()`` instead). Calls such as ``F.relu(x)`` cannot be swapped; they are listed in the
report's ``functional`` field (and, with ``example_input``, confirmed by running a forward).
"""

from __future__ import annotations

import fnmatch
from typing import Callable

import torch
from torch import nn

from .observe import active_calls, confirm_functional, observe_calls
from .parameters import ash_parameters  # noqa: F401  (kept importable from here)
from .registry import build_activation
from .report import FunctionalUse, SwapReport, SwapRow
from .rewrite import untied_class
from .source import call_sites, functional_calls
from .swappable import CONTAINERS, SWAPPABLE_TYPES, is_swappable

__all__ = ["swap_activations", "SwapReport", "SwapRow", "FunctionalUse", "SWAPPABLE_TYPES", "is_swappable"]


# ---------------------------------------------------------------------------------------------
# the swap
# ---------------------------------------------------------------------------------------------
def _matches(path: str, patterns) -> bool:
    if patterns is None:
        return False
    if isinstance(patterns, str):
        patterns = [patterns]
    for p in patterns:
        if callable(p):
            if p(path):
                return True
        elif path == p or path.startswith(p + ".") or fnmatch.fnmatchcase(path, p):
            return True
    return False


def _factory(name_or_factory, kwargs) -> Callable[[], nn.Module]:
    if isinstance(name_or_factory, str):
        build_activation(name_or_factory, **kwargs)  # fail early: unknown name or bad kwargs
        return lambda: build_activation(name_or_factory, **kwargs)
    if not callable(name_or_factory):
        raise TypeError("name_or_factory must be a config name (e.g. 'ash') or a callable returning an nn.Module")
    return lambda: name_or_factory(**kwargs)


@torch.no_grad()
def swap_activations(model: nn.Module, name_or_factory: str | Callable[..., nn.Module], include=None, exclude=None,
                     *, example_input=None, **kwargs) -> SwapReport:
    """Replace, in place, every activation module of model with a new one per call site; returns a report.

    include / exclude: module path prefixes, globs (``"generator.*"``) or predicates on the path.
    example_input: optional input (tensor, tuple or dict) for a forward that confirms functional uses.
    kwargs go to the activation's constructor (``swap_activations(m, "fash", k=25)``).
    """
    make = _factory(name_or_factory, kwargs)
    observed = observe_calls(model, example_input) if example_input is not None else {}
    plans: list[tuple[nn.Module, str, str, nn.Module, list]] = []
    done_parents: set[int] = set()
    for ppath, parent in model.named_modules(remove_duplicate=False):
        if id(parent) in done_parents:
            continue
        done_parents.add(id(parent))
        for cname, child in list(parent._modules.items()):
            if child is None or not is_swappable(child):
                continue
            path = f"{ppath}.{cname}" if ppath else cname
            if include is not None and not _matches(path, include):
                continue
            if _matches(path, exclude):
                continue
            calls, only_calls = ([], True) if isinstance(parent, CONTAINERS) else call_sites(type(parent), cname)
            if not only_calls:
                calls = []
            plans.append((parent, ppath, cname, child, calls))

    # parents whose child is called at several sites get a rewritten subclass
    renames: dict[int, dict[tuple[type, str], dict[tuple[int, int], str]]] = {}
    n_sites: dict[tuple[int, str], int] = {}
    for parent, _, cname, child, calls in plans:
        active = active_calls(calls, observed.get((id(child), id(parent))))
        n_sites[(id(parent), cname)] = max(1, len(active))
        if len(active) > 1:
            ren = renames.setdefault(id(parent), {})
            for i, (defcls, mname, node) in enumerate(active[1:], start=1):
                ren.setdefault((defcls, mname), {})[(node.lineno, node.col_offset)] = f"{cname}_site{i}"
    untied_ok: dict[int, bool] = {}
    for parent, *_ in plans:
        if id(parent) in renames and id(parent) not in untied_ok:
            sub = untied_class(type(parent), renames[id(parent)])
            untied_ok[id(parent)] = sub is not None
            if sub is not None:
                parent.__class__ = sub

    rows: list[SwapRow] = []
    for parent, ppath, cname, child, calls in plans:
        path = f"{ppath}.{cname}" if ppath else cname
        n = n_sites[(id(parent), cname)]
        note = ""
        if n > 1 and not untied_ok.get(id(parent), False):
            note, n = f"{n} sites share one module: the source could not be rewritten", 1
        elif example_input is not None and (id(child), -1) not in observed:
            note = "not called by the example forward"
        new_paths = []
        for i in range(n):
            new = make()
            _match_device(new, child)
            attr = cname if i == 0 else f"{cname}_site{i}"
            setattr(parent, attr, new)
            if attr == "activation" and hasattr(parent, "activation_relu_or_gelu"):
                # nn.Transformer*Layer's inference fast path runs its own relu/gelu, not self.activation
                parent.activation_relu_or_gelu = 0
            new_paths.append(f"{ppath}.{attr}" if ppath else attr)
        rows.append(SwapRow(path, type(child).__name__, type(new).__name__, n, new_paths, note))

    report = SwapReport(rows, _find_functional(model))
    if example_input is not None:
        confirm_functional(model, example_input, report)
    return report



def _match_device(new: nn.Module, old: nn.Module) -> None:
    t = next(iter(list(old.parameters()) + list(old.buffers())), None)
    if t is not None:
        new.to(t.device)


def _find_functional(model: nn.Module) -> list[FunctionalUse]:
    seen: dict[type, str] = {}
    for path, m in model.named_modules():
        if type(m) not in seen and not is_swappable(m):
            seen[type(m)] = path
    out = []
    for cls, path in seen.items():
        for where, code in functional_calls(cls):
            out.append(FunctionalUse(where, f"{cls.__name__} ({path or 'model'})", code))
    return out
