"""Optimiser and learning-rate schedule from the `optim` config group."""
from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from tasks.common.errors import ConfigError

SCHEDULES = (None, "cosine")


def build_optimizer(optim_cfg: DictConfig, params, max_epochs: int) -> dict | torch.optim.Optimizer:
    """The optimiser (a `_partial_` target in the config) and, if asked, cosine decay with linear warmup."""
    optimizer = instantiate(optim_cfg.optimizer, _convert_="all")(params)
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
