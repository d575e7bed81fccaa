"""The base LightningModule: config, activation factory, optimiser. Tasks add forward, loss and metrics."""
from __future__ import annotations

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from tasks.common.activation import act_factory
from tasks.common.optim import build_optimizer


class TaskModule(pl.LightningModule):
    """Shared behaviour of all tasks; subclasses set `monitor`/`monitor_mode` and implement the steps."""

    monitor: str = "val/loss"
    monitor_mode: str = "min"

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.save_hyperparameters({"config": OmegaConf.to_container(cfg, resolve=True)})
        self.act_layer = act_factory(cfg.act)

    def configure_optimizers(self):
        max_epochs = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 1
        return build_optimizer(self.cfg.optim, self.parameters(), max_epochs)

    def log_loss(self, stage: str, loss, batch_size: int) -> None:
        """Per-epoch loss, averaged over all ranks."""
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, sync_dist=True,
                 prog_bar=stage != "test", batch_size=batch_size)
