"""One training job, top to bottom: config -> data, model, loggers, trainer -> fit, test -> results."""
from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint

import ash
from tasks.common.callbacks import AshParameterLogger, RunStats
from tasks.common.errors import UserError
from tasks.common.loggers import build_loggers, finish_wandb
from tasks.common.registry import check_combination, load_task
from tasks.common.report import format_summary
from tasks.common.results import (best_and_final, git_commit, library_versions, read_metrics, update_summary,
                                  write_config)
from tasks.common.run_dir import claim_run_dir, resolve_run_dir

ROOT = Path(__file__).resolve().parents[2]
# Lightning noise that says nothing about the run: our own files sit in the run folder by design.
warnings.filterwarnings("ignore", message=r".*Experiment logs directory .* exists and is not empty.*")
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def build_trainer(cfg: DictConfig, run_dir: Path, monitor: str, mode: str, stats: RunStats) -> pl.Trainer:
    """The Lightning Trainer of `cfg.trainer` with the suite's loggers and callbacks."""
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor=monitor, mode=mode,
                                 save_last=True, auto_insert_metric_name=False)
    callbacks = [AshParameterLogger(), stats, checkpoint]
    callbacks += [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    return instantiate(cfg.trainer, logger=build_loggers(cfg.get("logger"), run_dir), callbacks=callbacks,
                       default_root_dir=str(run_dir))


def run(cfg: DictConfig) -> dict:
    """Train and test one configuration; returns the summary written to the run folder."""
    check_combination(cfg)
    task = load_task(cfg.task.name)
    run_dir = resolve_run_dir(cfg)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)

    datamodule = task.DATAMODULES[cfg.data.name](cfg.data)
    module = task.build_module(cfg, datamodule)
    if cfg.get("channels_last"):
        module = module.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        module.model = torch.compile(module.model)

    stats = RunStats()
    trainer = build_trainer(cfg, run_dir, module.monitor, module.monitor_mode, stats)
    datamodule.set_world_size(trainer.world_size)
    rank_zero = trainer.is_global_zero
    created_here = not run_dir.exists()
    if rank_zero:
        claim_run_dir(run_dir)
        write_config(run_dir, cfg)
        update_summary(run_dir, status="running", **_identity(cfg), run_dir=str(run_dir),
                       started=time.strftime("%Y-%m-%dT%H:%M:%S"), git_commit=git_commit(ROOT),
                       versions=library_versions(), world_size=trainer.world_size)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        if cfg.get("test", True) and not trainer.interrupted:
            trainer.test(module, datamodule=datamodule, verbose=False)
    except BaseException as error:
        finish_wandb(failed=True)
        if rank_zero and created_here and isinstance(error, UserError) and trainer.global_step == 0:
            shutil.rmtree(run_dir, ignore_errors=True)  # bad input before any training: leave no trace
        elif rank_zero:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            update_summary(run_dir, status=status, error=f"{type(error).__name__}: {error}")
        raise
    finish_wandb(failed=False)
    status = "interrupted" if trainer.interrupted else "complete"
    if not rank_zero:
        return {"status": status, "run_dir": str(run_dir)}
    summary = _final_summary(run_dir, module, trainer, stats, status)
    print(format_summary(summary), flush=True)
    return summary


def _identity(cfg: DictConfig) -> dict:
    act = cfg.act.name if cfg.act.name != "fash" else f"fash{cfg.act.k:g}"
    return {"experiment": cfg.experiment_name, "task": cfg.task.name, "data": cfg.data.name,
            "model": cfg.model.name, "act": act, "seed": int(cfg.seed)}


def _final_summary(run_dir: Path, module: pl.LightningModule, trainer: pl.Trainer, stats: RunStats,
                   status: str) -> dict:
    metrics = read_metrics(run_dir)
    final, best = best_and_final(metrics)
    for key, value in trainer.callback_metrics.items():  # test/ metrics, and everything under fast_dev_run
        if key.startswith(("val/", "test/", "train/")) and (key.startswith("test/") or key not in final):
            final[key] = float(value)
    return update_summary(
        run_dir, status=status, epochs=int(trainer.current_epoch), global_steps=int(trainer.global_step),
        monitor=module.monitor, final=final, best=best, ash_layers=ash.ash_parameters(module),
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"), **stats.summary(module.device))
