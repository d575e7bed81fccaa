"""Loggers from the `logger` config group; CSV is always on (metrics.csv is the source of every figure)."""
from __future__ import annotations

import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from tasks.common.registry import CONFIG_DIR

# The CSV logger's one definition is configs/logger/csv.yaml; it is added when a logger choice leaves it out.
CSV_LOGGER = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "logger" / "csv.yaml"))["csv"]


def build_loggers(logger_cfg: DictConfig | None, run_dir: Path, resume_step: int | None = None) -> list:
    """One logger per entry of `logger`, each writing inside the run folder; a resume continues them."""
    entries = dict(OmegaConf.to_container(logger_cfg, resolve=True) or {}) if logger_cfg is not None else {}
    entries.setdefault("csv", CSV_LOGGER)
    loggers = []
    for key, entry in entries.items():
        if not entry:
            continue
        extra = {}
        if entry.get("_target_") == CSV_LOGGER["_target_"]:
            extra["resume_step"] = resume_step  # metrics.csv continues on a resume
        if key == "wandb":
            (run_dir / "wandb").mkdir(parents=True, exist_ok=True)
            if resume_step is not None and (run_id := _wandb_run_id(run_dir)):
                extra.update(id=run_id, resume="allow")  # continue the same wandb run
        loggers.append(instantiate(entry, save_dir=str(run_dir), **extra))
    return loggers


def _wandb_run_id(run_dir: Path) -> str | None:
    """The id of the wandb run a run folder already has (offline-run-<time>-<id> or run-<time>-<id>)."""
    runs = sorted((run_dir / "wandb").glob("*run-*-*"))
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None


def finish_wandb(failed: bool) -> None:
    """Close the wandb run (if any) with the right exit code, so runs are never left 'running'."""
    wandb = sys.modules.get("wandb")  # no import: a wandb run exists only if a logger already imported it (2 s)
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
