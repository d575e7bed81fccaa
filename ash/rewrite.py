"""Untying a module used at several call sites: a subclass whose methods call distinct attributes.

The parent's method source is parsed, each extra call ``self.relu(...)`` renamed to ``self.relu_site1``
etc., and compiled once per (class, renames) with ``exec`` of the model's own source.
"""

from __future__ import annotations

import ast
import copy

from .source import parse_function, remember_source

__all__ = ["untied_class"]


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
    parsed = parse_function(func)
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
    remember_source(new, (fdef, parsed[1], parsed[2]))  # so that a second swap sees the new calls
    return new


def untied_class(cls: type, renames: dict[tuple[type, str], dict[tuple[int, int], str]]) -> type | None:
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
