"""What swap_activations returns: one row per replaced module, plus the functional uses left in place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["SwapRow", "FunctionalUse", "SwapReport"]


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
