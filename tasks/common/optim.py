"""Optimiser and learning-rate schedule from the `optim` config group, with timm-style parameter groups."""
from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from ash.modules import ASHBase
from tasks.common.errors import ConfigError

SCHEDULES = (None, "cosine")
ACTIVATION_TYPES = (ASHBase, nn.PReLU)  # modules whose own parameters (z, alpha, a, slopes) are the activation's


def param_groups(model: nn.Module, base_lr: float, act_lr_scale: float = 1.0) -> list[dict]:
    """Weights decay; biases, norm weights and the activations' own parameters do not (timm's
    `param_groups_weight_decay` rule, ndim <= 1), and the activations' parameters train at lr x act_lr_scale."""
    own = {id(p) for m in model.modules() if isinstance(m, ACTIVATION_TYPES) for p in m.parameters(recurse=False)}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if id(p) not in own and p.ndim > 1]},
              {"params": [p for p in trainable if id(p) not in own and p.ndim <= 1], "weight_decay": 0.0},
              {"params": [p for p in trainable if id(p) in own], "weight_decay": 0.0, "lr": base_lr * act_lr_scale}]
    return [g for g in groups if g["params"]]


def build_optimizer(optim_cfg: DictConfig, model: nn.Module, max_epochs: int,
                    act_lr_scale: float = 1.0) -> dict | torch.optim.Optimizer:
    """The optimiser (a `_partial_` target in the config) over `param_groups`, and, if asked, cosine decay with
    linear warmup."""
    if not act_lr_scale > 0:
        raise ConfigError(f"act.lr_scale={act_lr_scale} must be a positive number (1.0 = the optimiser's lr).")
    optimizer = instantiate(optim_cfg.optimizer, _convert_="all")(
        param_groups(model, float(optim_cfg.optimizer.lr), float(act_lr_scale)))
    schedule = optim_cfg.get("scheduler")
    if schedule not in SCHEDULES:
        raise ConfigError(f"Unknown optim.scheduler '{schedule}'. Valid: null, cosine.")
    if schedule is None:
        return optimizer
    warmup = int(optim_cfg.get("warmup_epochs", 0))
    if max_epochs <= warmup:
        raise ConfigError(f"optim.warmup_epochs={warmup} must be smaller than trainer.max_epochs={max_epochs}.")
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs - warmup,
                                                        eta_min=float(optim_cfg.get("min_lr", 0.0)))
    if warmup:
        ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / (warmup + 1), total_iters=warmup)
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])
    else:
        scheduler = cosine
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
