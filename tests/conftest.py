"""Shared fixtures: compose the real Hydra config and run real jobs into a temporary results tree."""
from __future__ import annotations

import os
from pathlib import Path

# Triton reads TRITON_INTERPRET when it is first imported (timm, Lightning and torch.compile import it), and a
# kernel defined later under the variable cannot run on CPU tensors: the interpreter must hold for the whole session.
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from hydra import compose as hydra_compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(ROOT / "configs")
FAST = ["trainer.enable_progress_bar=false", "trainer.accelerator=cpu"]

torch.set_num_threads(min(2, torch.get_num_threads()))
os.environ.setdefault("ASH_ROOT", str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def compose_config(overrides: list[str], tmp_path: Path | None = None) -> DictConfig:
    """The config `python train.py <overrides>` would build, with results under `tmp_path`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=[*FAST, *overrides])
    if tmp_path is not None:
        with open_dict(cfg):
            cfg.paths.results_dir = str(tmp_path / "results")
            cfg.paths.runs_dir = str(tmp_path / "results" / "runs")
    return cfg


def run_job(overrides: list[str], tmp_path: Path) -> dict:
    """Compose and run one training job in-process; returns its summary."""
    from tasks.common.runner import run

    return run(compose_config(overrides, tmp_path))


@pytest.fixture
def compose():
    return compose_config


@pytest.fixture
def train(tmp_path):
    """`train([...overrides])` runs a job into tmp_path/results and returns its summary dict."""
    return lambda overrides: run_job(overrides, tmp_path)
