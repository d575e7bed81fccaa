"""A CSV logger that continues an existing metrics.csv on resume instead of deleting it."""
from __future__ import annotations

import csv
import os

from lightning_fabric.loggers.csv_logs import _ExperimentWriter as _FabricWriter
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter


class ContinuingWriter(ExperimentWriter):
    """Keeps the rows logged before the checkpoint (`step < resume_step`) and appends after them."""

    def __init__(self, log_dir: str, resume_step: int | None) -> None:
        self._resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not os.path.isfile(self.metrics_file_path):
            return
        if self._resume_step is None:  # a fresh run never inherits rows
            os.remove(self.metrics_file_path)
            return
        with open(self.metrics_file_path, newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("step") not in (None, "") and int(r["step"]) < self._resume_step]
        with open(self.metrics_file_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = header


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
