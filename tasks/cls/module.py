"""Image classification: cross-entropy, top-1 / top-5 accuracy (torchmetrics)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from tasks.cls.models import build_model
from tasks.common.task_module import TaskModule


class ClassificationTask(TaskModule):
    monitor, monitor_mode = "val/acc", "max"

    def __init__(self, cfg: DictConfig, num_classes: int, in_chans: int) -> None:
        super().__init__(cfg)
        self.model = build_model(cfg.model, num_classes, in_chans, self.act_layer, cfg.act)
        metrics = {"acc": MulticlassAccuracy(num_classes, average="micro")}
        if num_classes > 5:
            metrics["acc_top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
        self.metrics = torch.nn.ModuleDict({
            f"{stage}_metrics": MetricCollection({k: m.clone() for k, m in metrics.items()}, prefix=f"{stage}/")
            for stage in ("train", "val", "test")})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log_loss(stage, loss, batch_size=len(y))
        metrics = self.metrics[f"{stage}_metrics"]
        metrics.update(logits.detach(), y)
        self.log_dict(metrics, on_step=False, on_epoch=True, sync_dist=True, prog_bar=stage == "val",
                      batch_size=len(y))
        return loss
