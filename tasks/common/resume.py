"""Where a run continues from: `resume=<run folder>`, `ckpt_path=last|<file>`, or a requeued launch.

Checkpoints load with `weights_only=True`; one trained with another task, data set, model or
activation is refused with the difference named; a truncated file, or one that no longer matches the
checksum written beside it, gives a clear error. Continuing a run in place (`resume=`, `ckpt_path=last`,
`on_existing=continue`, a requeue) also refuses any other change of the recipe, except the settings in
MAY_CHANGE. A resume that fails before its first new step puts the run's record back as it was.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from tasks.common.checkpoint_io import checksum_matches
from tasks.common.errors import ConfigError, DataError
from tasks.common.atomic_io import atomic_write
from tasks.common.run_record import CONFIG, METRICS, SUMMARY, read_summary
from tasks.common.run_dir import LAUNCH_FILE, run_base

LAST = Path("checkpoints") / "last.ckpt"
IDENTITY = ("task", "data", "model", "act")
# Settings a resume may change (the README lists them): how long, where, on what hardware, what is logged.
MAY_CHANGE = ("trainer.max_epochs", "trainer.max_steps", "trainer.accelerator", "trainer.devices",
              "trainer.num_nodes", "trainer.strategy", "trainer.plugins", "trainer.enable_progress_bar",
              "trainer.enable_model_summary", "trainer.log_every_n_steps", "trainer.profiler", "logger", "callbacks",
              "paths", "data.root", "data.download", "data.num_workers", "data.pin_memory", "resume", "ckpt_path",
              "on_existing", "checkpoint", "test", "compile", "channels_last")
RECORD = (SUMMARY, METRICS, "hparams.yaml")  # the files a resume rewrites before it trains


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


def _flat(tree, prefix: str = "") -> dict:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat = {}
    for key, value in tree.items():
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def recipe_differences(saved: dict, cfg: DictConfig) -> list[str]:
    """`key: saved -> now` for every setting outside MAY_CHANGE that differs."""
    old, new = _flat(saved), _flat(OmegaConf.to_container(cfg, resolve=True))
    may = lambda key: any(key == p or key.startswith(p + ".") for p in MAY_CHANGE)  # noqa: E731
    return [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(set(old) | set(new))
            if not may(key) and old.get(key) != new.get(key)]


def load_checkpoint_meta(path: Path, cfg: DictConfig, same_recipe: bool = False) -> int:
    """Check that `path` is a readable checkpoint of this configuration (and, if asked, of this very recipe);
    returns its global step."""
    if not path.is_file():
        raise ConfigError(f"Checkpoint {path} does not exist.")
    if not checksum_matches(path):
        raise DataError(f"Checkpoint {path} no longer matches the checksum written with it ({path.name}.sha256): "
                        "it was damaged or changed after the save. Continue from another checkpoint with "
                        "ckpt_path=<file> (e.g. checkpoints/best.ckpt, in a new folder) or start the run again.")
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
    diffs = recipe_differences(saved, cfg) if same_recipe else []
    if diffs:
        raise ConfigError(f"Resuming {path} with a changed recipe is refused: " + "; ".join(diffs) + ". Resume with "
                          "the original overrides (see the run's config.yaml), or start a new run without resume= "
                          "for a new recipe. A resume may change only: " + ", ".join(MAY_CHANGE) + ".")
    return int(ckpt.get("global_step", 0))


def _same_recipe_or_stop(run_dir: Path, cfg: DictConfig) -> None:
    """A complete run is skipped only when it ran this very recipe: after a change of the experiment's recipe
    (epochs excepted), skipping would put the old results into the new study."""
    saved = OmegaConf.to_container(OmegaConf.load(run_dir / CONFIG), resolve=True)
    diffs = recipe_differences(saved, cfg)
    if diffs:
        raise ConfigError(f"on_existing=continue: {run_dir} is a complete run of this configuration with another "
                          "recipe (" + "; ".join(diffs) + "); its results would count for the new recipe. Move the "
                          f"old runs away (e.g. mv {run_dir.parent} {run_dir.parent}-old) or give the new recipe "
                          "its own experiment_name=.")


def _run_folder(path: Path) -> Path:
    if not (path / CONFIG).is_file() or not ((path / SUMMARY).is_file() or (path / LAST).is_file()):
        raise ConfigError(f"resume={path} is not a run folder (it needs {CONFIG} and {SUMMARY}). "
                          "Give a folder under results/runs/<experiment>/ written by train.py.")
    return path


def _summary_problem(run_dir: Path) -> str:
    """Why summary.json cannot be read ('' when it can, or when it is absent)."""
    try:
        read_summary(run_dir) if (run_dir / SUMMARY).exists() else None
        return ""
    except (OSError, ValueError) as error:
        return str(error)


def _resume_folder(run_dir: Path, cfg: DictConfig) -> ResumePoint:
    ckpt = run_dir / LAST
    if not ckpt.is_file():
        if _status(run_dir) == "complete":
            raise ConfigError(f"{run_dir} is a complete run without {LAST}: checkpoints are git-ignored (a committed "
                              "or copied run has none) or were deleted, so it cannot be continued. Start a new run "
                              "without resume= (e.g. with a larger trainer.max_epochs).")
        raise ConfigError(f"{run_dir} has no {LAST}: the run stopped before its first checkpoint. "
                          "Start it again without resume=.")
    if problem := _summary_problem(run_dir):
        raise ConfigError(f"{problem.rstrip('.')}. Its checkpoints are untouched: move the file aside "
                          f"(mv {run_dir / SUMMARY} {run_dir / SUMMARY}.corrupt) and run the same command again; "
                          "the resume starts a new summary.json from config.yaml.")
    return ResumePoint(run_dir, ckpt, load_checkpoint_meta(ckpt, cfg, same_recipe=True))


def snapshot_record(run_dir: Path) -> dict[str, bytes | None]:
    """The bytes of the files a resume rewrites before training (None: absent)."""
    return {name: (run_dir / name).read_bytes() if (run_dir / name).is_file() else None for name in RECORD}


def restore_record(run_dir: Path, snapshot: dict[str, bytes | None]) -> None:
    """Put back the files of `snapshot_record`: a resume that trained nothing leaves no trace."""
    for name, data in snapshot.items():
        if data is None:
            (run_dir / name).unlink(missing_ok=True)
        else:
            atomic_write(run_dir / name, lambda tmp, data=data: Path(tmp).write_bytes(data))


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
        for bad in [p for p in folders if _summary_problem(p)]:
            print(f"on_existing=continue: leaving {bad} as it is ({_summary_problem(bad)})", flush=True)
            folders.remove(bad)
        done = [p for p in folders if _status(p) == "complete"]
        if done:
            _same_recipe_or_stop(done[-1], cfg)
            return ResumePoint(done[-1], None, -1, complete=True)
        started = [p for p in folders if (p / LAST).is_file()]
        if started:
            return _resume_folder(max(started, key=lambda p: (p / LAST).stat().st_mtime), cfg)
    # A requeued launch (same SLURM job) finds its own unfinished folder: continue it.
    if fresh_dir is not None and (fresh_dir / LAUNCH_FILE).exists() and (fresh_dir / LAST).is_file():
        if _status(fresh_dir) not in (None, "complete"):
            return _resume_folder(fresh_dir, cfg)
    return None
