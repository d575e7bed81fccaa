"""Exact resume: a training loader whose order depends only on (seed, epoch) and that can restart
part-way through an epoch, and a callback that stores every library's RNG state in checkpoints.

Lightning checkpoints store neither RNG states nor the position of a plain DataLoader (and its
fault-tolerant training was removed), so both live here. A mid-epoch resume is exact for one process;
under DDP Lightning's DistributedSampler (seed + epoch) makes epoch-boundary resumes exact.
"""
from __future__ import annotations

import random
from typing import Any, Iterator

import numpy as np
import pytorch_lightning as pl
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


class RngStateCheckpoint(pl.Callback):
    """Saves and restores the Python, NumPy, torch and CUDA RNG states with every checkpoint."""

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state = {"python": random.getstate(), "torch": torch.get_rng_state(),
                 "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                           "has_gauss": int(has_gauss), "gauss": float(gauss)}}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        random.setstate(_as_tuples(state["python"]))
        torch.set_rng_state(state["torch"])
        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value):
    """random.setstate needs tuples; a checkpoint round trip may hand back lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
