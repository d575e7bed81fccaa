"""Run folders: derived from the config, never overwritten or shared, identical on every rank.

`results/runs/<experiment>/<task>-<data>-<model>-<act>-s<seed>[-<n>]/`. A folder belongs to the
launch that created it (its `.launch_id`). One `Launch` (identity and rank, read from the
environment) goes from `resolve_run_dir` to `claim_run_dir`: every rank of one launch (Lightning's
DDP children, srun tasks, torchrun workers) and a SLURM requeue find the same folder; a new launch
gets the next free suffix. Rank 0 claims a new folder with `mkdir` (atomic, so two launches racing
for one name get different folders) and holds an `flock` on its `.lock` while it lives: a second
writer (`resume=` of a live run) is refused, and the kernel drops the lock of a killed run.
"""
from __future__ import annotations

import fcntl
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment
from omegaconf import DictConfig

from tasks.common.errors import ConfigError

LAUNCH_FILE = ".launch_id"
LOCK_FILE = ".lock"
LAUNCH_ENV = "ASH_LAUNCH_ID"
_generated: set[str] = set()  # identities this process made (vs. one given by the user or a parent)
_locks: dict[Path, int] = {}  # run folder -> open file descriptor holding its flock


@dataclass(frozen=True)
class Launch:
    """Who is writing: an identity shared by all processes of one launch, and this process's rank."""
    ident: str
    rank: int
    kind: str  # local | slurm | torchrun


def act_label(cfg: DictConfig) -> str:
    """The activation as runs name it: the config name, with F-ASH's k spelled out (`fash25`)."""
    return cfg.act.name if cfg.act.name != "fash" else f"fash{cfg.act.k:g}"


def run_name(cfg: DictConfig) -> str:
    """`<task>-<data>-<model>-<act>-s<seed>`, the run's base folder name."""
    return f"{cfg.task.name}-{cfg.data.name}-{cfg.model.name}-{act_label(cfg)}-s{cfg.seed}"


def run_base(cfg: DictConfig) -> Path:
    """`<runs_dir>/<experiment>/<run_name>`: the folder before any `-<n>` suffix."""
    return Path(cfg.paths.runs_dir) / str(cfg.experiment_name) / run_name(cfg)


def _given_ident() -> str | None:
    """ASH_LAUNCH_ID when a parent (Lightning's DDP launcher) or the user set it, not this process."""
    value = os.environ.get(LAUNCH_ENV)
    return value if value and value not in _generated else None


def _slurm_launch() -> Launch:
    env = os.environ
    job = env.get("SLURM_ARRAY_JOB_ID", env["SLURM_JOB_ID"])
    # the step tells two `srun`s of one batch script apart; a requeued job restarts at the same step
    ident = f"slurm-{job}-{env.get('SLURM_ARRAY_TASK_ID', '0')}-{env.get('SLURM_STEP_ID', 'batch')}"
    return Launch(ident, int(env.get("SLURM_PROCID", "0")), "slurm")


def _torchrun_launch() -> Launch:
    env = os.environ
    rank = int(env["RANK"])
    run_id = env.get("TORCHELASTIC_RUN_ID", "none")
    if _given_ident():
        return Launch(_given_ident(), rank, "torchrun")
    if run_id != "none":
        return Launch(f"torchrun-{run_id}", rank, "torchrun")
    if env.get("LOCAL_WORLD_SIZE") == env.get("WORLD_SIZE"):  # one node: all workers share the agent
        return Launch(f"torchrun-{socket.gethostname()}-{os.getppid()}", rank, "torchrun")
    raise ConfigError("A multi-node torchrun launch needs one identity on every node: pass --rdzv-id=<unique id> "
                      f"to torchrun (or export {LAUNCH_ENV}=<unique id> on every node).")


def _local_launch() -> Launch:
    is_child = os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"
    given = _given_ident()
    if given:
        return Launch(given, 1 if is_child else 0, "local")
    if is_child:
        raise ConfigError(f"This process has LOCAL_RANK/NODE_RANK > 0 but no launch identity: export "
                          f"{LAUNCH_ENV}=<one unique id> on every node of a hand-started multi-node run.")
    new = uuid.uuid4().hex[:12]
    _generated.add(new)
    os.environ[LAUNCH_ENV] = new  # inherited by Lightning's DDP child processes
    return Launch(new, 0, "local")


def current_launch() -> Launch:
    """This process's launch, from the environment: srun task, torchrun worker, or a local (DDP) launch."""
    if SLURMEnvironment.detect():
        return _slurm_launch()
    if TorchElasticEnvironment.detect():
        return _torchrun_launch()
    return _local_launch()


def _names(base: Path) -> list[Path]:
    return [base if n == 0 else base.with_name(f"{base.name}-{n}") for n in range(10_000)]


def owner(path: Path) -> str | None:
    """The identity of the launch that claimed `path`, if any."""
    try:
        return (path / LAUNCH_FILE).read_text().strip()
    except OSError:
        return None


def _finished(path: Path) -> bool:
    from tasks.common.run_record import read_summary  # run_record imports nothing of ours; keep the import local

    try:
        return read_summary(path).get("status") == "complete"
    except (OSError, ValueError):
        return False


def resolve_run_dir(cfg: DictConfig, launch: Launch) -> Path:
    """The folder this launch would write to: its own unfinished one (a requeue), else the first free name."""
    for candidate in _names(run_base(cfg)):
        if not candidate.exists():
            return candidate
        if owner(candidate) == launch.ident and not _finished(candidate):
            return candidate
    raise ConfigError(f"More than 10,000 runs named {run_base(cfg)}: clean up {run_base(cfg).parent}.")


def _lock(path: Path, launch: Launch) -> None:
    """Hold `path/.lock` for this process's lifetime; a live holder elsewhere means a second writer."""
    if path in _locks:
        return
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise ConfigError(f"{path} is in use by a live run ({holder}). Wait until it ends (or stop it), then "
                          "continue it with resume=; a run that was killed does not hold the folder.") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, launch {launch.ident}\n".encode())
    _locks[path] = fd


def _claim(cfg: DictConfig, path: Path, launch: Launch, continuing: bool) -> Path:
    if path.exists() and (continuing or owner(path) == launch.ident):  # resume=, continue, or a requeue
        _lock(path, launch)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        for candidate in [path, *[p for p in _names(run_base(cfg)) if p.name != path.name]]:
            try:
                candidate.mkdir()  # atomic: exactly one of two racing launches creates a name
            except FileExistsError:
                continue
            path = candidate
            _lock(path, launch)
            break
    (path / LAUNCH_FILE).write_text(launch.ident + "\n")  # a requeue of this launch finds this folder
    return path


def _claimed_by(cfg: DictConfig, path: Path, launch: Launch) -> Path:
    for candidate in [path, *_names(run_base(cfg))]:
        if owner(candidate) == launch.ident:
            return candidate
        if candidate != path and not candidate.exists():
            break
    return path


def claim_run_dir(cfg: DictConfig, path: Path, launch: Launch, continuing: bool = False) -> Path:
    """Rank 0: lock `path` (a new one: create it, or the next free name if another launch took it).

    Other ranks never write and never wait here (so a bad config fails on every rank at once): they
    take the folder rank 0 marked if it is visible yet, else the same name rank 0 resolved. Lightning
    broadcasts the checkpoint folder from rank 0 once the process group is up.
    """
    if launch.rank != 0:
        return _claimed_by(cfg, path, launch)
    return _claim(cfg, path, launch, continuing)


def release_run_dirs() -> None:
    """Drop this process's folder locks (at the end of a run; the kernel does it when a process dies)."""
    while _locks:
        _, fd = _locks.popitem()
        os.close(fd)
