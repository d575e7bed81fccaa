"""Loggers from the `logger` config group; CSV is always on (metrics.csv is the source of every figure)."""
from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

CSV_LOGGER = {"_target_": "pytorch_lightning.loggers.CSVLogger", "name": "", "version": ""}


def build_loggers(logger_cfg: DictConfig | None, run_dir: Path) -> list:
    """One logger per entry of `logger`, each writing inside the run folder."""
    entries = dict(OmegaConf.to_container(logger_cfg, resolve=True) or {}) if logger_cfg is not None else {}
    entries.setdefault("csv", CSV_LOGGER)
    loggers = []
    for key, entry in entries.items():
        if not entry:
            continue
        if key == "wandb":
            (run_dir / "wandb").mkdir(parents=True, exist_ok=True)
        loggers.append(instantiate(entry, save_dir=str(run_dir)))
    return loggers


def finish_wandb(failed: bool) -> None:
    """Close the wandb run (if any) with the right exit code, so runs are never left 'running'."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
