"""ASH, L-ASH and F-ASH-k as nn.Modules (thin wrappers over the fused Function)."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from . import functional as AF
from .percentile import k_from_z, z_from_k

__all__ = ["ASH", "LASH", "FASH", "ASHBase"]

_call_counter = itertools.count()


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not alpha > 0 or math.isinf(alpha):
        raise ValueError(
            f"alpha={alpha!r} must be a finite positive number (the sigmoid's sharpness); "
            "use e.g. alpha=1.0, or hard=True for the alpha -> infinity limit"
        )
    return alpha


class ASHBase(nn.Module):
    """Shared machinery: per-layer scalar alpha and z, options, first-call order for reports."""

    def __init__(self, alpha: float = 1.0, z: float = 0.0, *, learn_alpha: bool = True, learn_z: bool = True,
                 stats: str = "sample", detach_stats: bool = False, hard: bool = False, eps: float = 1e-5,
                 inplace: bool | None = None) -> None:
        super().__init__()
        del inplace  # accepted so that timm's act_layer(inplace=True) works; ASH is never in place
        if stats not in AF.STATS_MODES:
            raise ValueError(f"stats={stats!r} is not valid; use stats='sample', 'channel' or 'token'")
        if not eps > 0:
            raise ValueError(f"eps={eps!r} must be > 0 (it keeps sigma > 0 on constant maps); use eps=1e-5")
        alpha = _check_alpha(alpha)
        self.stats, self.detach_stats, self.hard, self.eps = stats, bool(detach_stats), bool(hard), float(eps)
        self._register_scalar("alpha", alpha, learn_alpha)
        self._register_scalar("z", float(z), learn_z)
        self.call_index: int | None = None  # order of the first call, for ash_parameters

    def _register_scalar(self, name: str, value: float, learn: bool) -> None:
        t = torch.tensor(value, dtype=torch.float32)
        if learn:
            self.register_parameter(name, nn.Parameter(t))
        else:
            self.register_buffer(name, t)

    @property
    def k(self) -> float:
        """Percent of a normal input that the current z keeps."""
        return k_from_z(float(self.z.detach()))

    def _note_call(self) -> None:
        if self.call_index is None and not torch.compiler.is_compiling():
            self.call_index = next(_call_counter)

    def extra_repr(self) -> str:
        parts = [f"alpha={float(self.alpha.detach()):.4g}", f"z={float(self.z.detach()):.4g}"]
        if self.stats != "sample":
            parts.append(f"stats={self.stats!r}")
        if self.detach_stats:
            parts.append("detach_stats=True")
        if self.hard:
            parts.append("hard=True")
        return ", ".join(parts)


class ASH(ASHBase):
    """Adaptive SwisH: y = x * sigmoid(2 alpha (x - mu - z sigma)); z and alpha learnable scalars."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._note_call()
        return AF.ash(x, self.alpha, self.z, stats=self.stats, detach_stats=self.detach_stats,
                      hard=self.hard, eps=self.eps)


class LASH(ASHBase):
    """Leaky ASH (eq. A8): y = s x + a (1 - s) x, a > 0 learnable.

    a is kept positive by an exp parametrisation: the parameter is ``log_a`` and ``a`` is the
    property exp(log_a) (like PReLU, its gradient scales with a).
    """

    def __init__(self, alpha: float = 1.0, z: float = 0.0, a: float = 0.01, *, learn_a: bool = True, **kwargs) -> None:
        super().__init__(alpha, z, **kwargs)
        a = float(a)
        if not a > 0 or math.isinf(a):
            raise ValueError(f"a={a!r} must be a finite positive number (the leak slope); use e.g. a=0.01")
        t = torch.tensor(math.log(a), dtype=torch.float32)
        if learn_a:
            self.log_a = nn.Parameter(t)
        else:
            self.register_buffer("log_a", t)

    @property
    def a(self) -> torch.Tensor:
        """The leak slope, exp(log_a) > 0."""
        return self.log_a.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._note_call()
        return AF.lash(x, self.alpha, self.z, self.a, stats=self.stats, detach_stats=self.detach_stats,
                       hard=self.hard, eps=self.eps)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", a={float(self.a.detach()):.4g}"


class FASH(ASH):
    """F-ASH-k: ASH with z fixed at Phi^-1(1 - k/100) (a buffer named ``z``); keeps the top k %."""

    def __init__(self, k: float, alpha: float = 1.0, **kwargs) -> None:
        kwargs.pop("learn_z", None)
        kwargs.pop("z", None)
        super().__init__(alpha, z_from_k(k), learn_z=False, **kwargs)
        self.k_fixed = float(k)

    def extra_repr(self) -> str:
        return f"k={self.k_fixed:g}, " + super().extra_repr()
