"""Errors a user will hit: one clear message naming the fix, exit code 2, no traceback as explanation."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.common.data_module import per_device_batch_size
from tasks.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def train_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASH_DATA": str(tmp_path / "data"), "ASH_ROOT": str(ROOT)}
    return subprocess.run([sys.executable, "train.py", f"paths.results_dir={tmp_path}/results", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_wrong_model_for_the_task_lists_the_valid_models(compose, tmp_path):
    from tasks.common.registry import check_combination

    cfg = compose(["model=small"], tmp_path)
    cfg.task.name = "gan"
    with pytest.raises(ConfigError, match="model=small does not belong to task=gan"):
        check_combination(cfg)


def test_global_batch_not_divisible_by_devices_names_the_fix():
    assert per_device_batch_size(32, 8) == 4
    with pytest.raises(ConfigError, match=r"data.batch_size=30 .* not divisible by the 8 devices.*data.batch_size=24"):
        per_device_batch_size(30, 8)


@pytest.mark.parametrize("args, message", [
    (["data=cifar10"], "cifar10 not found at"),
    (["act=fash", "act.k=150"], "(0, 100)"),
    (["act=ash", "act.alpha=-1"], "alpha"),
])
def test_cli_errors_exit_2_with_one_message(tmp_path, args, message):
    result = train_cli([*args, "trainer.max_epochs=1"], tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "results" / "runs").exists() or not any((tmp_path / "results" / "runs").rglob("metrics.csv"))


def test_unknown_group_option_lists_the_options(tmp_path):
    result = train_cli(["act=tanh"], tmp_path)
    assert result.returncode != 0
    assert "Could not find 'act/tanh'" in result.stderr and "ash" in result.stderr
