"""Generation task: DCGAN on the embedded digits (32x32) or CelebA (64x64); fixed-noise sample grids per epoch."""
from __future__ import annotations

from omegaconf import DictConfig

from tasks.common.data_module import BaseDataModule
from tasks.gan.data import DATAMODULES


def build_module(cfg: DictConfig, datamodule: BaseDataModule):
    """The LightningModule for this config, sized to the data (channels, image size)."""
    from tasks.gan.module import GanTask

    return GanTask(cfg, in_chans=datamodule.in_chans, image_size=int(cfg.data.image_size))
