"""GAN data: the embedded `digits` (32x32, 1 channel) and CelebA read from its distributed files.

Batches are 1-tuples `(images,)` with images in [-1, 1] (the generator's tanh range).
torchvision's CelebA class is not used: it checks the md5 of every annotation file, which users who
only have the aligned images and the partition file do not have.
"""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision import transforms as T

from tasks.common.data_module import BaseDataModule
from tasks.common.datasets.digits import digit_images
from tasks.common.errors import DataError, missing_data

CELEBA_IMAGES, CELEBA_PARTITION = "img_align_celeba", "list_eval_partition.txt"
CELEBA_SPLITS = {"train": 0, "val": 1, "test": 2}
CELEBA_LAYOUT = f"""  <root>/{CELEBA_IMAGES}/000001.jpg ... 202599.jpg   (the aligned and cropped 178x218 JPEGs)
  <root>/{CELEBA_PARTITION}                     (lines '000001.jpg 0': 0 train, 1 val, 2 test)"""
CELEBA_SOURCE = ("https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped Images: img_align_celeba.zip; "
                 "Eval/list_eval_partition.txt)")


class GanDataModule(BaseDataModule):
    """Shared by the GAN data sets: no classes, `in_chans` channels at `image_size` pixels."""

    num_classes = 0

    @property
    def image_size(self) -> int:
        return int(self.cfg.image_size)


class DigitsGanDataModule(GanDataModule):
    """scikit-learn's digits at `image_size` (32), scaled to [-1, 1]; the fixed train/val/test split."""

    in_chans = 1

    def setup(self, stage: str | None = None) -> None:
        self.train_set, self.val_set, self.test_set = (
            TensorDataset(digit_images(split, self.image_size)[0] * 2 - 1) for split in ("train", "val", "test"))


def read_partition(path: Path) -> dict[str, list[str]]:
    """Image names per split from list_eval_partition.txt (DataError naming the line if malformed)."""
    splits: dict[str, list[str]] = {name: [] for name in CELEBA_SPLITS}
    codes = {str(v): k for k, v in CELEBA_SPLITS.items()}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[1] not in codes:
            raise DataError(f"{path}, line {number}: expected '<image>.jpg <0|1|2>', got {line!r}.\n{CELEBA_LAYOUT}")
        splits[codes[fields[1]]].append(fields[0])
    return splits


class CelebAImages(Dataset):
    """The aligned CelebA JPEGs named in `names`, each returned as `(image,)`."""

    def __init__(self, folder: Path, names: list[str], transform) -> None:
        self.folder, self.names, self.transform = folder, names, transform

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[Tensor]:
        path = self.folder / self.names[index]
        try:
            with Image.open(path) as image:
                return (self.transform(image.convert("RGB")),)
        except (OSError, UnidentifiedImageError) as e:
            raise DataError(f"Cannot read CelebA image {path} ({e}); re-extract img_align_celeba.zip.") from e


class CelebADataModule(GanDataModule):
    """CelebA: center crop `crop` (178) of the aligned images, resized to `image_size` (64), in [-1, 1]."""

    in_chans = 3

    def _paths(self) -> tuple[Path, Path]:
        root = Path(self.cfg.root)
        folder, partition = root / CELEBA_IMAGES, root / CELEBA_PARTITION
        for path in (folder, partition):
            if not path.exists():
                raise missing_data("CelebA", path, CELEBA_LAYOUT.replace("<root>", str(root)), CELEBA_SOURCE)
        return folder, partition

    def setup(self, stage: str | None = None) -> None:
        folder, partition = self._paths()
        splits = read_partition(partition)
        present = set(os.listdir(folder))
        missing = [n for names in splits.values() for n in names if n not in present]
        if missing:
            raise DataError(f"{len(missing)} images listed in {partition} are not in {folder} "
                            f"(first: {', '.join(missing[:3])}). Re-extract img_align_celeba.zip.")
        transform = T.Compose([T.CenterCrop(int(self.cfg.crop)), T.Resize(self.image_size), T.ToTensor(),
                               T.Normalize([0.5] * 3, [0.5] * 3)])
        self.train_set, self.val_set, self.test_set = (
            CelebAImages(folder, splits[split], transform) for split in ("train", "val", "test"))
        val_size = self.cfg.get("val_size")
        if val_size is not None and val_size < len(self.val_set):
            self.val_set = Subset(self.val_set, range(int(val_size)))  # the first images: the same every epoch


DATAMODULES = {"digits": DigitsGanDataModule, "celeba": CelebADataModule}
