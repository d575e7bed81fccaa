"""Real Hydra compose + real Lightning Trainer on the embedded digit scenes (and a tiny ADE20K tree)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tasks.common.registry import options_for
from tests.tasks.seg.test_data import make_ade20k

ROOT = Path(__file__).resolve().parents[3]
MODELS = options_for("model", "seg")
TINY = ["task=seg", "debug=fast_dev_run", "data.batch_size=2", "data.image_size=32", "data.train_length=4",
        "data.val_length=2", "data.test_length=2", "task.num_samples=2"]


def test_design_card_command_verbatim_in_a_short_run(tmp_path):
    """`python train.py task=seg model=deeplabv3p act=ash`, shortened only by the debug and data size overrides."""
    command = [sys.executable, "train.py", "task=seg", "model=deeplabv3p", "act=ash",
               "debug=limit", "data.batch_size=2", "data.image_size=32", "trainer.enable_progress_bar=false",
               f"paths.results_dir={tmp_path / 'results'}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "results" / "runs" / "adhoc" / "seg-digitscenes-deeplabv3p-ash-s0"
    assert f"Run: {run_dir}" in done.stdout and "val/miou" in done.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["monitor"] == "val/miou" and summary["epochs"] == 2
    assert {"val/miou", "val/pixel_acc", "val/loss"} <= set(summary["best"])
    assert {"test/miou", "test/pixel_acc", "test/loss"} <= set(summary["final"])
    assert len(summary["ash_layers"]) == 26  # tu-resnet18 encoder (17) + ASPP and decoder (9)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert sorted(metrics.dropna(subset=["val/miou"])["epoch"]) == [0, 1]
    per_class = pd.read_csv(run_dir / "per_class_iou.csv")
    assert set(per_class["stage"]) == {"val", "test"} and len(per_class) == 3 * 11
    index = json.loads((run_dir / "samples" / "index.json").read_text())
    assert index["indices"] == [0, 66, 133, 199] and index["data"] == "digitscenes"
    pred = Image.open(run_dir / "samples" / "00066_pred.png")
    assert pred.mode == "P" and pred.size == (32, 32) and max(pred.getdata()) <= 10


@pytest.mark.parametrize("act", ["relu", "swish", "ash"])
@pytest.mark.parametrize("model", MODELS)
def test_every_model_runs_one_batch(train, model, act):
    summary = train([*TINY, f"model={model}", f"act={act}"])
    assert summary["status"] == "complete" and summary["model"] == model and summary["act"] == act
    assert 0 <= summary["final"]["test/miou"] <= 1
    assert bool(summary["ash_layers"]) == (act == "ash")
    samples = sorted(p.name for p in (Path(summary["run_dir"]) / "samples").glob("*.png"))
    assert samples == [f"{i:05d}_{kind}.png" for i in (0, 1) for kind in ("input", "pred", "target")]


def test_ade20k_trains_on_crops_and_evaluates_at_full_resolution(train, tmp_path):
    make_ade20k(tmp_path / "data")
    summary = train(["task=seg", "data=ade20k", f"paths.data_dir={tmp_path / 'data'}", "data.crop_size=32",
                     "data.base_size=32", "data.batch_size=2", "data.num_workers=0", "data.pin_memory=false",
                     "debug=fast_dev_run", "act=relu"])
    assert summary["status"] == "complete" and summary["data"] == "ade20k"
    assert Image.open(Path(summary["run_dir"]) / "samples" / "00001_pred.png").size == (60, 36)


def test_wrong_task_data_combination_lists_the_options(train):
    from tasks.common.errors import ConfigError

    with pytest.raises(ConfigError, match="Valid data options for task=seg: ade20k, digitscenes, voc"):
        train(["task=seg", "data=digits"])
