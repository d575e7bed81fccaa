"""mIoU, pixel accuracy and per-class IoU against a case computed by hand."""
from __future__ import annotations

import math

import torch

from tasks.seg.metrics import per_class_iou, segmentation_metrics

# Two 2x3 images, classes {0, 1, 2, 3}, 255 ignored. Class 3 appears nowhere.
TARGET = torch.tensor([[[0, 0, 1], [1, 2, 255]],
                       [[2, 2, 2], [0, 1, 255]]])
PRED = torch.tensor([[[0, 1, 1], [1, 2, 0]],
                     [[2, 0, 2], [0, 1, 1]]])
# Valid pixels (target != 255): 10. Pairs (target, pred):
#   class 0: target pixels 3 (two hit, one -> 1), predicted 0 at 3 valid pixels (two hits + one where target 2)
#            -> IoU = 2 / (3 + 3 - 2) = 0.5
#   class 1: target 3 (all hit), predicted 1 at 4 valid pixels -> IoU = 3 / (3 + 4 - 3) = 0.75
#   class 2: target 4 (three hit, one -> 0), predicted 2 at 3 -> IoU = 3 / (4 + 3 - 3) = 0.75
#   class 3: absent from both: no IoU (NaN), left out of the mean
# mIoU = (0.5 + 0.75 + 0.75) / 3 = 2/3; pixel accuracy = (2 + 3 + 3) / 10 = 0.8
HAND_IOU = [0.5, 0.75, 0.75]


def test_miou_and_pixel_accuracy_match_the_hand_computed_case():
    metrics = segmentation_metrics(num_classes=4, ignore_index=255)
    metrics.update(PRED[:1], TARGET[:1])  # two batches accumulate like one
    metrics.update(PRED[1:], TARGET[1:])
    values = metrics.compute()
    assert math.isclose(values["miou"].item(), 2 / 3, rel_tol=1e-6)
    assert math.isclose(values["pixel_acc"].item(), 0.8, rel_tol=1e-6)


def test_per_class_iou_is_nan_for_an_absent_class():
    metric = per_class_iou(num_classes=4, ignore_index=255)
    metric.update(PRED, TARGET)
    iou = metric.compute()
    assert torch.allclose(iou[:3], torch.tensor(HAND_IOU))
    assert torch.isnan(iou[3])
    assert math.isclose(iou.nanmean().item(), 2 / 3, rel_tol=1e-6)


def test_ignored_pixels_do_not_count_whatever_is_predicted():
    metrics = segmentation_metrics(num_classes=4, ignore_index=255)
    other = PRED.clone()
    other[TARGET == 255] = 3
    metrics.update(other, TARGET)
    assert math.isclose(metrics.compute()["miou"].item(), 2 / 3, rel_tol=1e-6)
