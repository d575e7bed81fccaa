"""Classification task (ImageNet / CIFAR / embedded digits; ResNet-164, WRN-28-10, DenseNet-100-12, timm)."""
from __future__ import annotations

from omegaconf import DictConfig

from tasks.cls.data import DATAMODULES
from tasks.common.data_module import BaseDataModule


def build_module(cfg: DictConfig, datamodule: BaseDataModule):
    """The LightningModule for this config, sized to the data (classes, channels)."""
    from tasks.cls.module import ClassificationTask

    return ClassificationTask(cfg, num_classes=datamodule.num_classes, in_chans=datamodule.in_chans)
