"""Faults through the real CLI: a kill during a checkpoint, metrics or summary write, a full disk, a damaged
checkpoint, a corrupt summary.json, a changed recipe. Afterwards the run folder holds the old or the new
state, nothing is lost, and `resume=` continues to the uninterrupted result."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

from tasks.common.checkpoint_io import checksum_matches
from tests.tasks.common.test_reliability import TINY, assert_same_run, cli, only_run, reference  # noqa: F401

pytestmark = pytest.mark.slow  # each case trains a small model, twice


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def status(run_dir: Path) -> str:
    return json.loads((run_dir / "summary.json").read_text())["status"]


def copy_run(reference: Path, tmp_path: Path) -> Path:
    """A copy of the finished reference run inside this test's results tree."""
    run_dir = tmp_path / "results" / "runs" / "adhoc" / reference.name
    shutil.copytree(reference, run_dir)
    return run_dir


def assert_good_checkpoint(run_dir: Path) -> int:
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert checksum_matches(ckpt)
    return torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]


KILLS = [  # (id, file, nth write after fit starts, where in the write)
    ("checkpoint-half-written", "last.ckpt", 2, "partial"),
    ("checkpoint-before-rename", "last.ckpt", 2, "replace"),
    ("metrics-half-appended", "metrics.csv", 3, "partial"),
    ("summary-final-update", "summary.json", 1, "replace"),
]


@pytest.mark.parametrize("name, nth, at", [pytest.param(*k[1:], id=k[0]) for k in KILLS])
def test_kill_during_a_write_leaves_old_or_new_state_and_resume_repeats_the_run(tmp_path, reference, name, nth, at):
    killed = cli([*TINY, "+callbacks.kill._target_=tests.helpers.KillDuringWrite", f"+callbacks.kill.name={name}",
                  f"+callbacks.kill.nth={nth}", f"+callbacks.kill.at={at}"], tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    run_dir = only_run(tmp_path)
    assert status(run_dir) == "running"  # the old summary, whole
    assert assert_good_checkpoint(run_dir) > 0
    pd.read_csv(run_dir / "metrics.csv")  # readable
    resumed = cli([*TINY, f"resume={run_dir}"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(run_dir, reference)
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))  # the killed save's temporary file is cleared by the next save


def test_full_disk_fails_clearly_keeps_the_last_checkpoint_and_resumes(tmp_path, reference):
    results = tmp_path / "results"
    results.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(results)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs permission to mount a tmpfs (root)")
    try:
        full = cli([*TINY, "+callbacks.fill._target_=tests.helpers.FillDiskAtStep", "+callbacks.fill.step=8"],
                   tmp_path)
        assert full.returncode == 1, full.stderr[-3000:]
        assert "No space left on device" in full.stderr and "Traceback" not in full.stderr, full.stderr[-3000:]
        run_dir = only_run(tmp_path)
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "failed" and "No space left" in summary["error"]
        assert assert_good_checkpoint(run_dir) == 6  # the epoch-1 checkpoint, intact
        (run_dir / "filler.bin").unlink()
        resumed = cli([*TINY, f"resume={run_dir}"], tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert_same_run(run_dir, reference)
    finally:
        subprocess.run(["umount", str(results)], check=False)


def test_damaged_checkpoint_of_a_complete_run_is_refused_and_nothing_changes(tmp_path, reference):
    run_dir = copy_run(reference, tmp_path)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = os.urandom(64)
    ckpt.write_bytes(bytes(data))
    before = snapshot(run_dir)
    result = cli([*TINY, "trainer.max_epochs=4", f"resume={run_dir}"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "no longer matches the checksum" in result.stderr
    assert snapshot(run_dir) == before  # the test row, the status, everything kept


def test_changed_recipe_is_refused_with_the_differences(tmp_path, reference):
    run_dir = copy_run(reference, tmp_path)
    before = snapshot(run_dir)
    result = cli([*TINY, f"resume={run_dir}", "optim.optimizer.lr=0.5", "seed=7"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "optim.optimizer.lr: 0.001 -> 0.5" in result.stderr and "seed: 0 -> 7" in result.stderr
    assert "trainer.max_epochs" in result.stderr  # the allow-list is named
    assert snapshot(run_dir) == before


def test_corrupt_summary_keeps_the_checkpoint_and_the_resume_rebuilds_it(tmp_path, reference):
    run_dir = copy_run(reference, tmp_path)
    (run_dir / "summary.json").write_text('{"status": "compl')
    before = snapshot(run_dir)
    refused = cli([*TINY, f"resume={run_dir}"], tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    assert "is not valid JSON" in refused.stderr and "mv " in refused.stderr
    assert snapshot(run_dir) == before
    (run_dir / "summary.json").rename(run_dir / "summary.json.corrupt")
    resumed = cli([*TINY, f"resume={run_dir}"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["act"] == "ash" and summary["epochs"] == 3
    assert_same_run(run_dir, reference)


def test_sweep_continue_names_a_corrupt_folder_and_goes_on(tmp_path, reference):
    bad = copy_run(reference, tmp_path)
    (bad / "summary.json").write_text("not json")
    before = snapshot(bad)
    result = cli([*TINY, "trainer.max_epochs=1", "on_existing=continue"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"leaving {bad} as it is" in result.stdout
    assert snapshot(bad) == before
    assert status(bad.with_name(bad.name + "-1")) == "complete"


def test_sweep_continue_refuses_a_complete_run_of_another_recipe(tmp_path, reference):
    done = copy_run(reference, tmp_path)
    before = snapshot(done)
    result = cli([*TINY, "on_existing=continue", "act.lr_scale=10"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{done} is a complete run of this configuration with another recipe" in result.stderr
    assert "act.lr_scale: 1.0 -> 10" in result.stderr
    assert snapshot(done) == before and not done.with_name(done.name + "-1").exists()


def test_ctrl_c_prints_the_resume_hint(tmp_path):
    stopped = cli([*TINY, "checkpoint.every_n_train_steps=2", "+callbacks.int._target_=tests.helpers.SignalAtStep",
                   "+callbacks.int.step=3", "+callbacks.int.sig=INT"], tmp_path)
    run_dir = only_run(tmp_path)
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    assert f"continue with resume={run_dir}" in stopped.stderr
    assert status(run_dir) == "interrupted"
