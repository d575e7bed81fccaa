"""Real detection jobs (train.py's runner, Lightning, Hydra) on tiny images, one thread."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tasks.common.errors import ConfigError
from tests.tasks.common.test_launch import SHORT, run_folders, train_cli
from tests.tasks.det.trees import write_coco

SMALL = ["task=det", "model.min_size=64", "model.max_size=64", "data.batch_size=2", "trainer.fast_dev_run=true"]
TINY = [*SMALL, "data.train_length=4", "data.val_length=2", "data.test_length=2"]


@pytest.mark.parametrize("model", ["ssdlite", "fasterrcnn_mobilenet", "fasterrcnn", "retinanet"])
def test_fast_dev_run(train, model):
    summary = train([*TINY, f"model={model}"])
    assert summary["status"] == "complete" and summary["monitor"] == "val/map_50"
    for key in ("test/map", "test/map_50", "test/map_75", "test/matched_conf", "test/loss"):
        assert key in summary["final"], key
    assert len(summary["ash_layers"]) > 40


def test_one_epoch_logs_losses_metrics_and_the_best_checkpoint(train):
    one_batch = ["trainer.fast_dev_run=false", "trainer.max_epochs=1", "trainer.limit_train_batches=1",
                 "trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]
    summary = train([*TINY, *one_batch])
    final, best = summary["final"], summary["best"]
    for key in ("train/loss", "train/loss_classification", "train/loss_bbox_regression", "val/loss"):
        assert torch.isfinite(torch.tensor(final[key])), key
    run = Path(summary["run_dir"])
    assert "val/map_50" in best and "val/matched_conf" in (run / "metrics.csv").read_text().splitlines()[0]
    assert (run / "checkpoints" / "best.ckpt").is_file()


def test_coco_run_writes_detections_with_category_ids(train, tmp_path):
    write_coco(tmp_path / "data")
    summary = train([*SMALL, "data=coco", "data.num_workers=0", "data.pin_memory=false",
                     f"paths.data_dir={tmp_path / 'data'}", "task.val_loss=false"])
    detections = json.loads((Path(summary["run_dir"]) / "detections_test.json").read_text())
    assert {d["category_id"] for d in detections} <= {1, 3, 7} and {d["image_id"] for d in detections} <= {20, 21}
    assert 0 < len(detections) <= 2 * 100


@pytest.mark.parametrize("overrides", [["data.batch_size=1"], ["data.train_length=1"]])
def test_ssdlite_batch_of_one_is_a_clear_error(train, overrides):
    """Checked at the start (batch size), and caught in the step (a one-image batch: here a one-image set)."""
    with pytest.raises(ConfigError, match="at least 2 images per device"):
        train([*TINY, *overrides])


def test_ddp_on_two_cpu_processes_with_coco(tmp_path):
    """Two gloo processes: metric states gathered across ranks (one rank sees only the empty image)."""
    write_coco(tmp_path / "data")
    train_cli(["trainer=ddp_cpu", "task=det", "data=coco", f"paths.data_dir={tmp_path / 'data'}", "data.num_workers=0",
               "data.pin_memory=false", "model.min_size=64", *SHORT], tmp_path)
    (folder,) = run_folders(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["world_size"] == 2 and "test/map_50" in summary["final"]
    assert {d["image_id"] for d in json.loads((folder / "detections_test.json").read_text())} <= {20, 21}
