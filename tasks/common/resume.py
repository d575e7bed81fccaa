"""Where a run continues from: `resume=<run folder>`, `ckpt_path=last|<file>`, or a requeued launch.

Checkpoints load with `weights_only=True`; one trained with another task, data set, model or
activation is refused with the difference named; a truncated file gives a clear error.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from tasks.common.errors import ConfigError, DataError
from tasks.common.results import CONFIG, SUMMARY, read_summary
from tasks.common.run_dir import LAUNCH_FILE, run_base

LAST = Path("checkpoints") / "last.ckpt"
IDENTITY = ("task", "data", "model", "act")


@dataclass
class ResumePoint:
    run_dir: Path | None  # None: a checkpoint given by path starts a new run folder
    ckpt_path: Path | None
    global_step: int
    complete: bool = False  # on_existing=continue found this configuration already finished


def _status(run_dir: Path) -> str | None:
    try:
        return read_summary(run_dir).get("status")
    except (OSError, ValueError):
        return None


def config_differences(saved: dict, cfg: DictConfig) -> list[str]:
    """`group.key: saved -> now` for every identity setting (task, data, model, act) that differs."""
    now = OmegaConf.to_container(cfg, resolve=True)
    diffs = []
    for group in IDENTITY:
        old, new = saved.get(group) or {}, now.get(group) or {}
        ignore = {"batch_size", "num_workers", "pin_memory", "root", "download"} if group == "data" else set()
        for key in sorted((set(old) | set(new)) - ignore):
            if old.get(key) != new.get(key):
                diffs.append(f"{group}.{key}: {old.get(key)!r} -> {new.get(key)!r}")
    return diffs


def load_checkpoint_meta(path: Path, cfg: DictConfig) -> int:
    """Check that `path` is a readable checkpoint of this configuration; returns its global step."""
    if not path.is_file():
        raise ConfigError(f"Checkpoint {path} does not exist.")
    try:
        # mmap: only the metadata is read here; Lightning loads the tensors once, in fit
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as error:
        raise DataError(f"Checkpoint {path} is truncated or corrupt ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:200]}). Use an earlier checkpoint or start the run again.") from error
    saved = (ckpt.get("hyper_parameters") or {}).get("config")
    if saved is None:
        raise ConfigError(f"Checkpoint {path} was not written by this suite (no saved config); "
                          "load its weights in your own code instead.")
    diffs = config_differences(saved, cfg)
    if diffs:
        raise ConfigError(f"Checkpoint {path} belongs to a different configuration: " + "; ".join(diffs) +
                          ". Use the same overrides as the original run (see its config.yaml).")
    return int(ckpt.get("global_step", 0))


def _run_folder(path: Path) -> Path:
    if not (path / CONFIG).is_file() or not (path / SUMMARY).is_file():
        raise ConfigError(f"resume={path} is not a run folder (it needs {CONFIG} and {SUMMARY}). "
                          "Give a folder under results/runs/<experiment>/ written by train.py.")
    return path


def _resume_folder(run_dir: Path, cfg: DictConfig) -> ResumePoint:
    ckpt = run_dir / LAST
    if not ckpt.is_file():
        raise ConfigError(f"{run_dir} has no {LAST}: the run stopped before its first checkpoint. "
                          "Start it again without resume=.")
    return ResumePoint(run_dir, ckpt, load_checkpoint_meta(ckpt, cfg))


def find_resume_point(cfg: DictConfig, fresh_dir: Path | None) -> ResumePoint | None:
    """The checkpoint to continue from, if any (`fresh_dir`: the folder this launch would use)."""
    if cfg.get("resume"):
        return _resume_folder(_run_folder(Path(str(cfg.resume)).resolve()), cfg)
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path == "last":
        base = run_base(cfg)
        candidates = [p for p in [base, *base.parent.glob(base.name + "-*")] if (p / LAST).is_file()]
        if not candidates:
            raise ConfigError(f"ckpt_path=last: no run of this configuration has a checkpoint under {base.parent}. "
                              "Start without ckpt_path, or give resume=<run folder>.")
        latest = max(candidates, key=lambda p: (p / LAST).stat().st_mtime)
        return _resume_folder(latest, cfg)
    if ckpt_path:
        path = Path(str(ckpt_path))
        return ResumePoint(None, path, load_checkpoint_meta(path, cfg))
    on_existing = cfg.get("on_existing", "new")
    if on_existing not in ("new", "continue"):
        raise ConfigError(f"on_existing={on_existing} is not valid: use new (a new folder per launch) or continue "
                          "(skip finished runs, resume unfinished ones).")
    if on_existing == "continue":
        base = run_base(cfg)
        folders = [p for p in [base, *sorted(base.parent.glob(base.name + "-*"))] if p.is_dir()]
        done = [p for p in folders if _status(p) == "complete"]
        if done:
            return ResumePoint(done[-1], None, -1, complete=True)
        started = [p for p in folders if (p / LAST).is_file()]
        if started:
            return _resume_folder(max(started, key=lambda p: (p / LAST).stat().st_mtime), cfg)
    # A requeued launch (same SLURM job) finds its own unfinished folder: continue it.
    if fresh_dir is not None and (fresh_dir / LAUNCH_FILE).exists() and (fresh_dir / LAST).is_file():
        if _status(fresh_dir) not in (None, "complete"):
            return _resume_folder(fresh_dir, cfg)
    return None
