"""Runtime hooks: which code locations call each activation in an example forward, and the functional
activations that a forward really runs."""

from __future__ import annotations

import sys

import torch
from torch import nn

from .report import FunctionalUse, SwapReport
from .swappable import FUNCTIONAL_ACTS, is_swappable

__all__ = ["observe_calls", "run_forward", "active_calls", "confirm_functional"]


def observe_calls(model: nn.Module, example_input) -> dict[tuple[int, int], set[tuple[str, int]]]:
    """Run one forward; for each (activation, calling module) the code locations that called it."""
    seen: dict[tuple[int, int], set[tuple[str, int]]] = {}
    module_py = nn.Module.__call__.__code__.co_filename

    def hook(mod, _args):
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename == module_py:
            f = f.f_back
        if f is not None:
            owner = f.f_locals.get("self")
            seen.setdefault((id(mod), id(owner)), set()).add((f.f_code.co_filename, f.f_lineno))
            seen.setdefault((id(mod), -1), set()).add((f.f_code.co_filename, f.f_lineno))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if is_swappable(m)]
    try:
        run_forward(model, example_input)
    finally:
        for h in handles:
            h.remove()
    return seen


def run_forward(model: nn.Module, example_input) -> None:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if isinstance(example_input, dict):
                model(**example_input)
            elif isinstance(example_input, tuple):
                model(*example_input)
            else:
                model(example_input)
    finally:
        model.train(was_training)


def active_calls(calls, observed: set[tuple[str, int]] | None):
    """The static calls that the example forward reached (all of them if none matched)."""
    if not observed:
        return calls
    active = []
    for c in calls:
        fname = c[0].__dict__[c[1]].__code__.co_filename
        node = c[2]
        if any(f == fname and node.lineno <= line <= (node.end_lineno or node.lineno) for f, line in observed):
            active.append(c)
    return active or calls



class FunctionalRecorder(torch.overrides.TorchFunctionMode):
    NAMES = FUNCTIONAL_ACTS

    def __init__(self) -> None:
        super().__init__()
        self.hits: dict[str, str] = {}

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.NAMES:
            frame = sys._getframe(1)
            while frame is not None and ("/torch/" in frame.f_code.co_filename or "/ash/" in frame.f_code.co_filename):
                frame = frame.f_back
            if frame is not None and not any(n in frame.f_code.co_name for n in ("_call_impl",)):
                owner = frame.f_locals.get("self")
                if not is_swappable(owner) if isinstance(owner, nn.Module) else True:
                    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
                    self.hits.setdefault(where, f"{type(owner).__name__ if owner is not None else '?'}: {name}")
        return func(*args, **(kwargs or {}))



def confirm_functional(model: nn.Module, example_input, report: SwapReport) -> None:
    rec = FunctionalRecorder()
    with rec:
        run_forward(model, example_input)
    known = {f.where for f in report.functional}
    for where, what in rec.hits.items():
        if where not in known:
            report.functional.append(FunctionalUse(where, what.split(":")[0], what.split(": ")[-1] + "(...) [seen at run time]"))
