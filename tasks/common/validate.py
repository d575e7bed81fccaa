"""Checks of a composed config before anything is written: names, paths, numbers, devices, environment.

Each check raises a ConfigError (or DataError) that names the setting and the fix, so `train.py` exits
with code 2, no traceback and no run folder.
"""
from __future__ import annotations

import math
import netrc
import os
import re
from pathlib import Path

from omegaconf import DictConfig

from tasks.common.errors import ConfigError, DataError
from tasks.common.run_dir import run_base

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")
MAX_NAME = 100  # a run folder adds ~60 characters; file systems allow 255 per component
ACT_NUMBERS = ("alpha", "z", "k", "a")


def validate(cfg: DictConfig) -> None:
    """Refuse a config that would write outside `paths.results_dir`, or that training would trip over later."""
    _check_name(cfg.experiment_name)
    _check_integer("seed", cfg.seed, minimum=0, example="seed=0")
    _check_act(cfg.act)  # before the paths: the run folder's name formats act.k
    _check_paths(cfg)
    _check_integer("data.batch_size", cfg.data.get("batch_size", 1), minimum=1, example="data.batch_size=32")
    _check_epochs(cfg.trainer)
    every = (cfg.get("checkpoint") or {}).get("every_n_train_steps")
    if every is not None:
        _check_integer("checkpoint.every_n_train_steps", every, minimum=1,
                       example="checkpoint.every_n_train_steps=500 (or null: only at epoch ends)")
    _check_kernel()
    _check_accelerator(cfg.trainer)
    _check_data_dir(cfg)
    _check_wandb(cfg.get("logger"))


def _check_name(name) -> None:
    text = "" if name is None else str(name)
    if not text:
        raise ConfigError("experiment_name is empty: give a name, e.g. experiment_name=my_sweep "
                          "(runs go to results/runs/<experiment_name>/).")
    if len(text) > MAX_NAME:
        raise ConfigError(f"experiment_name is {len(text)} characters long; use at most {MAX_NAME}.")
    if not NAME.fullmatch(text):
        raise ConfigError(f"experiment_name={text!r} is not a plain folder name: use letters, digits and . _ + = - "
                          "only (no '/', '..' or absolute paths), e.g. experiment_name=my_sweep.")


def _check_paths(cfg: DictConfig) -> None:
    results = Path(str(cfg.paths.results_dir)).resolve()
    runs = Path(str(cfg.paths.runs_dir)).resolve()
    if not runs.is_relative_to(results):
        raise ConfigError(f"paths.runs_dir={runs} is outside paths.results_dir={results}; "
                          "keep it under it (the default is ${paths.results_dir}/runs).")
    base = run_base(cfg)
    if not base.resolve().is_relative_to(runs) or len(base.name) > 200:
        raise ConfigError(f"The run folder {base} would not be a folder under {runs}: check task, data, model, "
                          "act and seed for '/' or very long values.")
    resume = cfg.get("resume")
    if resume and (Path(str(resume)) / "config.yaml").is_file() and not Path(str(resume)).resolve().is_relative_to(runs):
        raise ConfigError(f"resume={resume} is outside paths.runs_dir={runs}: give the results_dir it belongs to "
                          f"(paths.results_dir=<the results folder above it>).")
    _check_writable(results)


def _check_writable(results: Path) -> None:
    existing = results
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"paths.results_dir={results}: {existing} is a file, not a folder.")
    for folder in (results / "runs", results, existing):
        if folder.exists():
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(f"paths.results_dir={results}: {folder} is not writable. Fix its permissions "
                                  "or give a writable folder with paths.results_dir=<dir>.")
            return


def _check_integer(key: str, value, minimum: int, example: str) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not ok:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{key}={value!r} is not valid: it must be {bound}, e.g. {example}.")


def _check_epochs(trainer: DictConfig) -> None:
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if trainer.get("fast_dev_run"):
        return
    if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 and epochs in (None, -1):
        return
    _check_integer("trainer.max_epochs", epochs, minimum=1,
                   example="trainer.max_epochs=10 (or trainer.max_epochs=-1 with trainer.max_steps=<N>)")


def _check_act(act: DictConfig) -> None:
    for key in ACT_NUMBERS:
        value = act.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"act.{key}={value!r} is not a number: give a finite number, e.g. act.{key}=1.0 "
                              f"(see configs/act/{act.name}.yaml).")


def _check_kernel() -> None:
    import torch

    from ash.kernels import kernel_name

    try:
        kernel_name(torch.zeros(1))
    except ValueError as error:
        raise ConfigError(f"{error} (unset it to let ash choose: unset ASH_KERNEL).") from None


def _check_accelerator(trainer: DictConfig) -> None:
    import torch

    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator} but this machine has no CUDA GPU visible to PyTorch. "
                          "Run on CPU with trainer=cpu (or trainer=ddp_cpu for two processes), or check "
                          "CUDA_VISIBLE_DEVICES and the CUDA build of torch.")


def _check_data_dir(cfg: DictConfig) -> None:
    data_dir = Path(str(cfg.paths.data_dir))
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"paths.data_dir={data_dir} is a file, not a folder. Give the folder that holds the "
                        "data sets (paths.data_dir=/your/data or the environment variable ASH_DATA).")
    root = cfg.data.get("root")
    if root is not None and Path(str(root)).exists() and not Path(str(root)).is_dir():
        raise DataError(f"data.root={root} is a file, not a folder. Point paths.data_dir at the data sets' folder.")


def _check_wandb(logger: DictConfig | None) -> None:
    entry = (logger or {}).get("wandb")
    if not entry or str(entry.get("mode", "offline")) != "online":
        return
    if os.environ.get("WANDB_API_KEY") or _netrc_has("api.wandb.ai"):
        return
    raise ConfigError("logger=wandb in online mode (WANDB_MODE=online) needs an API key: run `wandb login` or set "
                      "WANDB_API_KEY, or log offline with WANDB_MODE=offline (sync later with `wandb sync`).")


def _netrc_has(host: str) -> bool:
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False
