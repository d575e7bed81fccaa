"""Detection samples from digitscenes, COCO and VOC, all as (image, target) in one format.

image: float32 (3, H, W) in [0, 1]. target: `boxes` (N, 4) float32 xyxy pixels, `labels` (N,) int64 in 1..K
(0 is the detectors' background), `iscrowd` (N,) int64 (COCO crowd regions and VOC difficult objects: dropped
from training targets, ignored by the metric), `image_id` (int). A batch is (images, targets), two tuples.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable
from xml.etree.ElementTree import ParseError, parse as parse_xml

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.datasets import CocoDetection, VOCDetection, wrap_dataset_for_transforms_v2
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from tasks.common.datasets.constants import VOC_OBJECTS
from tasks.common.datasets.digitscenes import DigitScenes
from tasks.common.errors import DataError

VOC_CLASSES = VOC_OBJECTS  # label = index + 1 (0 is the detectors' background)

Sample = tuple[torch.Tensor, dict]


def collate(batch: list[Sample]) -> tuple[tuple[torch.Tensor, ...], tuple[dict, ...]]:
    """(images, targets): images differ in size, so they stay a tuple (len = images in the batch)."""
    images, targets = zip(*batch)
    return images, targets


def make_target(boxes, labels, iscrowd, image_id: int, canvas_size: tuple[int, int]) -> dict:
    """A target in the common format, boxes as BoundingBoxes so that v2 transforms move them."""
    return {"boxes": tv_tensors.BoundingBoxes(torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                              format="XYXY", canvas_size=canvas_size),
            "labels": torch.as_tensor(labels, dtype=torch.int64).reshape(-1),
            "iscrowd": torch.as_tensor(iscrowd, dtype=torch.int64).reshape(-1), "image_id": int(image_id)}


class Preset:
    """Image to float [0, 1] (+ random horizontal flip when training); training targets lose crowd boxes."""

    def __init__(self, train: bool, flip: bool = False, keep_crowd: bool = False,
                 convert: Callable[[object, object], Sample] | None = None) -> None:
        steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
        if train and flip:
            steps.append(v2.RandomHorizontalFlip())
        self.transform, self.convert = v2.Compose(steps), convert
        self.drop_crowd = train and not keep_crowd

    def __call__(self, image, target) -> Sample:
        if self.convert is not None:
            image, target = self.convert(image, target)
        image, target = self.transform(image, target)
        boxes = target["boxes"].as_subclass(torch.Tensor).float()  # COCO files may hold integer boxes
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # detectors reject empty boxes
        if self.drop_crowd:
            keep &= target["iscrowd"] == 0
        out = {key: value[keep] for key, value in (("boxes", boxes), ("labels", target["labels"]),
                                                     ("iscrowd", target["iscrowd"]))}
        return image.as_subclass(torch.Tensor), {**out, "image_id": target["image_id"]}


class SceneBoxes(Dataset):
    """digitscenes as detection samples (digit d has label d + 1); no augmentation (a flipped digit is no digit)."""

    def __init__(self, scenes: DigitScenes) -> None:
        self.scenes = scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> Sample:
        scene = self.scenes[index]
        return scene["image"], {"boxes": scene["boxes"], "labels": scene["labels"],
                                "iscrowd": torch.zeros_like(scene["labels"]), "image_id": index}


# ---------------------------------------------------------------------------------------------------------
# COCO
# ---------------------------------------------------------------------------------------------------------
def coco_category_ids(ann_file: Path) -> list[int]:
    """The sorted category ids of a COCO instances file: category id `ids[i]` is training label i + 1."""
    try:
        categories = json.loads(ann_file.read_text())["categories"]
        return sorted(int(c["id"]) for c in categories)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{ann_file} is not a COCO instances file with a 'categories' list of {{'id', 'name'}} "
                        f"({type(e).__name__}: {e}). Re-extract annotations_trainval2017.zip.") from e


class CocoTarget:
    """The v2 wrapper's COCO target -> the common format (category ids -> labels 1..K, crowd flags kept)."""

    def __init__(self, category_ids: list[int]) -> None:
        self.label_of = {cat: i + 1 for i, cat in enumerate(category_ids)}

    def __call__(self, image, target: dict) -> Sample:
        if "boxes" not in target:  # an image without annotations: the wrapper returns only its id
            return image, make_target([], [], [], target["image_id"], tuple(TF.get_size(image)))
        labels = [self.label_of[c] for c in target["labels"].tolist()]
        target.update(labels=torch.tensor(labels, dtype=torch.int64),
                      iscrowd=torch.as_tensor(target["iscrowd"], dtype=torch.int64))
        return image, target


def coco_dataset(image_dir: Path, ann_file: Path, category_ids: list[int], train: bool, flip: bool) -> Dataset:
    """CocoDetection + torchvision's v2 wrapper; annotations with an unknown category stop with the file named."""
    preset = Preset(train, flip, convert=CocoTarget(category_ids))
    dataset = CocoDetection(str(image_dir), str(ann_file), transforms=preset)
    known = set(dataset.coco.cats)
    if sorted(known) != category_ids:
        raise DataError(f"{ann_file} lists categories {sorted(known)[:10]}... which differ from the validation "
                        f"file's {category_ids[:10]}...: train and val must share one category list.")
    unknown = sorted({a["category_id"] for a in dataset.coco.anns.values()} - known)
    if unknown:
        raise DataError(f"{ann_file} has annotations with category_id {unknown} that are not in its 'categories' "
                        f"list ({sorted(known)}). Fix the file or add the categories.")
    return wrap_dataset_for_transforms_v2(dataset, target_keys=("image_id", "boxes", "labels", "iscrowd"))


def to_coco_results(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, image_id: int,
                    category_ids: list[int]) -> list[dict]:
    """Detections of one image in COCO's results format (xywh, original category ids) for the COCO server."""
    xywh = boxes.clone()
    xywh[:, 2:] -= xywh[:, :2]
    return [{"image_id": int(image_id), "category_id": category_ids[int(label) - 1],
             "bbox": [round(float(v), 2) for v in box], "score": round(float(score), 5)}
            for box, score, label in zip(xywh.tolist(), scores.tolist(), labels.tolist())]


# ---------------------------------------------------------------------------------------------------------
# PASCAL VOC
# ---------------------------------------------------------------------------------------------------------
def voc_target(annotation: dict, image_id: int, canvas_size: tuple[int, int]) -> dict:
    """VOCDetection's parsed XML -> the common format; `difficult` objects are flagged as crowd."""
    objects = annotation.get("object") or []
    boxes = [[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")] for o in objects]
    unknown = sorted({o["name"] for o in objects} - set(VOC_CLASSES))
    if unknown:
        raise ValueError(f"unknown class name(s) {unknown}")
    labels = [VOC_CLASSES.index(o["name"]) + 1 for o in objects]
    difficult = [int(o.get("difficult", "0") or 0) for o in objects]
    return make_target(boxes, labels, difficult, image_id, canvas_size)


class VOCBoxes(VOCDetection):
    """VOCDetection (Annotations/<id>.xml) giving common-format samples; a malformed XML names its file."""

    def __getitem__(self, index: int) -> Sample:
        image = Image.open(self.images[index]).convert("RGB")
        path = self.annotations[index]
        try:
            annotation = self.parse_voc_xml(parse_xml(path).getroot())["annotation"]
            target = voc_target(annotation, index, (image.height, image.width))
        except (ParseError, KeyError, TypeError, ValueError) as e:
            raise DataError(f"Malformed VOC annotation {path} ({type(e).__name__}: {e}): expected <object> entries "
                            f"with <name> in {list(VOC_CLASSES)} and <bndbox> xmin/ymin/xmax/ymax.") from e
        return self.transforms(image, target)
