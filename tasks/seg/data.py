"""Segmentation data: the embedded `digitscenes`, ADE20K (ADEChallengeData2016) and PASCAL VOC 2012.

One preset per data set: real data trains on random rescale + crop + flip + colour jitter and is
evaluated at full resolution (padded to a multiple of 32, the padding ignored).
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from torchvision.datasets import VOCSegmentation

from tasks.common.data_module import BaseDataModule
from tasks.common.datasets.constants import IMAGENET_MEAN, IMAGENET_STD
from tasks.common.errors import ConfigError, DataError, missing_data
from tasks.seg.datasets import Pair, PairDataset, SceneMasks, label_lut
from tasks.seg.palette import ADE20K_CLASSES, DIGITSCENES_CLASSES, IGNORE_INDEX, VOC_CLASSES, make_palette
from tasks.seg.transforms import STRIDE, TrainPreset, eval_preset, pad_collate


ADE20K_LAYOUT = """  <root>/images/training/*.jpg          (20,210 images)
  <root>/images/validation/*.jpg        (2,000 images)
  <root>/annotations/training/*.png     (one per image, same stem; 0 = other (ignored), 1..150 = classes)
  <root>/annotations/validation/*.png"""
ADE20K_SOURCE = "http://sceneparsing.csail.mit.edu/ (ADEChallengeData2016.zip, unzipped into the data root)"
VOC_LAYOUT = """  <root>/VOCdevkit/VOC2012/JPEGImages/<id>.jpg
  <root>/VOCdevkit/VOC2012/SegmentationClass/<id>.png          (palette PNGs: 0..20, 255 = ignored border)
  <root>/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt"""
VOC_SOURCE = ("http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ (VOCtrainval_11-May-2012.tar, extracted into "
              "the data root), or torchvision.datasets.VOCSegmentation(root, download=True)")


class SegDataModule(BaseDataModule):
    """What every segmentation data set shares: 255 = ignored, padding collate, palette, class names."""

    in_chans = 3
    ignore_index = IGNORE_INDEX
    class_names: list[str]
    palette: list[int]
    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        self.num_classes = len(self.class_names)
        self.collate_fn = pad_collate

    def train_preset(self) -> TrainPreset:
        """Random scale in `data.scale` x `data.base_size`, `data.crop_size` crop, flip, colour jitter."""
        c = self.cfg
        return TrainPreset(int(c.crop_size), int(c.base_size), tuple(c.scale), bool(c.get("flip", True)),
                           bool(c.get("photometric", True)))


class DigitScenesDataModule(SegDataModule):
    """The embedded scenes (no download): 11 classes with 0 = background, no augmentation."""

    class_names = DIGITSCENES_CLASSES
    palette = make_palette(offset=0, ignore_rgb=(255, 255, 255))
    mean, std = (0.104,) * 3, (0.192,) * 3  # measured on the train scenes

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        size = int(c.image_size)
        if size % STRIDE:
            raise ConfigError(f"data.image_size={size} must be a multiple of {STRIDE} for the segmentation models.")
        self.train_set, self.val_set, self.test_set = (
            SceneMasks(split, size, int(c[f"{split}_length"]), int(c.max_digits)) for split in ("train", "val", "test"))


class ADE20KDataModule(SegDataModule):
    """ADEChallengeData2016: 150 classes (labels 1..150 -> 0..149, label 0 ignored); val doubles as test."""

    class_names = ADE20K_CLASSES
    palette = make_palette(offset=1, ignore_rgb=(0, 0, 0))
    lut = label_lut({0: IGNORE_INDEX, **{label: label - 1 for label in range(1, 151)}})

    def pairs(self, split: str) -> list[Pair]:
        """(image, annotation) paths of `split` (training or validation), every image with its mask."""
        root = Path(self.cfg.root)
        images, annotations = root / "images" / split, root / "annotations" / split
        for folder in (images, annotations):
            if not folder.is_dir():
                raise missing_data("ADE20K", folder, ADE20K_LAYOUT, ADE20K_SOURCE)
        pairs = []
        for image in sorted(images.glob("*.jpg")):
            mask = annotations / f"{image.stem}.png"
            if not mask.is_file():
                raise DataError(f"Image {image} has no annotation {mask}: every image needs a mask of the same stem "
                                f"(re-extract ADEChallengeData2016).")
            pairs.append((image, mask))
        if not pairs:
            raise DataError(f"No *.jpg images in {images}.\nExpected layout:\n{ADE20K_LAYOUT}")
        return pairs

    def setup(self, stage: str | None = None) -> None:
        self.train_set = PairDataset(self.pairs("training"), self.lut, self.train_preset())
        self.val_set = PairDataset(self.pairs("validation"), self.lut, eval_preset)
        self.test_set = self.val_set  # the challenge's test labels are not public


class VOCDataModule(SegDataModule):
    """PASCAL VOC 2012 SegmentationClass via torchvision's file lists: 21 classes, 255 ignored; val doubles as test."""

    class_names = VOC_CLASSES
    palette = make_palette(offset=0, ignore_rgb=(224, 224, 192))
    lut = label_lut({**{label: label for label in range(21)}, IGNORE_INDEX: IGNORE_INDEX})

    def pairs(self, split: str) -> list[Pair]:
        """(JPEGImages, SegmentationClass) paths of the ids listed in ImageSets/Segmentation/<split>.txt."""
        root = Path(self.cfg.root)
        split_file = root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not split_file.is_file():
            raise missing_data("PASCAL VOC 2012", split_file, VOC_LAYOUT, VOC_SOURCE)
        voc = VOCSegmentation(str(root), year="2012", image_set=split)
        return [(Path(image), Path(mask)) for image, mask in zip(voc.images, voc.masks)]

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        self.train_set = PairDataset(self.pairs(c.get("train_split", "train")), self.lut, self.train_preset())
        self.val_set = PairDataset(self.pairs(c.get("val_split", "val")), self.lut, eval_preset)
        self.test_set = self.val_set  # VOC 2012 test labels are not public


DATAMODULES: dict[str, type[BaseDataModule]] = {"digitscenes": DigitScenesDataModule, "ade20k": ADE20KDataModule,
                                                "voc": VOCDataModule}
