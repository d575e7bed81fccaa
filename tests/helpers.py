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


class KillDuringWrite(pl.Callback):
    """SIGKILLs this process in the middle of the `nth` write of a file named `name` (from fit's setup on).

    at=replace: the temporary file is complete, the rename has not happened; at=partial: half of the bytes
    are on disk (a checkpoint's temporary file is cut at fsync, a metrics.csv append at its write).
    """

    def __init__(self, name: str, nth: int = 1, at: str = "replace") -> None:
        self.name, self.nth, self.at, self.count = name, nth, at, 0

    def _hit(self, path: str) -> bool:
        base = os.path.basename(path)
        target = base[1:].rsplit(".", 2)[0] if base.startswith(".") and base.endswith(".tmp") else base
        if target != self.name:  # `.last.ckpt.k3j2h1g0.tmp` is a temporary file of last.ckpt
            return False
        self.count += 1
        return self.count == self.nth

    def setup(self, trainer, pl_module, stage: str) -> None:
        replace, fsync, write = os.replace, os.fsync, os.write

        def killing_replace(src, dst):
            if self.at == "replace" and self._hit(str(dst)):
                os.kill(os.getpid(), signal.SIGKILL)
            return replace(src, dst)

        def killing_fsync(fd):
            path = os.readlink(f"/proc/self/fd/{fd}")
            if self.at == "partial" and path.endswith(".tmp") and self._hit(path):
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
                os.kill(os.getpid(), signal.SIGKILL)
            return fsync(fd)

        def killing_write(fd, data):
            if self.at == "partial" and self._hit(os.readlink(f"/proc/self/fd/{fd}")):
                write(fd, data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return write(fd, data)

        os.replace, os.fsync, os.write = killing_replace, killing_fsync, killing_write


class FillDiskAtStep(pl.Callback):
    """At `step`, fills the file system of the run folder with `filler.bin`, leaving `leave` bytes free."""

    def __init__(self, step: int, leave: int = 65536) -> None:
        self.step, self.leave = step, leave

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step and trainer.is_global_zero:
            stat = os.statvfs(trainer.default_root_dir)
            size = max(stat.f_bavail * stat.f_frsize - self.leave, 0)
            with open(os.path.join(trainer.default_root_dir, "filler.bin"), "wb") as f:
                f.write(b"\0" * size)
