"""Whether a run marked `complete` did what its config asked: every epoch (or max_steps), at least one
step, a metrics.csv row for its last epoch and, when it tested, a test row. Reads files only (no torch)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from tasks.common.run_record import CONFIG, METRICS, read_metrics


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _metrics(folder: Path) -> pd.DataFrame | None:
    try:
        return read_metrics(folder) if (Path(folder) / METRICS).is_file() else None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None  # the scripts report a corrupt metrics.csv themselves


def incomplete_reason(folder: Path, summary: dict) -> str:
    """Why a `complete` run did not finish what it was asked ('' when it did); checks what the files record."""
    config_file = Path(folder) / CONFIG
    config = (yaml.safe_load(config_file.read_text()) or {}) if config_file.is_file() else {}
    trainer = config.get("trainer") or {}
    if trainer.get("fast_dev_run"):
        return "a trainer.fast_dev_run debug run"
    epochs, steps = summary.get("epochs"), summary.get("global_steps")
    if steps == 0:
        return "it trained 0 steps"
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps")
    by_steps = _positive(max_steps) and _positive(steps) and steps >= max_steps
    if _positive(max_epochs) and isinstance(epochs, int) and epochs < max_epochs and not by_steps:
        return f"it trained {epochs} of trainer.max_epochs={max_epochs} epochs"
    metrics = _metrics(folder)
    if metrics is None:
        return ""
    if isinstance(epochs, int) and epochs > 0 and not by_steps:
        trained = [c for c in metrics.columns if c.startswith(("train/", "val/"))]
        logged = metrics.loc[metrics[trained].notna().any(axis=1), "epoch"] if trained and "epoch" in metrics else []
        last = int(max(logged)) if len(logged) else None
        if last != epochs - 1:
            return f"metrics.csv ends at epoch {last}, but summary.json records {epochs} epochs"
    if config.get("test") is True and not any(c.startswith("test/") and metrics[c].notna().any()
                                              for c in metrics.columns):
        return "metrics.csv has no test row"
    return ""
