"""Callbacks every task gets: learned ASH parameters per epoch, and throughput / time / memory of a run."""
from __future__ import annotations

import resource
import sys
import time

import pytorch_lightning as pl
import torch
from torch.nn.utils import get_total_norm

import ash
from tasks.common.errors import ConfigError, RunStopped


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
        self.train_seconds += seconds  # kept out of metrics.csv, which must repeat exactly for a seed

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


class NonFiniteGuard(pl.Callback):
    """Stops (after saving a checkpoint for inspection) or skips a step whose loss or gradients are not finite."""

    ACTIONS = ("stop", "skip")

    def __init__(self, action: str = "stop") -> None:
        if action not in self.ACTIONS:
            raise ConfigError(f"nonfinite={action!r} is not valid: use nonfinite=stop or nonfinite=skip")
        self.action = action
        self.skipped = 0
        self._loss: torch.Tensor | None = None

    def on_before_backward(self, trainer, pl_module, loss: torch.Tensor) -> None:
        self._loss = loss.detach()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = [(name, p.grad) for name, p in pl_module.named_parameters() if p.grad is not None]
        checks = [self._loss] if self._loss is not None else []
        if grads:  # the largest |gradient| over all tensors: NaN or inf if any element is (foreach kernels)
            checks.append(get_total_norm([g for _, g in grads], norm_type=float("inf")))
        if not checks or bool(torch.stack([c.float().reshape(()) for c in checks]).isfinite().all()):  # one sync
            return
        bad = [name for name, g in grads if not g.isfinite().all()]
        if self.action == "skip":
            optimizer.zero_grad(set_to_none=True)  # parameters without gradients are left untouched
            self.skipped += 1
            pl_module.print(f"nonfinite=skip: skipped step {trainer.global_step} (loss {self._loss_text()})")
            return
        ckpt = f"{trainer.default_root_dir}/checkpoints/nonfinite-step{trainer.global_step}.ckpt"
        trainer.save_checkpoint(ckpt)
        layers = "; ".join(f"{r['path']}: z={r['z']:.3g} alpha={r['alpha']:.3g}" for r in ash.ash_parameters(pl_module))
        raise RunStopped(
            f"Non-finite values at step {trainer.global_step} (epoch {trainer.current_epoch}): loss {self._loss_text()}; "
            f"non-finite gradients in {len(bad)} tensors (first: {', '.join(bad[:5]) or 'none'}). "
            f"ASH layers: {layers or 'none'}. Checkpoint for inspection: {ckpt}. "
            "Lower the learning rate, add trainer.gradient_clip_val, or run with nonfinite=skip.")

    def _loss_text(self) -> str:
        return "n/a" if self._loss is None else f"{self._loss.float().mean().item():.4g}"
