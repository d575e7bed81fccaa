"""Detection metrics: COCO mAP (torchmetrics, faster_coco_eval) and the mean confidence of matched detections."""
from __future__ import annotations

import logging

import torch
from torchmetrics import Metric
from torchmetrics.detection import MeanAveragePrecision
from torchvision.ops import box_iou

MAP_KEYS = ("map", "map_50", "map_75")
MAX_DETS = 100  # detections per image that count (COCO's maxDets; SSDLite and RetinaNet return up to 300)
logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)  # its per-epoch summary table floods the log


def mean_average_precision() -> MeanAveragePrecision:
    """COCO-style box mAP; targets' `iscrowd` boxes (crowd, VOC difficult) only absorb detections."""
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="faster_coco_eval")
    metric.warn_on_many_detections = False  # COCO's protocol: the top MAX_DETS by score count, by design
    return metric


class MatchedConfidence(Metric):
    """Mean score of the detections that match a ground-truth box (IoU >= `iou`, same class).

    Matching is greedy by score, one detection per ground-truth box, among the top MAX_DETS detections (COCO's
    rules), crowd boxes excluded: the mean confidence of the true positives at IoU `iou`. NaN when nothing matched.
    """

    full_state_update = False

    def __init__(self, iou: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.iou = iou
        self.add_state("score_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("matched", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, preds: list[dict], targets: list[dict]) -> None:
        for pred, target in zip(preds, targets):
            scores = matched_scores(pred, target, self.iou)
            self.score_sum += scores.double().sum()
            self.matched += scores.numel()

    def compute(self) -> torch.Tensor:
        if self.matched == 0:
            return torch.tensor(float("nan"))
        return (self.score_sum / self.matched).float()


def matched_scores(pred: dict, target: dict, iou: float) -> torch.Tensor:
    """Scores of one image's detections matched greedily (highest score first) to its non-crowd boxes."""
    crowd = target.get("iscrowd")
    keep = torch.ones_like(target["labels"], dtype=torch.bool) if crowd is None else crowd == 0
    gt_boxes, gt_labels = target["boxes"][keep], target["labels"][keep]
    if len(gt_boxes) == 0 or len(pred["boxes"]) == 0:
        return pred["scores"].new_zeros(0)
    overlap = box_iou(pred["boxes"].float(), gt_boxes.float())
    overlap = overlap.masked_fill(pred["labels"][:, None] != gt_labels[None, :], -1.0).cpu()
    hits = (overlap >= iou).any(dim=1)  # only these can match: the loop stays short
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool)
    matched = []
    for i in torch.argsort(pred["scores"].cpu(), descending=True)[:MAX_DETS].tolist():
        if not hits[i]:
            continue
        candidates = overlap[i].masked_fill(taken, -1.0)
        j = int(candidates.argmax())
        if candidates[j] >= iou:
            taken[j] = True
            matched.append(i)
            if taken.all():
                break
    return pred["scores"][torch.tensor(matched, dtype=torch.long, device=pred["scores"].device)]
