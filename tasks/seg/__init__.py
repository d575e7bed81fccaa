"""Semantic segmentation (embedded digitscenes, ADE20K, PASCAL VOC; smp U-Net, DeepLabV3+, EfficientNet-FPN)."""
from __future__ import annotations

from omegaconf import DictConfig

from tasks.seg.data import DATAMODULES, SegDataModule


def build_module(cfg: DictConfig, datamodule: SegDataModule):
    """The LightningModule for this config, sized to the data (classes, normalisation, palette)."""
    from tasks.seg.module import SegmentationTask

    dm = datamodule
    return SegmentationTask(cfg, num_classes=dm.num_classes, in_chans=dm.in_chans, mean=dm.mean, std=dm.std,
                            class_names=dm.class_names, palette=dm.palette, ignore_index=dm.ignore_index)
