"""Callbacks every task gets: learned ASH parameters per epoch, and throughput / time / memory of a run."""
from __future__ import annotations

import resource
import sys
import time

import pytorch_lightning as pl
import torch

import ash


class AshParameterLogger(pl.Callback):
    """Logs z, its k % and alpha (and L-ASH's a) of every ASH-family layer at the end of each epoch."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for row in ash.ash_parameters(pl_module):
            prefix = f"ash/{row['depth']:03d}"
            for key in ("z", "k", "alpha", "a"):
                if row.get(key) is not None:
                    pl_module.log(f"{prefix}.{key}", float(row[key]), on_step=False, on_epoch=True)


def peak_memory_bytes(device: torch.device) -> int:
    """Peak accelerator memory allocated, or the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


class RunStats(pl.Callback):
    """Wall time of fit, training samples per second (all ranks), seconds per epoch, peak memory."""

    def __init__(self) -> None:
        self.samples = 0
        self.train_seconds = 0.0
        self.epoch_seconds: list[float] = []
        self._fit_start = self._epoch_start = 0.0
        self.fit_seconds = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        first = batch[0] if isinstance(batch, (list, tuple)) else batch
        self.samples += len(first) * trainer.world_size

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        seconds = time.perf_counter() - self._epoch_start
        self.epoch_seconds.append(seconds)
        self.train_seconds += seconds
        pl_module.log("time/epoch_s", seconds, on_step=False, on_epoch=True)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.fit_seconds = time.perf_counter() - self._fit_start

    def summary(self, device: torch.device) -> dict:
        return {
            "fit_seconds": round(self.fit_seconds, 3),
            "train_samples_per_s": round(self.samples / self.train_seconds, 2) if self.train_seconds else None,
            "epoch_seconds": [round(s, 3) for s in self.epoch_seconds],
            "peak_memory_bytes": peak_memory_bytes(device),
            "peak_memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_max_rss",
        }
