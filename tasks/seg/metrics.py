"""Segmentation metrics (torchmetrics): mIoU, pixel accuracy and per-class IoU, all ignoring ignore_index."""
from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex


def segmentation_metrics(num_classes: int, ignore_index: int) -> MetricCollection:
    """`miou` (mean IoU over the classes present in prediction or target) and `pixel_acc` (micro accuracy)."""
    return MetricCollection({
        "miou": MulticlassJaccardIndex(num_classes, average="macro", ignore_index=ignore_index),
        "pixel_acc": MulticlassAccuracy(num_classes, average="micro", ignore_index=ignore_index),
    })


def per_class_iou(num_classes: int, ignore_index: int) -> MulticlassJaccardIndex:
    """IoU of every class; NaN for a class absent from both prediction and target."""
    return MulticlassJaccardIndex(num_classes, average="none", ignore_index=ignore_index, zero_division=float("nan"))
