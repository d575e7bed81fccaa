"""One training job, top to bottom: config -> data, model, loggers, trainer -> fit, test -> results."""
from __future__ import annotations

import errno
import shutil
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from lightning_fabric.plugins.environments import SLURMEnvironment
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
from tasks.common.provenance import git_commit, library_versions
from tasks.common.rng_state import RngStateCheckpoint
from tasks.common.resume import LAST, ResumePoint, find_resume_point, restore_record, snapshot_record
from tasks.common.run_dir import act_label, claim_run_dir, current_launch, release_run_dirs, resolve_run_dir
from tasks.common.run_record import CHECKPOINTS, RunRecord, best_and_final, read_metrics, read_summary
from tasks.common.validate import validate

ROOT = Path(__file__).resolve().parents[2]
# Lightning noise that says nothing about the run.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def build_callbacks(cfg: DictConfig, run_dir: Path, monitor: str, mode: str, stats: RunStats) -> list[pl.Callback]:
    """The suite's callbacks: ASH parameters, run stats, RNG states, checkpoints, the non-finite guard."""
    ckpt_dir = run_dir / CHECKPOINTS
    every = (cfg.get("checkpoint") or {}).get("every_n_train_steps")
    callbacks = [
        AshParameterLogger(), stats, RngStateCheckpoint(), NonFiniteGuard(cfg.get("nonfinite", "stop")),
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, auto_insert_metric_name=False),
        # last.ckpt: at each epoch end and, if asked, every N steps (what resume= and a requeue continue from)
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False,
                        every_n_train_steps=every or None),
    ]
    return callbacks + [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list, resume_step: int | None,
                  find_unused_parameters: bool = False) -> pl.Trainer:
    """The Lightning Trainer of `cfg.trainer` with the suite's loggers and callbacks."""
    extra = {}
    strategy = cfg.trainer.get("strategy")
    if find_unused_parameters and strategy in ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook"):
        extra["strategy"] = f"{strategy}_find_unused_parameters_true"  # Lightning's registered variant
    if SLURMEnvironment.detect() and not cfg.trainer.get("plugins"):  # an srun task (not salloc's shell)
        extra["plugins"] = [SLURMEnvironment(auto_requeue=False)]  # submitit owns requeueing
    user_plugins = [instantiate(p) for p in cfg.trainer.get("plugins") or []]
    extra["plugins"] = [*extra.get("plugins", user_plugins), AtomicCheckpointIO()]  # all-or-nothing checkpoints
    loggers = build_loggers(cfg.get("logger"), run_dir, resume_step)
    return instantiate(cfg.trainer, logger=loggers, callbacks=callbacks, default_root_dir=str(run_dir), **extra)


def run(cfg: DictConfig) -> dict:
    """Train and test one configuration; returns the summary written to the run folder."""
    try:
        return _run(cfg)
    finally:
        release_run_dirs()  # a finished run no longer holds its folder (a killed one: the kernel releases it)


def _run(cfg: DictConfig) -> dict:
    check_combination(cfg)
    validate(cfg)
    task = load_task(cfg.task.name)
    launch = current_launch()  # one identity from resolving the folder to claiming it, the same on every rank
    fresh_dir = resolve_run_dir(cfg, launch)
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

    created_here = not run_dir.exists()
    run_dir = claim_run_dir(cfg, run_dir, launch, continuing)  # before the loggers (wandb) create it
    stats = RunStats()
    try:
        callbacks = build_callbacks(cfg, run_dir, module.monitor, module.monitor_mode, stats)
        trainer = build_trainer(cfg, run_dir, callbacks, point.global_step if continuing else None,
                                module.ddp_find_unused_parameters)
        datamodule.set_world_size(trainer.world_size, int(cfg.seed))
    except BaseException:
        if created_here and launch.rank == 0:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was written yet: leave no folder
        raise
    rank_zero = trainer.is_global_zero
    before = snapshot_record(run_dir) if rank_zero and continuing else None  # put back if the resume trains nothing
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
            RunRecord(run_dir).interrupt(f"SIGTERM at step {trainer.global_step}: "
                                         f"{LAST} saved; continue with resume={run_dir}")
        return {"status": "interrupted", "run_dir": str(run_dir)}
    except BaseException as error:
        finish_wandb(failed=True)
        if rank_zero and created_here and isinstance(error, UserError) and trainer.global_step == 0:
            shutil.rmtree(run_dir, ignore_errors=True)  # bad input before any training: leave no trace
        elif rank_zero and before is not None and trainer.global_step <= point.global_step:
            restore_record(run_dir, before)  # a failed resume leaves the run exactly as it was
        elif rank_zero:
            record = RunRecord(run_dir)
            try:
                if _is_ctrl_c(error):
                    record.interrupt(f"{type(error).__name__}: Ctrl-C at step {trainer.global_step}; "
                                     f"{_continue_hint(run_dir)}")
                else:
                    record.fail(error)
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
    summary = _final_summary(run_dir, module, trainer, stats)
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
    record = RunRecord(run_dir)
    if continuing:
        record.resume(point.ckpt_path, point.global_step, git_commit(ROOT),
                      identity={**_identity(cfg), "run_dir": str(run_dir)})
        return
    record.start(cfg, _identity(cfg), git_commit(ROOT), versions=library_versions(), world_size=trainer.world_size,
                 initial_checkpoint=str(point.ckpt_path) if point else None)


def _final_summary(run_dir: Path, module: pl.LightningModule, trainer: pl.Trainer, stats: RunStats) -> dict:
    metrics = read_metrics(run_dir)
    final, best = best_and_final(metrics, module.metric_mode)
    for key, value in trainer.callback_metrics.items():  # test/ metrics, and everything under fast_dev_run
        if key.startswith(("val/", "test/", "train/")) and (key.startswith("test/") or key not in final):
            final[key] = float(value)
    guard = next((c for c in trainer.callbacks if isinstance(c, NonFiniteGuard)), None)
    return RunRecord(run_dir).finish(
        epochs=int(trainer.current_epoch), global_steps=int(trainer.global_step),
        monitor=module.monitor, monitor_mode=module.monitor_mode, final=final, best=best,
        metric_modes={name: module.metric_mode(name) for name in best}, ash_layers=ash.ash_parameters(module),
        skipped_nonfinite_steps=guard.skipped if guard else 0, **stats.summary(module.device))
