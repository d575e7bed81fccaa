"""Test-only Lightning callbacks, reachable from the CLI as `+callbacks.<name>._target_=tests.helpers.<Class>`."""
from __future__ import annotations

import os
import signal

import pytorch_lightning as pl
import torch


class SignalAtStep(pl.Callback):
    """Sends `sig` (KILL, TERM, ...) to this process when training reaches `step` (before that batch runs)."""

    def __init__(self, step: int, sig: str = "KILL") -> None:
        self.step, self.sig = step, getattr(signal, f"SIG{sig}")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step and trainer.is_global_zero:
            os.kill(os.getpid(), self.sig)


class PoisonAtStep(pl.Callback):
    """Makes a gradient non-finite at `step`: writes NaN into the first parameter's gradient."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_after_backward(self, trainer, pl_module) -> None:
        if trainer.global_step == self.step:
            param = next(p for p in pl_module.parameters() if p.grad is not None)
            param.grad.fill_(float("nan"))
