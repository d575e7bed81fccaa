"""Semantic segmentation: pixel-wise cross-entropy (255 ignored); mIoU, pixel accuracy, per-class IoU (torchmetrics)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from tasks.common.run_record import PER_CLASS_IOU, SAMPLES, RunRecord
from tasks.common.task_module import TaskModule
from tasks.seg.metrics import per_class_iou, segmentation_metrics
from tasks.seg.models import build_model
from tasks.seg.samples import sample_indices, write_samples


class SegmentationTask(TaskModule):
    monitor, monitor_mode = "val/miou", "max"

    def __init__(self, cfg: DictConfig, num_classes: int, in_chans: int, mean: tuple[float, ...],
                 std: tuple[float, ...], class_names: list[str], palette: list[int], ignore_index: int = 255) -> None:
        super().__init__(cfg)
        self.model = build_model(cfg.model, num_classes, in_chans, self.act_layer)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.ignore_index, self.class_names, self.palette = ignore_index, class_names, palette
        metrics = segmentation_metrics(num_classes, ignore_index)
        self.metrics = torch.nn.ModuleDict({
            f"{s}_metrics": metrics.clone(prefix=f"{s}/") for s in ("train", "val", "test")})
        self.per_class = torch.nn.ModuleDict({s: per_class_iou(num_classes, ignore_index) for s in ("val", "test")})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)

    def step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, ignore_index=self.ignore_index)
        self.log_loss(stage, loss, batch_size=len(y))
        preds = logits.detach().argmax(1)
        metrics = self.metrics[f"{stage}_metrics"]
        metrics.update(preds, y)
        self.log_dict(metrics, on_step=False, on_epoch=True, sync_dist=True, prog_bar=stage == "val",
                      batch_size=len(y))
        if stage in self.per_class:
            self.per_class[stage].update(preds, y)
        return loss

    def on_validation_epoch_end(self) -> None:
        self._save_per_class("val")

    def on_test_epoch_end(self) -> None:
        self._save_per_class("test")

    def _save_per_class(self, stage: str) -> None:
        """Append this epoch's IoU of every class to <run>/per_class_iou.csv (NaN: class absent in both)."""
        metric = self.per_class[stage]
        iou = metric.compute().tolist()  # synchronised over ranks; every rank must call it
        metric.reset()
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        RunRecord(self.trainer.default_root_dir).append_rows(
            PER_CLASS_IOU, ["stage", "epoch", "class", "name", "iou"],
            ([stage, self.current_epoch, c, name, value] for c, (name, value) in enumerate(zip(self.class_names, iou))))

    def on_fit_end(self) -> None:
        """Predictions of fixed validation items with the final weights -> <run>/samples/ (rank 0)."""
        if not self.trainer.is_global_zero:
            return
        dataset = self.trainer.datamodule.val_set
        indices = sample_indices(len(dataset), int(self.cfg.task.get("num_samples", 4)))
        meta = {"data": self.cfg.data.name, "model": self.cfg.model.name, "num_classes": len(self.class_names),
                "ignore_index": self.ignore_index, "epoch": self.current_epoch}
        folder = RunRecord(self.trainer.default_root_dir).path(SAMPLES)
        write_samples(self, dataset, folder, indices, self.palette, meta)
