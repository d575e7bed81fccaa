"""Exact resume after SIGKILL (epoch boundary and mid-epoch, 0 and 2 workers), SIGTERM, determinism,
checkpoint integrity and the non-finite guard; all through the real CLI or the real runner."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
STEPS_PER_EPOCH = 6
TINY = ["model.depth=11", "model.base_width=8", "data.batch_size=16", f"trainer.limit_train_batches={STEPS_PER_EPOCH}",
        "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "trainer.max_epochs=3",
        "trainer.deterministic=true", "trainer.enable_progress_bar=false"]


def cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASH_ROOT": str(ROOT), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "train.py", f"paths.results_dir={tmp_path}/results",
                           f"hydra.run.dir={tmp_path}/hydra", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def only_run(tmp_path: Path) -> Path:
    (folder,) = [p.parent for p in (tmp_path / "results" / "runs").rglob("config.yaml")]
    return folder


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run that every resumed run must reproduce exactly."""
    tmp = tmp_path_factory.mktemp("reference")
    result = cli(TINY, tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run(tmp)


def assert_same_run(run_dir: Path, reference: Path) -> None:
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "complete"
    got, want = pd.read_csv(run_dir / "metrics.csv"), pd.read_csv(reference / "metrics.csv")
    pd.testing.assert_frame_equal(got, want)  # same epochs, no duplicates, same values
    a, b = weights(run_dir), weights(reference)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kill_step, every", [(2 * STEPS_PER_EPOCH, None), (STEPS_PER_EPOCH + 3, 2)],
                         ids=["epoch-boundary", "mid-epoch"])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, reference, kill_step, every, workers):
    args = [*TINY, f"data.num_workers={workers}", f"checkpoint.every_n_train_steps={every or 'null'}"]
    killed = cli([*args, f"+callbacks.kill._target_=tests.helpers.SignalAtStep", f"+callbacks.kill.step={kill_step}"],
                 tmp_path)
    assert killed.returncode == -signal.SIGKILL
    run_dir = only_run(tmp_path)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "running"  # died without a word
    resumed = cli([*args, f"resume={run_dir}"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run(tmp_path) == run_dir  # continued in place
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["resumes"][0]["global_step"] == (kill_step if every is None else kill_step - 1)
    assert summary["resumes"][0]["git_commit"] == summary["git_commit"]  # the same code continued the run
    assert_same_run(run_dir, reference)


def test_sigterm_saves_a_checkpoint_and_exits_cleanly_then_resumes(tmp_path, reference):
    stopped = cli([*TINY, "+callbacks.term._target_=tests.helpers.SignalAtStep", "+callbacks.term.step=8",
                   "+callbacks.term.sig=TERM"], tmp_path)
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr and "resume=" in stopped.stderr
    run_dir = only_run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 9
    resumed = cli([*TINY, f"resume={run_dir}"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(run_dir, reference)


def test_ctrl_c_is_recorded_as_interrupted(tmp_path):
    stopped = cli([*TINY, "+callbacks.int._target_=tests.helpers.SignalAtStep", "+callbacks.int.step=2",
                   "+callbacks.int.sig=INT"], tmp_path)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "SystemExit" in summary["error"]


def test_same_seed_twice_gives_identical_metrics(train, tmp_path):
    first = Path(train([*TINY, "trainer.max_epochs=2"])["run_dir"])
    second = Path(train([*TINY, "trainer.max_epochs=2"])["run_dir"])
    assert first != second
    assert (first / "metrics.csv").read_bytes() == (second / "metrics.csv").read_bytes()


def test_checkpoint_of_another_configuration_is_refused(tmp_path, reference):
    result = cli([*TINY, "act=relu", f"ckpt_path={reference / 'checkpoints' / 'last.ckpt'}"], tmp_path)
    assert result.returncode == 2
    assert "act.name: 'ash' -> 'relu'" in result.stderr and "Traceback" not in result.stderr


def test_truncated_checkpoint_gives_a_clear_error(tmp_path, reference):
    broken = tmp_path / "broken.ckpt"
    data = (reference / "checkpoints" / "last.ckpt").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    result = cli([*TINY, f"ckpt_path={broken}"], tmp_path)
    assert result.returncode == 2
    assert f"Checkpoint {broken} is truncated or corrupt" in result.stderr


def test_resume_of_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "notarun").mkdir()
    (tmp_path / "notarun" / "keep.txt").write_text("mine")
    result = cli([*TINY, f"resume={tmp_path / 'notarun'}"], tmp_path)
    assert result.returncode == 2 and "is not a run folder" in result.stderr
    assert [p.name for p in (tmp_path / "notarun").iterdir()] == ["keep.txt"]


def test_nonfinite_gradient_stops_with_step_loss_and_layers_and_a_checkpoint(tmp_path):
    result = cli([*TINY, "+callbacks.poison._target_=tests.helpers.PoisonAtStep", "+callbacks.poison.step=3"], tmp_path)
    assert result.returncode == 1
    message = result.stderr.split("Stopped:")[-1]
    assert "Non-finite values at step 3" in message and "z=" in message and "alpha=" in message
    run_dir = only_run(tmp_path)
    assert (run_dir / "checkpoints" / "nonfinite-step3.ckpt").exists()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"


def test_nonfinite_skip_drops_the_step_and_finishes(train):
    summary = train([*TINY, "trainer.max_epochs=1", "nonfinite=skip",
                     "+callbacks.poison._target_=tests.helpers.PoisonAtStep", "+callbacks.poison.step=2"])
    assert summary["status"] == "complete" and summary["skipped_nonfinite_steps"] == 1


def test_sweep_continue_skips_complete_runs_and_resumes_unfinished_ones(tmp_path, reference):
    args = [*TINY, "on_existing=continue"]
    killed = cli([*args, "+callbacks.kill._target_=tests.helpers.SignalAtStep", "+callbacks.kill.step=12"], tmp_path)
    assert killed.returncode == -signal.SIGKILL
    run_dir = only_run(tmp_path)
    resumed = cli(args, tmp_path)  # the same command again: continues the unfinished run in place
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run(tmp_path) == run_dir
    assert_same_run(run_dir, reference)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    again = cli(args, tmp_path)  # and once more: already complete, nothing is touched
    assert again.returncode == 0 and "already complete" in again.stdout
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
