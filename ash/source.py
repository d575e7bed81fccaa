"""Static analysis of a module class's source: the methods reachable from forward, the call sites of a
child (``self.relu(...)``), the order in which forward first uses each child, and functional activations."""

from __future__ import annotations

import ast
import inspect
import textwrap

from torch import nn

from .swappable import FUNCTIONAL_ACTS

__all__ = ["parse_function", "remember_source", "is_self_attr", "reachable_methods", "call_sites",
           "functional_calls", "child_use_order"]

_src_cache: dict[object, tuple[ast.FunctionDef, int, str] | None] = {}


def parse_function(func) -> tuple[ast.FunctionDef, int, str] | None:
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


def remember_source(func, parsed: tuple[ast.FunctionDef, int, str]) -> None:
    """Record the AST of a function made from rewritten source (so that later analyses see it)."""
    _src_cache[func.__code__] = parsed


def _resolve(cls: type, name: str, after: type | None = None):
    """(defining class, name, function) of method ``name`` on cls (after ``after`` in the MRO), or None."""
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


def _is_torch_own(c: type) -> bool:
    return c is nn.Module or c.__module__.startswith("torch.nn.modules")


def is_self_attr(node: ast.AST, name: str | None = None) -> bool:
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
            and (name is None or node.attr == name))


def reachable_methods(cls: type) -> list[tuple[type, str, object]] | None:
    """(defining class, name, function) of the methods reachable from forward, in discovery order."""
    def resolve(name: str, after: type | None = None):
        return _resolve(cls, name, after)

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
        parsed = parse_function(item[2])
        if parsed is None:
            continue
        for node in ast.walk(parsed[0]):
            if isinstance(node, ast.Attribute) and is_self_attr(node):
                r = resolve(node.attr)
                if r is not None:
                    queue.append(r)
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call)
                  and isinstance(node.value.func, ast.Name) and node.value.func.id == "super"):
                queue.append(resolve(node.attr, after=item[0]))
    return order


def call_sites(cls: type, name: str) -> tuple[list[tuple[type, str, ast.Call]], bool]:
    """Calls ``self.<name>(...)`` in the methods reachable from forward, and whether all uses are calls."""
    methods = reachable_methods(cls)
    if methods is None:
        return [], False
    calls, uses = [], 0
    for defcls, mname, func in methods:
        parsed = parse_function(func)
        if parsed is None:
            return [], False
        here = []
        for node in ast.walk(parsed[0]):
            if is_self_attr(node, name):
                uses += 1
            if isinstance(node, ast.Call) and is_self_attr(node.func, name):
                here.append((defcls, mname, node))
        calls += sorted(here, key=lambda c: (c[2].lineno, c[2].col_offset))
    return calls, uses == len(calls)


def functional_calls(cls: type) -> list[tuple[str, str]]:
    """(file:line, code) of functional activation calls in cls's reachable methods."""
    out = []
    for _, _, func in reachable_methods(cls) or []:
        parsed = parse_function(func)
        if parsed is None:
            continue
        for node in ast.walk(parsed[0]):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            f = node.func
            if f.attr not in FUNCTIONAL_ACTS or is_self_attr(f):
                continue
            base = ast.unparse(f.value)
            if base in ("F", "torch", "nn.functional", "torch.nn.functional", "functional") or (
                    f.attr.endswith("_") or f.attr in ("relu", "sigmoid")) and not base.startswith("self."):
                out.append((f"{parsed[2]}:{node.lineno}", ast.unparse(node)[:80]))
    return sorted(set(out))


class _UseOrder(ast.NodeVisitor):
    """``self.<attr>`` names in evaluation order: call arguments before the callee, an assignment's value
    before its targets, a loop's iterable before its body; methods of self are followed where called."""

    def __init__(self, cls: type) -> None:
        self.cls, self.names, self.stack = cls, [], []

    def method(self, item) -> None:
        if item is None or _is_torch_own(item[0]) or (item[0], item[1]) in self.stack:
            return
        parsed = parse_function(item[2])
        if parsed is None:
            return
        self.stack.append((item[0], item[1]))
        for stmt in parsed[0].body:
            self.visit(stmt)
        self.stack.pop()

    def visit_Call(self, node: ast.Call) -> None:
        for arg in [*node.args, *node.keywords]:
            self.visit(arg)
        f = node.func
        if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
                and f.value.func.id == "super" and self.stack):
            self.method(_resolve(self.cls, f.attr, after=self.stack[-1][0]))
        else:
            self.visit(f)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if is_self_attr(node):
            self.names.append(node.attr)
            self.method(_resolve(self.cls, node.attr))
        else:
            self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            self.visit(t)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)


_use_order_cache: dict[type, list[str]] = {}


def child_use_order(cls: type) -> list[str]:
    """Attribute names in the order forward first uses them (statically); [] if forward's source is unknown."""
    if cls not in _use_order_cache:
        v = _UseOrder(cls)
        start = _resolve(cls, "forward")
        if start is not None and not _is_torch_own(start[0]):
            v.method(start)
        _use_order_cache[cls] = list(dict.fromkeys(v.names))
    return _use_order_cache[cls]

