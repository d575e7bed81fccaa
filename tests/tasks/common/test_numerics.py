"""Mixed precision: the default job and a segmentation job train under bf16-mixed without non-finite values."""
from __future__ import annotations

import math

import pytest

SHORT = ["trainer.precision=bf16-mixed", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
         "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "nonfinite=stop"]


@pytest.mark.parametrize("task_overrides", [
    [],
    ["task=seg", "model=unet", "data.batch_size=4", "data.image_size=32", "data.train_length=16",
     "data.val_length=8", "data.test_length=8"],
], ids=["cls-default", "seg-unet"])
def test_bf16_mixed_trains_with_finite_values(train, task_overrides):
    summary = train([*SHORT, *task_overrides, "act=ash"])
    assert summary["status"] == "complete"
    assert summary["final"] and all(math.isfinite(v) for v in summary["final"].values())
    assert all(math.isfinite(row["z"]) and math.isfinite(row["alpha"]) for row in summary["ash_layers"])
