"""tasks/det/metrics.py: mAP on hand-checked cases and the matched-detection confidence."""
from __future__ import annotations

import math

import pytest
import torch

from tasks.det.metrics import MatchedConfidence, matched_scores, mean_average_precision


def boxes(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


TARGETS = [{"boxes": boxes([0, 0, 10, 10], [20, 20, 40, 40]), "labels": torch.tensor([1, 2]),
            "iscrowd": torch.tensor([0, 0])},
           {"boxes": boxes([5, 5, 25, 15]), "labels": torch.tensor([3]), "iscrowd": torch.tensor([0])}]


def test_perfect_prediction_gives_map_one():
    metric = mean_average_precision()
    preds = [{"boxes": t["boxes"], "labels": t["labels"], "scores": torch.full((len(t["labels"]),), 0.9)}
             for t in TARGETS]
    metric.update(preds, TARGETS)
    result = metric.compute()
    assert result["map"] == pytest.approx(1.0) and result["map_50"] == pytest.approx(1.0)
    assert result["map_75"] == pytest.approx(1.0)


def test_half_recall_gives_51_of_101():
    """One class, two boxes, one found: precision 1 up to recall 0.5 -> 51 of COCO's 101 recall points."""
    metric = mean_average_precision()
    target = {"boxes": boxes([0, 0, 10, 10], [20, 20, 40, 40]), "labels": torch.tensor([1, 1])}
    metric.update([{"boxes": boxes([0, 0, 10, 10]), "labels": torch.tensor([1]), "scores": torch.tensor([0.8])}],
                  [target])
    assert metric.compute()["map_50"] == pytest.approx(51 / 101, abs=1e-4)


def test_crowd_boxes_absorb_detections():
    target = {"boxes": boxes([0, 0, 10, 10], [20, 20, 40, 40]), "labels": torch.tensor([1, 1]),
              "iscrowd": torch.tensor([0, 1])}
    pred = {"boxes": boxes([0, 0, 10, 10], [20, 20, 40, 40]), "labels": torch.tensor([1, 1]),
            "scores": torch.tensor([0.5, 0.9])}
    metric = mean_average_precision()
    metric.update([pred], [target])
    assert metric.compute()["map_50"] == pytest.approx(1.0)  # the detection on the crowd box is no false positive
    assert matched_scores(pred, target, 0.5).tolist() == [0.5]


def test_matched_confidence_by_hand():
    pred = {"boxes": boxes([0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 40, 40], [0, 0, 4, 4]),
            "labels": torch.tensor([1, 1, 1, 1]), "scores": torch.tensor([0.9, 0.8, 0.7, 0.6])}
    # 0.9 matches box 1; 0.8 is its duplicate; 0.7 has the wrong class; 0.6 overlaps box 1 with IoU 0.16
    assert matched_scores(pred, TARGETS[0], 0.5).tolist() == pytest.approx([0.9])
    metric = MatchedConfidence()
    metric.update([pred, {"boxes": boxes([5, 5, 25, 16]), "labels": torch.tensor([3]), "scores": torch.tensor([0.5])}],
                  TARGETS)
    assert float(metric.compute()) == pytest.approx((0.9 + 0.5) / 2)
    empty = MatchedConfidence()
    empty.update([{"boxes": boxes(), "labels": torch.tensor([], dtype=torch.long), "scores": torch.tensor([])}],
                 TARGETS[:1])
    assert math.isnan(float(empty.compute()))
