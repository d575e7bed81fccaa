"""A CSV logger that continues an existing metrics.csv on resume and never leaves half a write behind."""
from __future__ import annotations

import csv
import errno
import io
import os

from lightning_fabric.loggers.csv_logs import _ExperimentWriter as _FabricWriter
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from tasks.common.atomic_io import atomic_write_text


def _csv_text(header: list[str], rows: list[dict], with_header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    if with_header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _read_rows(path: str) -> tuple[list[str], list[dict]]:
    """Header and complete rows of a metrics.csv (a last line cut off by a crash is dropped)."""
    with open(path, newline="") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


class ContinuingWriter(ExperimentWriter):
    """Keeps the rows logged before the checkpoint (`step < resume_step`) and appends after them.

    Appends are one write + fsync, cut back to the old size if they fail (a full disk); a new header
    rewrites the file atomically. A crash leaves the rows of the last completed save.
    """

    def __init__(self, log_dir: str, resume_step: int | None) -> None:
        self._resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not os.path.isfile(self.metrics_file_path):
            return
        if self._resume_step is None:  # a fresh run never inherits rows
            os.remove(self.metrics_file_path)
            return
        header, rows = _read_rows(self.metrics_file_path)
        rows = [r for r in rows if r.get("step") not in (None, "") and int(r["step"]) < self._resume_step]
        atomic_write_text(self.metrics_file_path, _csv_text(header, rows, with_header=True))
        self.metrics_keys = header

    def save(self) -> None:
        if not self.metrics:
            return
        new_keys = set().union(*self.metrics) - set(self.metrics_keys)
        self.metrics_keys = sorted([*self.metrics_keys, *new_keys])
        if new_keys or not os.path.isfile(self.metrics_file_path):
            old = _read_rows(self.metrics_file_path)[1] if os.path.isfile(self.metrics_file_path) else []
            atomic_write_text(self.metrics_file_path, _csv_text(self.metrics_keys, old + self.metrics, True))
        else:
            self._append(_csv_text(self.metrics_keys, self.metrics, with_header=False).encode())
        self.metrics = []

    def _append(self, data: bytes) -> None:
        fd = os.open(self.metrics_file_path, os.O_WRONLY | os.O_APPEND)
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)", self.metrics_file_path)
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)  # back to the last complete row
            raise
        finally:
            os.close(fd)


class ContinuingCSVLogger(CSVLogger):
    """`CSVLogger` whose metrics.csv survives a resume (rows after the checkpoint's step are dropped)."""

    def __init__(self, *args, resume_step: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> _FabricWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir or ".", exist_ok=True)
            self._experiment = ContinuingWriter(log_dir=self.log_dir, resume_step=self._resume_step)
        return self._experiment
