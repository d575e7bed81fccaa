"""Run folders: derived from the config, never overwritten, identical on every DDP rank.

`results/runs/<experiment>/<task>-<data>-<model>-<act>-s<seed>[-<n>]/`. A folder belongs to
the launch that created it (its `.launch_id`): a new launch of the same config gets the next free
suffix, while every rank of one launch (Lightning's DDP children, SLURM tasks, a SLURM requeue)
finds the same folder. No rank reads a clock to name it.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from omegaconf import DictConfig

LAUNCH_FILE = ".launch_id"
LAUNCH_ENV = "ASH_LAUNCH_ID"


def act_label(cfg: DictConfig) -> str:
    """The activation as runs name it: the config name, with F-ASH's k spelled out (`fash25`)."""
    return cfg.act.name if cfg.act.name != "fash" else f"fash{cfg.act.k:g}"


def run_name(cfg: DictConfig) -> str:
    """`<task>-<data>-<model>-<act>-s<seed>`, the run's base folder name."""
    return f"{cfg.task.name}-{cfg.data.name}-{cfg.model.name}-{act_label(cfg)}-s{cfg.seed}"


def run_base(cfg: DictConfig) -> Path:
    """`<runs_dir>/<experiment>/<run_name>`: the folder before any `-<n>` suffix."""
    return Path(cfg.paths.runs_dir) / str(cfg.experiment_name) / run_name(cfg)


def launch_id() -> str:
    """An id shared by all processes of one launch, new for each launch of this process."""
    if os.environ.get("SLURM_JOB_ID") and os.environ.get("SLURM_JOB_NAME") not in (None, "bash", "interactive"):
        job = os.environ.get("SLURM_ARRAY_JOB_ID", os.environ["SLURM_JOB_ID"])
        return f"slurm-{job}-{os.environ.get('SLURM_ARRAY_TASK_ID', '0')}"
    is_ddp_child = os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"
    if is_ddp_child and os.environ.get(LAUNCH_ENV):
        return os.environ[LAUNCH_ENV]
    new = uuid.uuid4().hex[:12]
    os.environ[LAUNCH_ENV] = new  # inherited by Lightning's DDP child processes
    return new


def resolve_run_dir(cfg: DictConfig, ident: str | None = None) -> Path:
    """The folder this launch writes to: the first `<name>[-n]` that is free or already ours."""
    base = run_base(cfg)
    ident = ident or launch_id()
    for n in range(10_000):
        candidate = base if n == 0 else base.with_name(f"{base.name}-{n}")
        marker = candidate / LAUNCH_FILE
        if not candidate.exists():
            return candidate
        if marker.exists() and marker.read_text().strip() == ident:
            return candidate
    raise RuntimeError(f"More than 10,000 runs named {base}: clean up {base.parent}.")


def claim_run_dir(path: Path, ident: str | None = None) -> None:
    """Create the folder and mark it as this launch's (rank 0 only)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / LAUNCH_FILE).write_text((ident or os.environ[LAUNCH_ENV]) + "\n")
