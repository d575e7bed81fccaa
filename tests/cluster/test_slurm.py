"""Every SLURM launch path against a real one-node cluster (tests/cluster/conftest.py): a submitit sweep of
2-task DDP jobs, its equality with `trainer=ddp_cpu`, preemption by requeue, a failing job, slurm_8gpu's sbatch."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.cluster.slurm_cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1", "trainer.enable_progress_bar=false", "data.batch_size=4",
         "trainer.deterministic=true"]
# trainer=slurm is sized for GPUs (8 per node, SyncBatchNorm, bf16): here 1 node x 2 CPU tasks over gloo
SLURM_CPU = ["hydra/launcher=submitit_slurm", "hydra.launcher.nodes=1", "hydra.launcher.tasks_per_node=2",
             "hydra.launcher.timeout_min=15", "trainer=slurm", "trainer.num_nodes=1", "trainer.devices=2",
             "trainer.accelerator=cpu", "trainer.sync_batchnorm=false", "trainer.precision=32-true",
             "trainer.benchmark=false"]


def train(args: list[str], tmp: Path, env: dict[str, str] | None = None, timeout: int = 600):
    """`python train.py <args>` with results, Hydra and submitit folders under `tmp`."""
    env = {**(env or os.environ), "ASH_ROOT": str(ROOT), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "train.py", *args, f"paths.results_dir={tmp}/results",
                           f"hydra.sweep.dir={tmp}/multirun", f"hydra.run.dir={tmp}/hydra"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def runs(tmp: Path) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in (tmp / "results" / "runs").rglob("summary.json")}


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def metrics(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(run_dir / "metrics.csv")
    return frame[[c for c in frame.columns if not c.startswith("time/")]]  # wall time differs, nothing else may


def job_logs(tmp: Path, job: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in (tmp / "multirun" / ".submitit").rglob(f"{job}*_log.*")}


def scontrol(cluster: Cluster, *args: str) -> str:
    return subprocess.run(["scontrol", *args], env=cluster.env(), capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def sweep(slurm, tmp_path_factory) -> Path:
    """(a) `train.py -m hydra/launcher=submitit_slurm` over 2 activations, each job 2 tasks x 1 node."""
    tmp = tmp_path_factory.mktemp("sweep")
    started = time.monotonic()
    result = train(["-m", *SLURM_CPU, "act=relu,ash", *SHORT], tmp, slurm.env(), timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    print(f"sweep of 2 SLURM jobs x 2 tasks: {time.monotonic() - started:.0f} s")
    return tmp


def test_a_submitit_sweep_gives_one_complete_folder_per_job_with_world_size_2(sweep):
    folders = runs(sweep)
    assert sorted(folders) == ["cls-digits-small-ash-s0", "cls-digits-small-relu-s0"]
    for folder in folders.values():
        s = summary(folder)
        assert (s["status"], s["world_size"], s["global_steps"]) == ("complete", 2, 2)
        assert re.fullmatch(r"slurm-\d+-[01]-0", (folder / ".launch_id").read_text().strip())  # array job, task
        assert len(metrics(folder)) >= 1
    logs = job_logs(sweep, "")
    assert sum("Job completed successfully" in text for text in logs.values()) == 4  # 2 jobs x 2 tasks


def test_the_slurm_job_equals_a_ddp_cpu_run_with_the_same_seed_and_global_batch(sweep, tmp_path):
    local = train(["trainer=ddp_cpu", "act=ash", *SHORT], tmp_path, {k: v for k, v in os.environ.items()
                                                                     if not k.startswith("SLURM")})
    assert local.returncode == 0, local.stderr[-3000:]
    (here,) = runs(tmp_path).values()
    there = runs(sweep)["cls-digits-small-ash-s0"]
    assert summary(here)["world_size"] == summary(there)["world_size"] == 2
    pd.testing.assert_frame_equal(metrics(there), metrics(here))
    final = {k: v for k, v in summary(here)["final"].items() if not k.startswith("time/")}
    assert {k: summary(there)["final"][k] for k in final} == final


TINY = ["model.depth=11", "model.base_width=8", "data.batch_size=16", "trainer.limit_train_batches=6",
        "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "trainer.max_epochs=2",
        "trainer.deterministic=true", "trainer.enable_progress_bar=false"]


def test_a_requeued_job_continues_in_its_folder_and_ends_like_an_uninterrupted_run(slurm, tmp_path):
    reference = train(TINY, tmp_path / "reference", {k: v for k, v in os.environ.items() if not k.startswith("SLURM")})
    assert reference.returncode == 0, reference.stderr[-3000:]
    sweep = subprocess.Popen(
        [sys.executable, "train.py", "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.timeout_min=15",
         "trainer=cpu", *TINY, "+callbacks.requeue._target_=tests.cluster.requeue.RequeueAtStep",
         "+callbacks.requeue.step=3", f"paths.results_dir={tmp_path}/results", f"hydra.sweep.dir={tmp_path}/multirun"],
        cwd=ROOT, env={**slurm.env(), "ASH_ROOT": str(ROOT), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 400
        job = None
        while time.monotonic() < deadline and sweep.poll() is None:
            ids = re.findall(r"^(\d+)", subprocess.run(["squeue", "-h", "-o", "%i"], env=slurm.env(),
                                                       capture_output=True, text=True).stdout, re.M)
            job = job or (ids[0] if ids else None)
            info = scontrol(slurm, "show", "job", job) if job else ""
            if "JobState=PENDING" in info and "Restarts=1" in info:  # requeued by the callback, held back
                scontrol(slurm, "update", f"jobid={job}", "StartTime=now")  # skip SLURM's requeue delay (~2 min)
                break
            time.sleep(1)
        out, _ = sweep.communicate(timeout=500)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, out[-4000:]
    (run_dir,) = runs(tmp_path).values()
    s = summary(run_dir)
    assert s["status"] == "complete" and len(s["resumes"]) == 1
    assert s["resumes"][0]["global_step"] == 4  # SIGTERM arrived during step 3; last.ckpt holds the step after it
    assert (run_dir / ".launch_id").read_text().strip() == f"slurm-{job}-0-0"  # the same job, back in its folder
    assert "Restarts=1" in scontrol(slurm, "show", "job", job)  # SLURM restarted this job once
    (reference_dir,) = runs(tmp_path / "reference").values()
    pd.testing.assert_frame_equal(metrics(run_dir), metrics(reference_dir))


def test_a_bad_config_fails_fast_on_every_rank_with_one_message_and_no_orphans(slurm, tmp_path):
    started = time.monotonic()
    result = train(["-m", *SLURM_CPU, "data.batch_size=3", *SHORT[:-2]], tmp_path, slurm.env(), timeout=400)
    elapsed = time.monotonic() - started
    assert result.returncode != 0 and elapsed < 300, elapsed
    logs = job_logs(tmp_path, "")
    errs = {name: text for name, text in logs.items() if name.endswith("_log.err")}
    assert len(errs) == 2, sorted(logs)  # one log per rank
    for text in errs.values():
        assert text.count("is not divisible by the 2 devices") == 1 and "Traceback" not in text, text[-2000:]
    assert "is not divisible by the 2 devices" in result.stdout + result.stderr  # the sweep says why, too
    assert not runs(tmp_path) and not list((tmp_path / "results" / "runs").rglob("*-s0*"))
    assert subprocess.run(["squeue", "-h"], env=slurm.env(), capture_output=True, text=True).stdout.strip() == ""
    stray = subprocess.run(["pgrep", "-f", str(tmp_path / "multirun")], capture_output=True, text=True).stdout
    assert stray.strip() == "", stray


@pytest.mark.parametrize("nodes", [1, 2])
def test_slurm_8gpu_composes_into_the_expected_sbatch_script(slurm, tmp_path, nodes):
    extra = ["trainer=ddp"] if nodes == 1 else ["trainer=slurm", "trainer.num_nodes=2", "hydra.launcher.nodes=2"]
    result = train(["-m", "hydra/launcher=slurm_8gpu", "hydra.launcher.partition=debug", *extra, *SHORT], tmp_path,
                   slurm.env(), timeout=300)
    assert result.returncode != 0  # this cluster has no GPUs: sbatch refuses the job after submitit wrote it
    (script,) = (tmp_path / "multirun" / ".submitit").rglob("*.sh")
    text = script.read_text()
    for line in [f"#SBATCH --nodes={nodes}", "#SBATCH --ntasks-per-node=8", "#SBATCH --gpus-per-node=8",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=400GB", "#SBATCH --time=2880",
                 "#SBATCH --partition=debug", "#SBATCH --signal=USR2@120"]:
        assert line in text, text
    lines = text.splitlines()
    srun = next(i for i, line in enumerate(lines) if line.startswith("srun "))
    assert "submitit.core._submit" in lines[srun]
    assert "export SLURM_KILL_BAD_EXIT=1" in lines[:srun]  # srun ends every rank when one fails
