"""Launch paths through the real CLI (Hydra multirun, DDP on two CPU processes, wandb offline, two launches at
once) and the launch identity and run-folder claim with srun's and torchrun's environment set by hand."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from tasks.common import run_dir as rd
from tasks.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1", "trainer.enable_progress_bar=false", "data.batch_size=4"]


def train_cli(args: list[str], tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASH_ROOT": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    flags = [a for a in args if a.startswith("-") or a in ("hydra",)]
    args = [a for a in args if not (a.startswith("-") or a in ("hydra",))]
    result = subprocess.run([sys.executable, "train.py", *flags, f"paths.results_dir={tmp_path}/results",
                             f"hydra.sweep.dir={tmp_path}/multirun", f"hydra.run.dir={tmp_path}/hydra", *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_folders(tmp_path: Path) -> list[Path]:
    return sorted(p.parent for p in (tmp_path / "results" / "runs").rglob("summary.json"))


def test_multirun_sweep_writes_one_folder_per_job(tmp_path):
    train_cli(["-m", "act=relu,ash", *SHORT], tmp_path)
    folders = run_folders(tmp_path)
    assert [f.name for f in folders] == ["cls-digits-small-ash-s0", "cls-digits-small-relu-s0"]
    assert all(json.loads((f / "summary.json").read_text())["status"] == "complete" for f in folders)


def test_ddp_on_two_cpu_processes_writes_one_results_folder(tmp_path):
    train_cli(["trainer=ddp_cpu", "act=ash", *SHORT], tmp_path)
    folders = run_folders(tmp_path)
    assert len(folders) == 1, folders
    summary = json.loads((folders[0] / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["world_size"] == 2
    assert (folders[0] / "metrics.csv").exists()
    config = (folders[0] / "config.yaml").read_text()
    assert "strategy: ddp" in config and "batch_size: 4" in config


def test_wandb_offline_writes_a_run_and_finishes(tmp_path):
    train_cli(["logger=wandb", *SHORT], tmp_path)
    (folder,) = run_folders(tmp_path)
    offline_runs = list((folder / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert any(offline_runs[0].rglob("*.wandb"))
    assert (folder / "metrics.csv").exists()  # CSV stays on with any logger


def test_slurm_launcher_configs_compose(tmp_path):
    result = train_cli(["hydra/launcher=slurm_8gpu", "trainer=ddp", "--cfg", "hydra"], tmp_path)
    assert "SlurmLauncher" in result.stdout
    assert "tasks_per_node: 8" in result.stdout and "gpus_per_node: 8" in result.stdout
    result = train_cli(["hydra/launcher=submitit_slurm", "--cfg", "hydra"], tmp_path)
    assert "SlurmLauncher" in result.stdout


def test_submitit_local_launcher_runs_a_sweep_job_in_its_own_process(tmp_path):
    train_cli(["-m", "hydra/launcher=submitit_local", "act=swish", *SHORT], tmp_path)
    assert [f.name for f in run_folders(tmp_path)] == ["cls-digits-small-swish-s0"]
    assert any((tmp_path / "multirun").rglob("*_log.out"))  # submitit's own job log


# ---- the launch identity and the run-folder claim, with srun's / torchrun's environment set by hand ----

LAUNCH_VARS = ("SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID",
               "SLURM_STEP_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "RANK", "LOCAL_RANK", "NODE_RANK",
               "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "TORCHELASTIC_RUN_ID", rd.LAUNCH_ENV)


def srun_env(job: int, procid: int, ntasks: int, nodeid: int = 0, localid: int | None = None) -> dict[str, str]:
    """What srun gives task `procid` of a job step (the variables the suite and Lightning read)."""
    return {"SLURM_JOB_ID": str(job), "SLURM_JOB_NAME": "ash", "SLURM_NTASKS": str(ntasks),
            "SLURM_PROCID": str(procid), "SLURM_LOCALID": str(procid if localid is None else localid),
            "SLURM_NODEID": str(nodeid), "SLURM_STEP_ID": "0", "SLURM_NODELIST": "localhost"}


@pytest.fixture
def launch_env(monkeypatch):
    """`launch_env({...})` replaces every launcher variable of this process with the given ones."""
    def set_env(values: dict[str, str]) -> rd.Launch:
        for key in LAUNCH_VARS:
            monkeypatch.delenv(key, raising=False)
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return rd.current_launch()
    return set_env


def tiny_cfg(tmp_path: Path, seed: int = 0):
    return OmegaConf.create({"task": {"name": "cls"}, "data": {"name": "digits"}, "model": {"name": "small"},
                             "act": {"name": "ash"}, "seed": seed, "experiment_name": "adhoc",
                             "paths": {"runs_dir": str(tmp_path / "runs")}})


def start_rank(cfg, launch: rd.Launch) -> Path:
    """What the runner does for one rank before training: resolve, then claim (rank 0) or find (others)."""
    return rd.claim_run_dir(cfg, rd.resolve_run_dir(cfg, launch), launch)


@pytest.mark.parametrize("layout", ["1 task", "2 tasks on one node", "2 nodes x 1 task"])
def test_every_srun_task_of_a_job_gets_the_same_folder_and_only_rank_0_claims_it(tmp_path, launch_env, layout):
    tasks = {"1 task": [(0, 0, 0)], "2 tasks on one node": [(0, 0, 0), (1, 0, 1)],
             "2 nodes x 1 task": [(0, 0, 0), (1, 1, 0)]}[layout]
    cfg = tiny_cfg(tmp_path)
    folders, launches = [], []
    for procid, nodeid, localid in reversed(tasks):  # rank 1 may start before rank 0 has claimed anything
        launch = launch_env(srun_env(4242, procid, len(tasks), nodeid, localid))
        launches.append(launch)
        folders.append(start_rank(cfg, launch))
    assert {launch.ident for launch in launches} == {"slurm-4242-0-0"}
    assert sorted(launch.rank for launch in launches) == list(range(len(tasks)))
    assert set(folders) == {tmp_path / "runs" / "adhoc" / "cls-digits-small-ash-s0"}
    assert rd.owner(folders[0]) == "slurm-4242-0-0"
    rd.release_run_dirs()


def test_a_requeued_job_finds_its_folder_and_a_new_job_gets_the_next_suffix(tmp_path, launch_env):
    cfg = tiny_cfg(tmp_path)
    first = start_rank(cfg, launch_env(srun_env(100, 0, 1)))
    rd.release_run_dirs()  # the job was requeued: its process is gone
    assert start_rank(cfg, launch_env(srun_env(100, 0, 1))) == first
    rd.release_run_dirs()
    assert start_rank(cfg, launch_env(srun_env(101, 0, 1))).name == first.name + "-1"
    array_task = launch_env({**srun_env(102, 0, 1), "SLURM_ARRAY_JOB_ID": "90", "SLURM_ARRAY_TASK_ID": "3"})
    assert array_task.ident == "slurm-90-3-0"  # a sweep's jobs share the array id, not the task id
    rd.release_run_dirs()


def test_a_finished_folder_is_never_reused_by_the_same_identity(tmp_path, launch_env):
    cfg = tiny_cfg(tmp_path)
    first = start_rank(cfg, launch_env(srun_env(7, 0, 1)))
    (first / "summary.json").write_text(json.dumps({"status": "complete"}))
    rd.release_run_dirs()
    assert start_rank(cfg, launch_env(srun_env(7, 0, 1))).name == first.name + "-1"
    rd.release_run_dirs()


def test_local_launches_share_an_identity_with_their_ddp_children_only(tmp_path, launch_env):
    parent = launch_env({})
    assert os.environ[rd.LAUNCH_ENV] == parent.ident and parent.rank == 0  # what Lightning's children inherit
    child = launch_env({rd.LAUNCH_ENV: "from-the-parent", "LOCAL_RANK": "1", "NODE_RANK": "0"})
    assert (child.ident, child.rank) == ("from-the-parent", 1)
    assert launch_env({}).ident != parent.ident  # the next launch of this process
    with pytest.raises(ConfigError, match="ASH_LAUNCH_ID"):
        launch_env({"NODE_RANK": "1"})  # a hand-started second node without the shared identity
    interactive = launch_env({**srun_env(5, 0, 1), "SLURM_JOB_NAME": "interactive"})
    assert interactive.kind == "local"  # salloc's shell: Lightning does not use SLURM's ranks either


def test_torchrun_workers_share_an_identity(tmp_path, launch_env):
    def worker(rank: int, run_id: str, world: int = 2, local_world: int = 2) -> rd.Launch:
        return launch_env({"RANK": str(rank), "LOCAL_RANK": str(rank % local_world), "GROUP_RANK": "0",
                           "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(local_world),
                           "TORCHELASTIC_RUN_ID": run_id, "MASTER_ADDR": "localhost", "MASTER_PORT": "29500"})
    assert worker(0, "abc").ident == worker(1, "abc").ident == "torchrun-abc"
    assert worker(1, "abc").rank == 1 and worker(1, "abc").kind == "torchrun"
    assert worker(0, "none").ident == worker(1, "none").ident  # one node: the workers share torchrun's agent
    with pytest.raises(ConfigError, match="--rdzv-id"):
        worker(0, "none", world=4, local_world=2)


def test_two_launches_racing_for_one_name_get_two_folders(tmp_path, launch_env):
    cfg = tiny_cfg(tmp_path)
    a, b = launch_env(srun_env(1, 0, 1)), launch_env(srun_env(2, 0, 1))
    resolved_a, resolved_b = rd.resolve_run_dir(cfg, a), rd.resolve_run_dir(cfg, b)
    assert resolved_a == resolved_b  # both chose the free name before either claimed it
    got = {rd.claim_run_dir(cfg, resolved_a, a), rd.claim_run_dir(cfg, resolved_b, b)}
    assert {p.name for p in got} == {"cls-digits-small-ash-s0", "cls-digits-small-ash-s0-1"}
    rd.release_run_dirs()


HOLD = """
import sys, time
from omegaconf import OmegaConf
from tasks.common import run_dir as rd
cfg = OmegaConf.create({cfg})
rd.claim_run_dir(cfg, rd.resolve_run_dir(cfg, rd.current_launch()), rd.current_launch())
print("claimed", flush=True)
time.sleep(600)
"""


def test_a_live_run_blocks_a_second_writer_and_a_killed_one_does_not(tmp_path, launch_env):
    cfg = tiny_cfg(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(cfg=OmegaConf.to_container(cfg))], cwd=ROOT,
                              env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "claimed"
        (folder,) = (tmp_path / "runs" / "adhoc").iterdir()
        with pytest.raises(ConfigError, match=f"in use by a live run \\(pid {holder.pid} "):
            rd.claim_run_dir(cfg, folder, launch_env({}), continuing=True)  # resume= of the live run
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert rd.claim_run_dir(cfg, folder, launch_env({}), continuing=True) == folder  # the stale lock is gone
    rd.release_run_dirs()


def test_two_launches_of_one_config_at_the_same_moment_get_two_complete_folders(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}, "ASH_ROOT": str(ROOT),
           "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "train.py", *SHORT, f"paths.results_dir={tmp_path}/results"]
    both = [subprocess.Popen([*args, f"hydra.run.dir={tmp_path}/hydra{i}"], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    for process in both:
        _, err = process.communicate(timeout=400)
        assert process.returncode == 0, err[-3000:]
    folders = run_folders(tmp_path)
    assert [f.name for f in folders] == ["cls-digits-small-ash-s0", "cls-digits-small-ash-s0-1"]
    assert len({(f / ".launch_id").read_text() for f in folders}) == 2
    for folder in folders:
        assert json.loads((folder / "summary.json").read_text())["status"] == "complete"
        frame = pd.read_csv(folder / "metrics.csv")
        assert frame.filter(like="test/").notna().any(axis=1).sum() == 1  # one writer: one test row, not two
