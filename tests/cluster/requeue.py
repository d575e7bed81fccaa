"""Test-only callback: preempts its own SLURM job mid-epoch, as a scheduler does (`scontrol requeue`)."""
from __future__ import annotations

import os
import subprocess
import time

import pytorch_lightning as pl


class RequeueAtStep(pl.Callback):
    """At `step` of the job's first start, requeue the job and wait for SLURM's SIGTERM to arrive."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step != self.step or os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
            return
        if trainer.is_global_zero:
            subprocess.run(["scontrol", "requeue", os.environ["SLURM_JOB_ID"]], check=True)
        deadline = time.monotonic() + 30
        while not trainer.received_sigterm and time.monotonic() < deadline:
            time.sleep(0.1)
