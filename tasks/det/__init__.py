"""Object detection (embedded digitscenes, COCO 2017, PASCAL VOC; torchvision Faster R-CNN, RetinaNet, SSDLite)."""
from __future__ import annotations

from omegaconf import DictConfig

from tasks.det.data import DATAMODULES, DetDataModule


def build_module(cfg: DictConfig, datamodule: DetDataModule):
    """The LightningModule for this config, sized to the data (classes with background; COCO category ids)."""
    from tasks.det.module import DetectionTask

    return DetectionTask(cfg, num_classes=datamodule.num_classes, category_ids=datamodule.category_ids)
