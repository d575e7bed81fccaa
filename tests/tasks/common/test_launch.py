"""Launch paths through the real CLI: Hydra multirun, DDP on two CPU processes, wandb offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
