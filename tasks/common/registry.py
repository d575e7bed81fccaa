"""Tasks by config name, and the checks that a model and a data set belong to the chosen task."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import yaml
from omegaconf import DictConfig

from tasks.common.activation import check_gated_mlp
from tasks.common.errors import ConfigError, unknown_choice

TASKS = {"cls": "tasks.cls", "seg": "tasks.seg", "det": "tasks.det", "gan": "tasks.gan", "lm": "tasks.lm"}
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def load_task(name: str) -> ModuleType:
    """The task package: it provides `DATAMODULES` (data name -> class) and `build_module(cfg, datamodule)`."""
    if name not in TASKS:
        raise unknown_choice("task", name, list(TASKS), "Choose one with task=<name>.")
    try:
        return importlib.import_module(TASKS[name])
    except ModuleNotFoundError as e:
        if e.name == TASKS[name]:
            raise ConfigError(f"task={name} is not implemented in this version of the suite.") from e
        raise


def options_for(group: str, task: str) -> list[str]:
    """The config files of `group` (model or data) whose `tasks:` list contains `task`."""
    names = []
    for path in sorted((CONFIG_DIR / group).glob("*.yaml")):
        tasks = (yaml.safe_load(path.read_text()) or {}).get("tasks", [])
        if task in tasks:
            names.append(path.stem)
    return names


def check_combination(cfg: DictConfig) -> None:
    """Fail fast when the model or the data set does not belong to the task."""
    check_gated_mlp(cfg.act, cfg.model)
    task = cfg.task.name
    for group in ("model", "data"):
        tasks = cfg[group].get("tasks") or []
        if task not in tasks:
            valid = options_for(group, task)
            raise ConfigError(
                f"{group}={cfg[group].name} does not belong to task={task} (it is for: {', '.join(tasks) or 'none'}). "
                f"Valid {group} options for task={task}: {', '.join(valid)}.")
