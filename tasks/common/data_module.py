"""The base LightningDataModule: per-device batch size from the global batch, loaders, worker seeding."""
from __future__ import annotations

from typing import Callable

import pytorch_lightning as pl
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from tasks.common.errors import ConfigError, DataError
from tasks.common.seeded_loader import ResumableDataLoader


def per_device_batch_size(global_batch: int, world_size: int) -> int:
    """`data.batch_size` is the global batch (the paper's 32); each device gets an equal share."""
    if global_batch % world_size != 0:
        raise ConfigError(
            f"data.batch_size={global_batch} (the global batch) is not divisible by the {world_size} devices. "
            f"Use a multiple of {world_size}, e.g. data.batch_size={world_size * max(1, global_batch // world_size)}."
        )
    return global_batch // world_size


class BaseDataModule(pl.LightningDataModule):
    """Subclasses fill `train_set`, `val_set`, `test_set` in `setup` and set `num_classes`/`in_chans`."""

    num_classes: int
    in_chans: int = 3
    collate_fn: Callable | None = None

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.batch_size = int(cfg.batch_size)  # replaced by the per-device share once the trainer is known
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def set_world_size(self, world_size: int, seed: int = 0) -> None:
        """Per-device batch from the global one; one process gets a resumable, (seed, epoch)-ordered loader."""
        self.batch_size = per_device_batch_size(int(self.cfg.batch_size), world_size)
        self.world_size, self.seed = world_size, seed

    def _loader(self, dataset: Dataset | None, split: str, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() did not create the {split} set")
        if len(dataset) == 0:
            raise DataError(f"The {split} split of data={self.cfg.name} is empty: check the data folder.")
        workers = int(self.cfg.get("num_workers", 0))
        kwargs = dict(batch_size=self.batch_size, num_workers=workers, pin_memory=bool(self.cfg.get("pin_memory", False)),
                      persistent_workers=workers > 0, drop_last=shuffle and len(dataset) > self.batch_size,
                      collate_fn=self.collate_fn)
        if shuffle and getattr(self, "world_size", 1) == 1:
            return ResumableDataLoader(dataset, seed=getattr(self, "seed", 0), **kwargs)
        # Under DDP Lightning swaps in a DistributedSampler (seed + epoch): exact at epoch boundaries.
        return DataLoader(dataset, shuffle=shuffle, **kwargs)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, "val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, "test", shuffle=False)
