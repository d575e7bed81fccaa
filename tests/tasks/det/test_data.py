"""tasks/det/data.py and datasets.py on tiny COCO and VOC trees written in their real layouts."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tasks.common.errors import DataError
from tasks.det.data import DATAMODULES
from tasks.det.datasets import VOC_CLASSES, collate, to_coco_results
from tests.tasks.det.trees import write_coco, write_voc


def datamodule(compose, tmp_path: Path, data: str):
    cfg = compose(["task=det", f"data={data}", f"paths.data_dir={tmp_path}", "data.flip=false"])
    dm = DATAMODULES[data](cfg.data)
    dm.setup("fit")
    return dm


def test_coco_contiguous_labels_crowd_and_empty_images(compose, tmp_path):
    write_coco(tmp_path)
    dm = datamodule(compose, tmp_path, "coco")
    assert dm.num_classes == 4 and dm.category_ids == [1, 3, 7]
    image, target = dm.train_set[0]  # image 10: category 7 -> label 3; its crowd box leaves training
    assert image.shape == (3, 32, 40) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert target["labels"].tolist() == [3] and target["boxes"].tolist() == [[2, 3, 12, 15]]
    assert target["boxes"].dtype == torch.float32  # the json's integer boxes too (DDP gathers need one dtype)
    assert target["image_id"] == 10 and target["iscrowd"].tolist() == [0]
    _, empty = dm.train_set[1]  # image 11 has no annotations: kept, with no boxes
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,)
    _, val = dm.val_set[0]  # evaluation keeps crowd boxes, flagged, for the metric to ignore
    assert val["labels"].tolist() == [2, 3] and val["iscrowd"].tolist() == [0, 1]
    images, targets = collate([dm.train_set[0], dm.train_set[2]])
    assert len(images) == 2 and targets[1]["labels"].tolist() == [1]
    results = to_coco_results(torch.tensor([[2.0, 3, 12, 15]]), torch.tensor([0.9]), torch.tensor([3]), 10,
                              dm.category_ids)
    assert results == [{"image_id": 10, "category_id": 7, "bbox": [2.0, 3.0, 10.0, 12.0], "score": 0.9}]


def test_coco_unknown_category_names_the_file(compose, tmp_path):
    bad = [{"id": 1, "image_id": 10, "category_id": 5, "bbox": [2, 3, 10, 12], "iscrowd": 0, "area": 120}]
    write_coco(tmp_path, {"train2017": bad, "val2017": []})
    with pytest.raises(DataError, match=r"instances_train2017\.json.*category_id \[5\]"):
        datamodule(compose, tmp_path, "coco")


def test_coco_missing_names_the_layout(compose, tmp_path):
    with pytest.raises(DataError, match="instances_val2017.json"):
        datamodule(compose, tmp_path, "coco")


def test_voc_difficult_flagged_and_excluded_from_training(compose, tmp_path):
    write_voc(tmp_path, {"2008_000001": [("dog", 0, (3, 4, 20, 30)), ("cat", 1, (10, 2, 38, 25))],
                         "2008_000002": [("person", 0, (1, 1, 39, 31)), ("dog", 1, (2, 2, 9, 9))]})
    dm = datamodule(compose, tmp_path, "voc")
    assert dm.num_classes == 21
    _, train = dm.train_set[0]
    assert train["labels"].tolist() == [VOC_CLASSES.index("dog") + 1] and train["boxes"].tolist() == [[3, 4, 20, 30]]
    _, val = dm.val_set[0]
    assert val["labels"].tolist() == [VOC_CLASSES.index("person") + 1, VOC_CLASSES.index("dog") + 1]
    assert val["iscrowd"].tolist() == [0, 1]


def test_voc_malformed_xml_names_the_file(compose, tmp_path):
    write_voc(tmp_path, {"a": [("dragon", 0, (3, 4, 20, 30))], "b": [("dog", 0, (3, 4, 20, 30))]})
    dm = datamodule(compose, tmp_path, "voc")
    with pytest.raises(DataError, match=r"Annotations/a\.xml.*dragon"):
        dm.train_set[0]


def test_voc_missing_split_names_the_layout(compose, tmp_path):
    with pytest.raises(DataError, match=r"ImageSets/Main/val\.txt"):
        datamodule(compose, tmp_path, "voc")


def test_digitscenes_batches_are_image_lists(compose):
    cfg = compose(["task=det", "data.train_length=3", "data.val_length=2", "data.test_length=2"])
    dm = DATAMODULES["digitscenes"](cfg.data)
    dm.setup("fit")
    dm.set_world_size(1)
    dm.batch_size = 2
    images, targets = next(iter(dm.val_dataloader()))
    assert len(images) == 2 and images[0].shape == (3, 64, 64)
    assert targets[0]["boxes"].shape[1] == 4 and targets[0]["labels"].min() >= 1 and dm.num_classes == 11
