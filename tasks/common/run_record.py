"""The one owner of a run folder: its file names, summary.json's lifecycle (start, resume, finish, fail,
interrupt) with the monitor and the metric directions, and atomic writes of every artifact in it.

Torch-free (pandas and omegaconf only): the figure scripts read runs through it too.
"""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from tasks.common.atomic_io import atomic_write, atomic_write_text, write_json

# The files of a run folder.
SUMMARY = "summary.json"
CONFIG = "config.yaml"
METRICS = "metrics.csv"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
ANALYSIS = "analysis"
DETECTIONS_TEST = "detections_test.json"
PER_CLASS_IOU = "per_class_iou.csv"

STATUSES = ("running", "complete", "failed", "interrupted")
# Runs recorded before summary.json held `metric_modes`: metric names containing these are minimised.
LOWER_IS_BETTER = ("loss", "fid", "kid")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def read_summary(run_dir: Path) -> dict:
    """Read a run's summary.json (ValueError naming the file if it is not valid JSON)."""
    path = Path(run_dir) / SUMMARY
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); the checkpoints beside it are untouched: move it aside "
                         "and resume=<its folder> to rebuild it.") from None


def update_summary(run_dir: Path, /, **fields: Any) -> dict:
    """Merge `fields` into summary.json (created if absent) and write it atomically."""
    path = Path(run_dir) / SUMMARY
    data = read_summary(run_dir) if path.exists() else {}
    data.update(fields)
    if "status" in fields and fields["status"] not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {fields['status']!r}")
    write_json(path, data)
    return data


def write_config(run_dir: Path, cfg: DictConfig) -> None:
    """Save the fully resolved config: re-running it repeats the run."""
    atomic_write_text(Path(run_dir) / CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """metrics.csv with one row per epoch (Lightning writes step and epoch rows separately)."""
    path = Path(run_dir) / METRICS
    if not path.exists():  # fast_dev_run logs nothing
        return pd.DataFrame()
    df = pd.read_csv(path)
    if "epoch" not in df.columns or df.empty:
        return df
    return df.groupby("epoch", as_index=False).agg(lambda s: s.dropna().iloc[-1] if s.notna().any() else float("nan"))


def default_mode(metric: str) -> str:
    """'min' for losses, FID and KID, else 'max': the direction of runs recorded without `metric_modes`."""
    return "min" if any(word in metric for word in LOWER_IS_BETTER) else "max"


def metric_mode(summary: dict, metric: str) -> str:
    """'min' or 'max': the direction summary.json records for `metric` (its monitor_mode for the monitor)."""
    recorded = (summary.get("metric_modes") or {}).get(metric)
    if recorded:
        return recorded
    if metric == summary.get("monitor") and summary.get("monitor_mode"):
        return summary["monitor_mode"]
    return default_mode(metric)


def best_and_final(df: pd.DataFrame, mode: Callable[[str], str] = default_mode) -> tuple[dict, dict]:
    """Final (last epoch) value of every val/, test/ and train/ metric and best val/ value (`mode(name)`: min|max)."""
    final, best = {}, {}
    for col in df.columns:
        if not col.startswith(("val/", "test/", "train/")) or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        series = df[col].dropna()
        if series.empty:
            continue
        final[col] = float(series.iloc[-1])
        if col.startswith("val/"):
            best[col] = float(series.min() if mode(col) == "min" else series.max())
    return final, best


class RunRecord:
    """A run folder: every file written into it goes through here, atomically."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        """The path of a run file (a name above, or one under samples/ or analysis/)."""
        return self.folder / name

    def has_summary(self) -> bool:
        return (self.folder / SUMMARY).exists()

    def summary(self) -> dict:
        """summary.json as it is now."""
        return read_summary(self.folder)

    def update(self, **fields: Any) -> dict:
        """Merge fields into summary.json."""
        return update_summary(self.folder, **fields)

    # -- the summary's lifecycle --------------------------------------------------------------------
    def start(self, cfg: DictConfig, identity: dict, git_commit: str | None, **fields: Any) -> dict:
        """A new run: config.yaml, and summary.json with status running, identity and provenance."""
        write_config(self.folder, cfg)
        return self.update(status="running", **identity, run_dir=str(self.folder), started=_now(),
                           git_commit=git_commit, **fields)

    def resume(self, checkpoint: Path | str, global_step: int, git_commit: str | None, identity: dict) -> dict:
        """A continued run: status running again, one more `resumes` entry (the top-level git_commit stays);
        a summary set aside as corrupt is rebuilt with the run's identity."""
        previous = self.summary() if self.has_summary() else {}
        resumes = list(previous.get("resumes", []))
        resumes.append({"at": _now(), "checkpoint": str(checkpoint), "global_step": global_step,
                        "git_commit": git_commit})
        return self.update(status="running", resumes=resumes, **({} if previous else identity))

    def finish(self, *, monitor: str, monitor_mode: str, final: dict, best: dict, metric_modes: dict,
               **fields: Any) -> dict:
        """A finished run: status complete, the monitor and its mode, final and best metrics with their modes."""
        return self.update(status="complete", **fields, monitor=monitor, monitor_mode=monitor_mode, final=final,
                           best=best, metric_modes=metric_modes, finished=_now())

    def fail(self, error: BaseException) -> dict:
        """A run that raised: status failed and the error."""
        return self.update(status="failed", error=f"{type(error).__name__}: {error}")

    def interrupt(self, message: str) -> dict:
        """A run stopped from outside (Ctrl-C, SIGTERM): status interrupted and how to continue."""
        return self.update(status="interrupted", error=message)

    # -- artifacts ----------------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        """A text artifact, written atomically."""
        atomic_write_text(self.path(name), text)
        return self.path(name)

    def write_json(self, name: str, data: dict) -> Path:
        """An indented JSON artifact, written atomically."""
        write_json(self.path(name), data)
        return self.path(name)

    def write_file(self, name: str, write: Callable[[str], None]) -> Path:
        """An artifact `write(tmp)` produces (an image, a checkpoint), renamed into place."""
        atomic_write(self.path(name), write)
        return self.path(name)

    def append_rows(self, name: str, header: list[str], rows: Iterable[list]) -> Path:
        """Rows appended to a CSV artifact (the header first when it is new), the whole file rewritten atomically."""
        path = self.path(name)
        old = path.read_text() if path.exists() else ""
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        if not old:
            writer.writerow(header)
        writer.writerows(rows)
        return self.write_text(name, old + buffer.getvalue())
