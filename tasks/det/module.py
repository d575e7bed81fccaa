"""Object detection: the detector's own losses (summed) to train; COCO mAP and matched confidence per epoch."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as dist
from omegaconf import DictConfig
from torch import nn

from tasks.common.errors import ConfigError
from tasks.common.run_record import DETECTIONS_TEST, RunRecord
from tasks.common.task_module import TaskModule
from tasks.det.datasets import to_coco_results
from tasks.det.metrics import MAP_KEYS, MAX_DETS, MatchedConfidence, mean_average_precision
from tasks.det.models import MIN_TRAIN_BATCH, build_detector

STAGES = ("val", "test")
# The loss dicts' keys of torchvision's detectors (R-CNN: the first four; RetinaNet, SSD: the last two).
LOSS_PARTS = ("classifier", "box_reg", "objectness", "rpn_box_reg", "classification", "bbox_regression")


class DetectionTask(TaskModule):
    monitor, monitor_mode = "val/map_50", "max"
    train_mean_names = ("loss", *(f"loss_{part}" for part in LOSS_PARTS))

    def __init__(self, cfg: DictConfig, num_classes: int, category_ids: list[int] | None = None) -> None:
        super().__init__(cfg)
        self.model = build_detector(cfg.model, num_classes, self.act_layer)
        self.min_train_batch = MIN_TRAIN_BATCH.get(cfg.model.arch, 1)
        self.val_loss = bool(cfg.task.get("val_loss", True))
        self.category_ids = category_ids  # COCO: written back into test detections (detections_test.json)
        self.maps = nn.ModuleDict({s: mean_average_precision() for s in STAGES})
        self.matched_conf = nn.ModuleDict({s: MatchedConfidence() for s in STAGES})
        self._coco_results: list[dict] = []

    def forward(self, images, targets=None):
        return self.model(list(images), None if targets is None else list(targets))

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None)
        synced = bool(self.cfg.trainer.get("sync_batchnorm")) and self.trainer.world_size > 1  # stats over all devices
        if stage == "fit" and datamodule is not None and not synced and datamodule.batch_size < self.min_train_batch:
            raise ConfigError(batchnorm_message(self.cfg.model.name, self.min_train_batch, self.trainer.world_size))

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, targets = batch
        try:
            losses = self(images, targets)
        except ValueError as e:  # BatchNorm on a single value per channel
            if "more than 1 value per channel" not in str(e):
                raise
            raise ConfigError(batchnorm_message(self.cfg.model.name, 2, self.trainer.world_size)) from e
        return self._log_losses("train", losses, len(images))

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_step(self, batch, stage: str) -> None:
        images, targets = batch
        preds = [{k: v.float() if v.is_floating_point() else v for k, v in p.items()} for p in self(images)]
        self.maps[stage].update(preds, [{k: t[k] for k in ("boxes", "labels", "iscrowd")} for t in targets])
        self.matched_conf[stage].update(preds, targets)
        if self.val_loss:
            with torch.no_grad(), loss_mode(self.model):
                self._log_losses(stage, self(images, [without_crowd(t) for t in targets]), len(images))
        if stage == "test" and self.category_ids:
            for p, t in zip(preds, targets):
                top = p["scores"].argsort(descending=True)[:MAX_DETS].cpu()  # COCO scores 100 per image
                self._coco_results += to_coco_results(p["boxes"].cpu()[top], p["scores"].cpu()[top],
                                                      p["labels"].cpu()[top], t["image_id"], self.category_ids)

    def _log_losses(self, stage: str, losses: dict[str, torch.Tensor], batch_size: int) -> torch.Tensor:
        loss = sum(losses.values())
        self.log_loss(stage, loss, batch_size)
        for key, value in losses.items():
            name = f"loss_{key.removeprefix('loss_')}"
            if stage == "train":
                self.log_train_mean(name, value, batch_size)
            else:
                self.log(f"{stage}/{name}", value, on_step=False, on_epoch=True, sync_dist=True, batch_size=batch_size)
        return loss

    def _log_epoch_metrics(self, stage: str) -> None:
        result = self.maps[stage].compute()
        metrics = {f"{stage}/{k}": result[k].float() for k in MAP_KEYS}
        metrics[f"{stage}/matched_conf"] = self.matched_conf[stage].compute()
        self.log_dict(metrics, prog_bar=stage == "val", sync_dist=True)
        self.maps[stage].reset()
        self.matched_conf[stage].reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")
        if self.category_ids:
            self._write_coco_results()

    def _write_coco_results(self) -> None:
        """COCO results format with the original category ids, ready for the COCO evaluation server."""
        results, self._coco_results = self._coco_results, []
        if dist.is_available() and dist.is_initialized():
            parts = [None] * dist.get_world_size()
            dist.all_gather_object(parts, results)
            results = first_per_image(parts)
        if self.trainer.is_global_zero:
            RunRecord(self.trainer.default_root_dir).write_text(DETECTIONS_TEST, json.dumps(results))


def first_per_image(parts: list[list[dict]]) -> list[dict]:
    """The ranks' detections merged, each image's from one rank (DistributedSampler repeats a few images)."""
    seen, merged = set(), []
    for part in parts:
        ids = {r["image_id"] for r in part}
        merged += [r for r in part if r["image_id"] not in seen]
        seen |= ids
    return merged


def without_crowd(target: dict) -> dict:
    """The target a detector's loss sees: crowd / difficult boxes removed (as in training)."""
    keep = target["iscrowd"] == 0
    return {**target, "boxes": target["boxes"][keep], "labels": target["labels"][keep]}


@contextmanager
def loss_mode(model: nn.Module) -> Iterator[None]:
    """torchvision detectors return losses only in train mode: train mode with BatchNorm and Dropout frozen."""
    was_training = model.training
    model.train()
    for m in model.modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout)):
            m.eval()
    try:
        yield
    finally:
        model.train(was_training)


def batchnorm_message(model: str, need: int, world_size: int) -> str:
    """The error for a training batch too small for the model's BatchNorm layers."""
    return (f"model={model} needs at least {need} images per device in a training step: its smallest feature maps "
            f"are 1x1, and BatchNorm cannot normalise a single value per channel. With {world_size} device(s), set "
            f"data.batch_size to at least {need * world_size} (the global batch).")
