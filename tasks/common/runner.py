"""One training job, top to bottom: config -> data, model, loggers, trainer -> fit, test -> results."""
from __future__ import annotations

import errno
import os
import shutil
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

import ash
from tasks.common.callbacks import AshParameterLogger, NonFiniteGuard, RunStats
from tasks.common.checkpoint_io import AtomicCheckpointIO
from tasks.common.errors import ConfigError, RunStopped, UserError
from tasks.common.loggers import build_loggers, finish_wandb
from tasks.common.registry import check_combination, load_task
from tasks.common.report import format_summary
from tasks.common.results import (best_and_final, git_commit, library_versions, read_metrics, read_summary,
                                  update_summary, write_config)
from tasks.common.resumable import RngStateCheckpoint
from tasks.common.resume import LAST, ResumePoint, find_resume_point, restore_record, snapshot_record
from tasks.common.run_dir import act_label, claim_run_dir, resolve_run_dir
from tasks.common.validate import validate

ROOT = Path(__file__).resolve().parents[2]
# Lightning noise that says nothing about the run.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def build_callbacks(cfg: DictConfig, run_dir: Path, monitor: str, mode: str, stats: RunStats) -> list[pl.Callback]:
    """The suite's callbacks: ASH parameters, run stats, RNG states, checkpoints, the non-finite guard."""
    ckpt_dir = run_dir / "checkpoints"
    every = (cfg.get("checkpoint") or {}).get("every_n_train_steps")
    callbacks = [
        AshParameterLogger(), stats, RngStateCheckpoint(), NonFiniteGuard(cfg.get("nonfinite", "stop")),
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, auto_insert_metric_name=False),
        # last.ckpt: at each epoch end and, if asked, every N steps (what resume= and a requeue continue from)
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False,
                        every_n_train_steps=every or None),
    ]
    return callbacks + [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list, resume_step: int | None) -> pl.Trainer:
    """The Lightning Trainer of `cfg.trainer` with the suite's loggers and callbacks."""
    extra = {}
    if "SLURM_NTASKS" in os.environ and not cfg.trainer.get("plugins"):
        from lightning_fabric.plugins.environments import SLURMEnvironment

        extra["plugins"] = [SLURMEnvironment(auto_requeue=False)]  # submitit owns requeueing
    user_plugins = [instantiate(p) for p in cfg.trainer.get("plugins") or []]
    extra["plugins"] = [*extra.get("plugins", user_plugins), AtomicCheckpointIO()]  # all-or-nothing checkpoints
    loggers = build_loggers(cfg.get("logger"), run_dir, resume_step)
    return instantiate(cfg.trainer, logger=loggers, callbacks=callbacks, default_root_dir=str(run_dir), **extra)


def run(cfg: DictConfig) -> dict:
    """Train and test one configuration; returns the summary written to the run folder."""
    check_combination(cfg)
    validate(cfg)
    task = load_task(cfg.task.name)
    fresh_dir = resolve_run_dir(cfg)
    point = find_resume_point(cfg, fresh_dir)
    if point is not None and point.complete:
        print(f"Skipping {point.run_dir}: this configuration is already complete (on_existing=continue).", flush=True)
        return read_summary(point.run_dir)
    run_dir = point.run_dir if point and point.run_dir else fresh_dir
    continuing = point is not None and point.run_dir is not None
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)

    datamodule = task.DATAMODULES[cfg.data.name](cfg.data)
    try:
        module = task.build_module(cfg, datamodule)
    except ValueError as error:  # the models' own checks (e.g. a depth that is not 9n+2)
        raise ConfigError(f"model={cfg.model.name}: {error} Change the model.* override.") from None
    if cfg.get("channels_last"):
        module = module.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        module.model = torch.compile(module.model)

    created_here = not run_dir.exists()  # before the loggers (wandb) create it
    stats = RunStats()
    callbacks = build_callbacks(cfg, run_dir, module.monitor, module.monitor_mode, stats)
    trainer = build_trainer(cfg, run_dir, callbacks, point.global_step if continuing else None)
    datamodule.set_world_size(trainer.world_size, int(cfg.seed))
    rank_zero = trainer.is_global_zero
    record = snapshot_record(run_dir) if rank_zero and continuing else None  # put back if the resume trains nothing
    if rank_zero:
        _start_summary(cfg, run_dir, trainer, point, continuing)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(point.ckpt_path) if point else None,
                    weights_only=True)
        if cfg.get("test", True):
            trainer.test(module, datamodule=datamodule, verbose=False)
    except SIGTERMException:
        trainer.save_checkpoint(run_dir / LAST)  # every rank takes part; rank 0 writes
        finish_wandb(failed=False)
        if rank_zero:
            update_summary(run_dir, status="interrupted", error=f"SIGTERM at step {trainer.global_step}: "
                           f"{LAST} saved; continue with resume={run_dir}")
        return {"status": "interrupted", "run_dir": str(run_dir)}
    except BaseException as error:
        finish_wandb(failed=True)
        if rank_zero and created_here and isinstance(error, UserError) and trainer.global_step == 0:
            shutil.rmtree(run_dir, ignore_errors=True)  # bad input before any training: leave no trace
        elif rank_zero and record is not None and trainer.global_step <= point.global_step:
            restore_record(run_dir, record)  # a failed resume leaves the run exactly as it was
        elif rank_zero:
            status = "interrupted" if _is_ctrl_c(error) else "failed"
            hint = f"Ctrl-C at step {trainer.global_step}; {_continue_hint(run_dir)}" if _is_ctrl_c(error) else error
            try:
                update_summary(run_dir, status=status, error=f"{type(error).__name__}: {hint}")
            except OSError:
                pass  # a full disk: the message below still names the problem
        if _is_ctrl_c(error):
            raise RunStopped(f"Ctrl-C at step {trainer.global_step}: {_continue_hint(run_dir)}") from None
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise RunStopped(f"Cannot write {error.filename or run_dir}: {error.strerror}. The run is marked failed; "
                             f"{_continue_hint(run_dir)} after freeing space.") from None
        raise
    finish_wandb(failed=False)
    status = "complete"
    if not rank_zero:
        return {"status": status, "run_dir": str(run_dir)}
    summary = _final_summary(run_dir, module, trainer, stats, status)
    print(format_summary(summary), flush=True)
    return summary


def _continue_hint(run_dir: Path) -> str:
    """How to continue a stopped run: from its last checkpoint, or from the start if it has none."""
    if (run_dir / LAST).is_file():
        return f"the last checkpoint is {run_dir / LAST}; continue with resume={run_dir}"
    return "no checkpoint was written yet; start the run again without resume="


def _is_ctrl_c(error: BaseException) -> bool:
    """Ctrl-C: Lightning turns the KeyboardInterrupt into sys.exit(1) raised while handling it."""
    return isinstance(error, KeyboardInterrupt) or (
        isinstance(error, SystemExit) and isinstance(error.__context__, KeyboardInterrupt))


def _identity(cfg: DictConfig) -> dict:
    return {"experiment": cfg.experiment_name, "task": cfg.task.name, "data": cfg.data.name,
            "model": cfg.model.name, "act": act_label(cfg), "seed": int(cfg.seed)}


def _start_summary(cfg: DictConfig, run_dir: Path, trainer: pl.Trainer, point: ResumePoint | None,
                   continuing: bool) -> None:
    claim_run_dir(run_dir)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    if continuing:
        previous = read_summary(run_dir) if (run_dir / "summary.json").is_file() else {}  # none: set aside as corrupt
        resumes = list(previous.get("resumes", []))
        resumes.append({"at": started, "checkpoint": str(point.ckpt_path), "global_step": point.global_step,
                        "git_commit": git_commit(ROOT)})  # the top-level git_commit stays the one that started it
        update_summary(run_dir, status="running", resumes=resumes,
                       **({} if previous else {**_identity(cfg), "run_dir": str(run_dir)}))
        return
    write_config(run_dir, cfg)
    update_summary(run_dir, status="running", **_identity(cfg), run_dir=str(run_dir), started=started,
                   git_commit=git_commit(ROOT), versions=library_versions(), world_size=trainer.world_size,
                   initial_checkpoint=str(point.ckpt_path) if point else None)


def _final_summary(run_dir: Path, module: pl.LightningModule, trainer: pl.Trainer, stats: RunStats,
                   status: str) -> dict:
    metrics = read_metrics(run_dir)
    final, best = best_and_final(metrics)
    for key, value in trainer.callback_metrics.items():  # test/ metrics, and everything under fast_dev_run
        if key.startswith(("val/", "test/", "train/")) and (key.startswith("test/") or key not in final):
            final[key] = float(value)
    guard = next((c for c in trainer.callbacks if isinstance(c, NonFiniteGuard)), None)
    return update_summary(
        run_dir, status=status, epochs=int(trainer.current_epoch), global_steps=int(trainer.global_step),
        monitor=module.monitor, final=final, best=best, ash_layers=ash.ash_parameters(module),
        skipped_nonfinite_steps=guard.skipped if guard else 0,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"), **stats.summary(module.device))
