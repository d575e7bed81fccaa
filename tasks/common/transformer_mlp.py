"""The MLP of a transformer block for the configured activation: timm's Mlp with the activation at its one
call site, or, for `act=swiglu`, timm's gated MLP (SiLU gate) with the same number of weights."""
from __future__ import annotations

from functools import partial
from typing import Callable

from omegaconf import DictConfig
from timm.layers import GluMlp, Mlp
from torch import nn

from tasks.common.activation import is_gated


def gated_hidden(dim: int, mlp_ratio: float) -> int:
    """fc1's width of a gated MLP with the weights of Mlp(dim, dim * mlp_ratio): Mlp has 2 d h weights and the
    gated one d h' + (h'/2) d (fc1 makes value and gate, fc2 reads h'/2), so h' = 4 h / 3, rounded to even."""
    hidden = int(dim * mlp_ratio)
    return 2 * round(2 * hidden / 3)


def build_mlp(dim: int, mlp_ratio: float, act_cfg: DictConfig, act_layer: Callable[..., nn.Module]) -> nn.Module:
    """One block's MLP: dim -> hidden -> dim."""
    if is_gated(act_cfg):
        return GluMlp(dim, gated_hidden(dim, mlp_ratio), act_layer=nn.SiLU, gate_last=False)
    return Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer)


def timm_mlp_kwargs(act_cfg: DictConfig, dim: int, mlp_ratio: float) -> dict:
    """Keyword arguments of a timm VisionTransformer that make its MLPs gated (empty for an elementwise act).
    timm sizes fc1 as int(dim * mlp_ratio); the half keeps that int exact."""
    if not is_gated(act_cfg):
        return {}
    ratio = (gated_hidden(dim, mlp_ratio) + 0.5) / dim
    return {"mlp_layer": partial(GluMlp, gate_last=False), "act_layer": nn.SiLU, "mlp_ratio": ratio}
