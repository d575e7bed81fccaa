"""The base LightningModule: config, activation factory, optimiser, resumable epoch means.
Tasks add forward, loss and metrics."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MeanMetric, Metric

from tasks.common.activation import act_factory
from tasks.common.optim import build_optimizer


class TaskModule(pl.LightningModule):
    """Shared behaviour of all tasks; subclasses set `monitor`/`monitor_mode` and implement the steps."""

    monitor: str = "val/loss"
    monitor_mode: str = "min"
    # DDP must look for parameters without gradients at each backward (a task whose steps skip some).
    ddp_find_unused_parameters: bool = False
    # Metrics whose best value is the minimum: names after `<stage>/` that start with one of these.
    lower_is_better: tuple[str, ...] = ("loss",)
    # Training values averaged per epoch through `log_train_mean` (a subclass adds its own names).
    train_mean_names: tuple[str, ...] = ("loss",)

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.save_hyperparameters({"config": OmegaConf.to_container(cfg, resolve=True)})
        self.act_layer = act_factory(cfg.act)
        self.train_means = nn.ModuleDict({name: MeanMetric() for name in self.train_mean_names})
        self._reset_states: dict[str, dict] = {}  # metric path -> its states as reset (recorded in setup)

    def metric_mode(self, metric: str) -> str:
        """'min' or 'max': how the best value of a logged metric (e.g. val/loss) is chosen."""
        if metric == self.monitor:
            return self.monitor_mode
        return "min" if metric.split("/", 1)[-1].startswith(self.lower_is_better) else "max"

    def setup(self, stage: str) -> None:
        # Metric states go into checkpoints, so an epoch interrupted mid-way resumes its running
        # averages (Lightning does not checkpoint its own epoch aggregation).
        for name, module in self.named_modules():
            if isinstance(module, Metric):
                module.persistent(True)
                self._reset_states.setdefault(name, {attr: _fresh(value) for attr, value in module.metric_state.items()})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # At an epoch end the epoch's metrics are logged and reset only after checkpoint callbacks run:
        # store them reset, so that a resume does not fold the finished epoch into the next one.
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if done < self.trainer.num_training_batches:
            return
        state = checkpoint["state_dict"]
        for name, states in self._reset_states.items():
            for attr, value in states.items():
                if f"{name}.{attr}" in state:
                    state[f"{name}.{attr}"] = _fresh(value)

    def configure_optimizers(self):
        max_epochs = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 1
        return build_optimizer(self.cfg.optim, self, max_epochs, float(self.cfg.act.get("lr_scale", 1.0)))

    def step(self, batch, stage: str) -> torch.Tensor:
        """One batch of `stage` (train, val, test): compute, log and return the loss."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "test")

    def log_train_mean(self, name: str, value: torch.Tensor, batch_size: int, prog_bar: bool = False) -> None:
        """`train/<name>`: the batch-size weighted mean over the epoch, on all ranks (name in train_mean_names)."""
        metric = self.train_means[name]
        metric.update(value.detach(), weight=batch_size)
        self.log(f"train/{name}", metric, on_step=False, on_epoch=True, prog_bar=prog_bar, batch_size=batch_size)

    def log_loss(self, stage: str, loss: torch.Tensor, batch_size: int) -> None:
        """Per-epoch loss, averaged over all ranks."""
        if stage == "train":
            self.log_train_mean("loss", loss, batch_size, prog_bar=True)
            return
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, sync_dist=True,
                 prog_bar=stage != "test", batch_size=batch_size)


def _fresh(value):
    """A copy of a metric state as reset: a tensor's clone, an empty list for list states."""
    return value.clone() if isinstance(value, torch.Tensor) else []
