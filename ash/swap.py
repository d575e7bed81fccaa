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

import ast
import copy
import fnmatch
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from .modules import ASHBase, LASH
from .registry import build_activation

__all__ = ["swap_activations", "SwapReport", "SwapRow", "FunctionalUse", "ash_parameters", "SWAPPABLE_TYPES",
           "is_swappable"]

SWAPPABLE_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.SiLU, nn.GELU, nn.ELU, nn.CELU, nn.SELU,
    nn.Softplus, nn.Mish, nn.Hardswish, ASHBase,
)
# Third-party activation classes (timm, efficientnet_pytorch / smp), matched by class name.
SWAPPABLE_NAMES = {
    "Swish", "SwishMe", "SwishJit", "SwishAuto", "MemoryEfficientSwish", "SiLU", "Mish", "MishMe", "MishJit",
    "HardSwish", "HardSwishMe", "HardSwishJit", "HardMish", "HardMishMe", "GELU", "GELUTanh", "QuickGELU",
    "PReLU", "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "Softplus", "Hardswish",
}
_FUNCTIONAL_ACTS = {
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "silu", "silu_", "gelu", "elu", "elu_", "selu",
    "selu_", "celu", "softplus", "mish", "hardswish", "prelu", "rrelu", "swish",
}
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_swappable(module: nn.Module) -> bool:
    """Whether swap_activations replaces this module (hidden-layer activations only, not Sigmoid/Tanh)."""
    return isinstance(module, SWAPPABLE_TYPES) or type(module).__name__ in SWAPPABLE_NAMES


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
@dataclass
class SwapRow:
    """One replaced module: its path, old and new type, and how many call sites it had."""

    path: str
    old_type: str
    new_type: str
    sites: int
    new_paths: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class FunctionalUse:
    """A functional activation (F.relu, x.relu_(), ...) in a model's code: not swappable."""

    where: str  # file:line
    owner: str  # class (and first module path) whose code contains it
    code: str


class SwapReport(list):
    """Rows of swapped modules plus the functional activations left in place."""

    def __init__(self, rows: Iterable[SwapRow] = (), functional: Iterable[FunctionalUse] = ()) -> None:
        super().__init__(rows)
        self.functional: list[FunctionalUse] = list(functional)

    @property
    def n_sites(self) -> int:
        """Call sites swapped (= new modules)."""
        return sum(r.sites for r in self)

    def __str__(self) -> str:
        w = max([len(r.path) for r in self] + [4])
        lines = [f"{'path':<{w}}  {'old':<22} {'new':<10} sites",
                 f"{'-' * w}  {'-' * 22} {'-' * 10} -----"]
        lines += [f"{r.path:<{w}}  {r.old_type:<22} {r.new_type:<10} {r.sites:>5}" + (f"  ({r.note})" if r.note else "")
                  for r in self]
        lines.append(f"{len(self)} modules, {self.n_sites} call sites -> {self.n_sites} new modules")
        if self.functional:
            lines.append(f"NOT swapped: {len(self.functional)} functional activation call(s):")
            lines += [f"  {f.where}  in {f.owner}: {f.code}" for f in self.functional]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# static analysis of a class's methods
# ---------------------------------------------------------------------------------------------
def _user_classes(cls: type) -> list[type]:
    """cls and its bases below nn.Module that are not torch's own containers."""
    return [c for c in cls.__mro__ if c not in (nn.Module, object) and issubclass(c, nn.Module)
            and not c.__module__.startswith("torch.nn.modules")]


_src_cache: dict[object, tuple[ast.FunctionDef, int, str] | None] = {}


def _parse_function(func) -> tuple[ast.FunctionDef, int, str] | None:
    """AST of a function (line numbers of its file), or None if its source is unavailable."""
    key = getattr(func, "__code__", func)
    if key in _src_cache:
        return _src_cache[key]
    out = None
    try:
        lines, start = inspect.getsourcelines(func)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        node = tree.body[0]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ast.increment_lineno(tree, start - 1)
            out = (node, start, inspect.getsourcefile(func) or "<unknown>")
    except (OSError, TypeError, SyntaxError, IndexError):
        out = None
    _src_cache[key] = out
    return out


def _is_self_attr(node: ast.AST, name: str | None = None) -> bool:
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
            and (name is None or node.attr == name))


def _reachable_methods(cls: type) -> list[tuple[type, str, object]] | None:
    """(defining class, name, function) of the methods reachable from forward, in discovery order."""
    def resolve(name: str, after: type | None = None):
        mro = cls.__mro__
        if after is not None:
            mro = mro[mro.index(after) + 1:]
        for c in mro:
            if name in c.__dict__:
                f = c.__dict__[name]
                if isinstance(f, (staticmethod, classmethod)):
                    return None
                return (c, name, f) if inspect.isfunction(f) else None
        return None

    start = resolve("forward")
    if start is None or start[0] in (nn.Module,) or start[0].__module__.startswith("torch.nn.modules"):
        return None
    seen, order, queue = set(), [], [start]
    while queue:
        item = queue.pop(0)
        if item is None or (item[0], item[1]) in seen:
            continue
        seen.add((item[0], item[1]))
        if item[0].__module__.startswith("torch.nn.modules") or item[0] is nn.Module:
            continue
        order.append(item)
        parsed = _parse_function(item[2])
        if parsed is None:
            continue
        for node in ast.walk(parsed[0]):
            if isinstance(node, ast.Attribute) and _is_self_attr(node):
                r = resolve(node.attr)
                if r is not None:
                    queue.append(r)
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call)
                  and isinstance(node.value.func, ast.Name) and node.value.func.id == "super"):
                queue.append(resolve(node.attr, after=item[0]))
    return order


def _call_sites(cls: type, name: str) -> tuple[list[tuple[type, str, ast.Call]], bool]:
    """Calls ``self.<name>(...)`` in the methods reachable from forward, and whether all uses are calls."""
    methods = _reachable_methods(cls)
    if methods is None:
        return [], False
    calls, uses = [], 0
    for defcls, mname, func in methods:
        parsed = _parse_function(func)
        if parsed is None:
            return [], False
        here = []
        for node in ast.walk(parsed[0]):
            if _is_self_attr(node, name):
                uses += 1
            if isinstance(node, ast.Call) and _is_self_attr(node.func, name):
                here.append((defcls, mname, node))
        calls += sorted(here, key=lambda c: (c[2].lineno, c[2].col_offset))
    return calls, uses == len(calls)


# ---------------------------------------------------------------------------------------------
# untying a module used at several sites: a subclass whose methods call distinct attributes
# ---------------------------------------------------------------------------------------------
class _Renamer(ast.NodeTransformer):
    def __init__(self, renames: dict[tuple[int, int], str]) -> None:
        self.renames = renames

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        new = self.renames.get((node.lineno, node.col_offset))
        if new is not None and isinstance(node.func, ast.Attribute):
            node.func = ast.copy_location(ast.Attribute(value=node.func.value, attr=new, ctx=ast.Load()), node.func)
        return node


_subclass_cache: dict[tuple, type] = {}


def _rewrite_function(defcls: type, func, renames: dict[tuple[int, int], str]):
    parsed = _parse_function(func)
    if parsed is None or set(func.__code__.co_freevars) - {"__class__"}:
        return None
    fdef = _Renamer(renames).visit(copy.deepcopy(parsed[0]))  # keeps the original line numbers
    fdef.decorator_list = []
    maker = ast.FunctionDef(
        name="__ash_make", args=ast.arguments(posonlyargs=[], args=[ast.arg("__class__")], kwonlyargs=[], kw_defaults=[],
                                              defaults=[]),
        body=[fdef, ast.Return(ast.Name(fdef.name, ast.Load()))], decorator_list=[], returns=None, type_params=[])
    mod = ast.fix_missing_locations(ast.Module(body=[maker], type_ignores=[]))
    ns: dict = {}
    exec(compile(mod, parsed[2], "exec"), func.__globals__, ns)  # noqa: S102 - the model's own source
    new = ns["__ash_make"](defcls)
    new.__defaults__, new.__kwdefaults__ = func.__defaults__, func.__kwdefaults__
    new.__doc__, new.__qualname__ = func.__doc__, func.__qualname__
    _src_cache[new.__code__] = (fdef, parsed[1], parsed[2])  # so that a second swap sees the new calls
    return new


def _untied_class(cls: type, renames: dict[tuple[type, str], dict[tuple[int, int], str]]) -> type | None:
    """Subclass of cls whose methods call the renamed attributes (per call node position)."""
    key = (cls, tuple(sorted((c.__qualname__, m, tuple(sorted(r.items()))) for (c, m), r in renames.items())))
    if key in _subclass_cache:
        return _subclass_cache[key]
    attrs = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
    for (defcls, mname), ren in renames.items():
        new = _rewrite_function(defcls, defcls.__dict__[mname], ren)
        if new is None:
            return None
        attrs[mname] = new
    sub = type(cls.__name__, (cls,), attrs)
    _subclass_cache[key] = sub
    return sub


def _observe_calls(model: nn.Module, example_input) -> dict[tuple[int, int], set[tuple[str, int]]]:
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
        _run(model, example_input)
    finally:
        for h in handles:
            h.remove()
    return seen


def _run(model: nn.Module, example_input) -> None:
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


def _active_calls(calls, observed: set[tuple[str, int]] | None):
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


# ---------------------------------------------------------------------------------------------
# functional activations
# ---------------------------------------------------------------------------------------------
def _functional_calls(cls: type) -> list[tuple[str, str]]:
    """(file:line, code) of functional activation calls in cls's reachable methods."""
    out = []
    for _, _, func in _reachable_methods(cls) or []:
        parsed = _parse_function(func)
        if parsed is None:
            continue
        for node in ast.walk(parsed[0]):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            f = node.func
            if f.attr not in _FUNCTIONAL_ACTS or _is_self_attr(f):
                continue
            base = ast.unparse(f.value)
            if base in ("F", "torch", "nn.functional", "torch.nn.functional", "functional") or (
                    f.attr.endswith("_") or f.attr in ("relu", "sigmoid")) and not base.startswith("self."):
                out.append((f"{parsed[2]}:{node.lineno}", ast.unparse(node)[:80]))
    return sorted(set(out))


class _FunctionalRecorder(torch.overrides.TorchFunctionMode):
    NAMES = _FUNCTIONAL_ACTS

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
    observed = _observe_calls(model, example_input) if example_input is not None else {}
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
            calls, only_calls = ([], True) if isinstance(parent, _CONTAINERS) else _call_sites(type(parent), cname)
            if not only_calls:
                calls = []
            plans.append((parent, ppath, cname, child, calls))

    # parents whose child is called at several sites get a rewritten subclass
    renames: dict[int, dict[tuple[type, str], dict[tuple[int, int], str]]] = {}
    n_sites: dict[tuple[int, str], int] = {}
    for parent, _, cname, child, calls in plans:
        active = _active_calls(calls, observed.get((id(child), id(parent))))
        n_sites[(id(parent), cname)] = max(1, len(active))
        if len(active) > 1:
            ren = renames.setdefault(id(parent), {})
            for i, (defcls, mname, node) in enumerate(active[1:], start=1):
                ren.setdefault((defcls, mname), {})[(node.lineno, node.col_offset)] = f"{cname}_site{i}"
    untied_ok: dict[int, bool] = {}
    for parent, *_ in plans:
        if id(parent) in renames and id(parent) not in untied_ok:
            sub = _untied_class(type(parent), renames[id(parent)])
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
            new_paths.append(f"{ppath}.{attr}" if ppath else attr)
        rows.append(SwapRow(path, type(child).__name__, type(new).__name__, n, new_paths, note))

    report = SwapReport(rows, _find_functional(model))
    if example_input is not None:
        _confirm_functional(model, example_input, report)
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
        for where, code in _functional_calls(cls):
            out.append(FunctionalUse(where, f"{cls.__name__} ({path or 'model'})", code))
    return out


def _confirm_functional(model: nn.Module, example_input, report: SwapReport) -> None:
    rec = _FunctionalRecorder()
    with rec:
        _run(model, example_input)
    known = {f.where for f in report.functional}
    for where, what in rec.hits.items():
        if where not in known:
            report.functional.append(FunctionalUse(where, what.split(":")[0], what.split(": ")[-1] + "(...) [seen at run time]"))


# ---------------------------------------------------------------------------------------------
# learned parameters
# ---------------------------------------------------------------------------------------------
def ash_parameters(model: nn.Module) -> list[dict]:
    """Per ASH-family layer in forward order: path, depth, z, k (%), alpha, a (None unless L-ASH)."""
    layers = [(p, m) for p, m in model.named_modules() if isinstance(m, ASHBase)]
    order = sorted(range(len(layers)),
                   key=lambda i: (layers[i][1].call_index is None, layers[i][1].call_index or 0, i))
    rows = []
    for depth, i in enumerate(order):
        path, m = layers[i]
        z = float(m.z.detach())
        rows.append({"path": path, "depth": depth, "z": z, "k": m.k, "alpha": float(m.alpha.detach()),
                     "a": float(m.a.detach()) if isinstance(m, LASH) else None})
    return rows
