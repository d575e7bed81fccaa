"""Detection data: the embedded `digitscenes`, COCO 2017 (instances json) and PASCAL VOC 2007/2012 (XML).

Batches are (images, targets) tuples (see `tasks.det.datasets`); detectors resize images themselves.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from torch.utils.data import Dataset

from tasks.common.data_module import BaseDataModule
from tasks.common.datasets.digits import SPLITS
from tasks.common.datasets.digitscenes import NUM_CLASSES, DigitScenes
from tasks.common.errors import ConfigError, missing_data
from tasks.det.datasets import VOC_CLASSES, Preset, SceneBoxes, VOCBoxes, coco_category_ids, coco_dataset, collate

COCO_LAYOUT = """  <root>/train2017/*.jpg
  <root>/val2017/*.jpg
  <root>/annotations/instances_train2017.json
  <root>/annotations/instances_val2017.json"""
COCO_SOURCE = "https://cocodataset.org/#download (2017 Train images, 2017 Val images, 2017 Train/Val annotations)"
VOC_LAYOUT = """  <root>/VOCdevkit/VOC<year>/JPEGImages/<id>.jpg
  <root>/VOCdevkit/VOC<year>/Annotations/<id>.xml
  <root>/VOCdevkit/VOC<year>/ImageSets/Main/<split>.txt     (train, val, trainval; VOC2007 also test)"""
VOC_SOURCE = ("http://host.robots.ox.ac.uk/pascal/VOC/ (VOC2012: VOCtrainval_11-May-2012.tar; VOC2007: "
              "VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar), extracted into the data root")


class DetDataModule(BaseDataModule):
    """What every detection data set shares: list batches, 3 channels; setup builds the splits once."""

    in_chans = 3
    category_ids: list[int] | None = None  # COCO: training label i + 1 is category id category_ids[i]

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        self.collate_fn = collate

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:  # Lightning calls setup for fit and again for test
            self.train_set, self.val_set, self.test_set = self.build_splits()

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        raise NotImplementedError


class DigitScenesDataModule(DetDataModule):
    """The embedded scenes (no download): labels 1..10 = digits 0..9, 0 = background."""

    num_classes = NUM_CLASSES

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        c = self.cfg
        return tuple(SceneBoxes(DigitScenes(s, int(c.image_size), c.get(f"{s}_length"), int(c.max_digits)))
                     for s in SPLITS)


class CocoDataModule(DetDataModule):
    """COCO 2017 instances; category ids map to labels 1..K (sorted by id); crowd boxes only ignore detections."""

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        self.root = Path(cfg.root)
        self.category_ids = coco_category_ids(self._ann_file(cfg.val_split))
        self.num_classes = len(self.category_ids) + 1

    def _ann_file(self, split: str) -> Path:
        path = self.root / "annotations" / f"instances_{split}.json"
        if not path.is_file():
            raise missing_data("COCO annotations", path, COCO_LAYOUT, COCO_SOURCE)
        return path

    def _split(self, split: str, train: bool) -> Dataset:
        image_dir = self.root / split
        if not image_dir.is_dir():
            raise missing_data(f"COCO images ({split})", image_dir, COCO_LAYOUT, COCO_SOURCE)
        return coco_dataset(image_dir, self._ann_file(split), self.category_ids, train, bool(self.cfg.flip))

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        c = self.cfg
        val = self._split(c.val_split, train=False)
        test = val if c.test_split == c.val_split else self._split(c.test_split, train=False)
        return self._split(c.train_split, train=True), val, test


class VocDataModule(DetDataModule):
    """PASCAL VOC detection of one year; difficult objects leave training targets unless `use_difficult`."""

    num_classes = len(VOC_CLASSES) + 1

    def _split(self, split: str, train: bool) -> Dataset:
        c = self.cfg
        year = str(c.det_year)
        base = Path(c.root) / "VOCdevkit" / f"VOC{year}"
        if not (base / "ImageSets" / "Main" / f"{split}.txt").is_file():
            raise missing_data(f"PASCAL VOC{year} detection split '{split}'", base / "ImageSets" / "Main" / f"{split}.txt",
                               VOC_LAYOUT, VOC_SOURCE)
        preset = Preset(train, bool(c.flip), keep_crowd=bool(c.use_difficult))
        try:
            return VOCBoxes(str(c.root), year=year, image_set=split, transforms=preset)
        except ValueError as e:
            raise ConfigError(f"data.det_year={year} with split '{split}': {e}") from e

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        c = self.cfg
        val = self._split(c.det_val_split, train=False)
        test = val if c.det_test_split == c.det_val_split else self._split(c.det_test_split, train=False)
        return self._split(c.det_train_split, train=True), val, test


DATAMODULES = {"digitscenes": DigitScenesDataModule, "coco": CocoDataModule, "voc": VocDataModule}
