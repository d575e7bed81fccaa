"""A training loader whose order depends only on (seed, epoch) and that can restart part-way through an epoch.

A plain DataLoader's position is not in Lightning's checkpoints (its fault-tolerant training was removed),
so this one offers Lightning's `state_dict`/`load_state_dict`. A mid-epoch resume is exact for one process;
under DDP Lightning's DistributedSampler (seed + epoch) makes epoch-boundary resumes exact.
"""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Sampler


class EpochSeededSampler(Sampler[int]):
    """A random permutation drawn from (seed, epoch) alone; `skip` drops its first indices."""

    def __init__(self, length: int, seed: int) -> None:
        self.length, self.seed, self.epoch, self.skip = length, seed, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator)[self.skip:]
        self.skip = 0
        return iter(order.tolist())


class ResumableDataLoader(DataLoader):
    """A shuffling training DataLoader with Lightning's `state_dict`/`load_state_dict` interface."""

    def __init__(self, dataset, *, batch_size: int, seed: int, **kwargs: Any) -> None:
        self.seed = seed
        super().__init__(dataset, batch_size=batch_size, sampler=EpochSeededSampler(len(dataset), seed),
                         generator=torch.Generator(), **kwargs)
        self._yielded = 0
        self._resume_batches = 0

    def __iter__(self):
        sampler: EpochSeededSampler = self.sampler
        sampler.skip = self._resume_batches * self.batch_size
        self._yielded, self._resume_batches = self._resume_batches, 0
        self.generator.manual_seed(self.seed * 7_919 + sampler.epoch)  # worker seeds: per epoch, not global RNG
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.set_epoch(int(state["epoch"]))
        self._resume_batches = int(state["batches"])
