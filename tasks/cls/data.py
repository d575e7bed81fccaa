"""Classification data: the embedded `digits`, CIFAR-10/100 (python batches) and ImageNet (class folders).

One preset per data set (transforms live here, not in the training loop).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.data import Subset
from torchvision import datasets, transforms as T

from tasks.common.data_module import BaseDataModule
from tasks.common.datasets.constants import IMAGENET_MEAN, IMAGENET_STD
from tasks.common.datasets.digits import digits_dataset
from tasks.common.errors import DataError, missing_data

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

CIFAR_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", "data_batch_1 ... data_batch_5, test_batch, batches.meta",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (or data.download=true)"),
    "cifar100": ("cifar-100-python", "train, test, meta",
                 "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (or data.download=true)"),
}
IMAGENET_LAYOUT = """  <root>/train/<wnid>/*.JPEG   (1000 class folders, e.g. n01440764/)
  <root>/val/<wnid>/*.JPEG     (validation images sorted into the same class folders)"""


def checked_image_loader(path: str):
    """PIL's RGB loader with an error that names the unreadable file."""
    try:
        return datasets.folder.pil_loader(path)
    except (OSError, ValueError) as error:
        raise DataError(f"Image {path} cannot be read ({error}). Replace or delete the file.") from error


class DigitsDataModule(BaseDataModule):
    """scikit-learn's handwritten digits at `image_size` (default 32x32), 1 channel, 10 classes."""

    num_classes, in_chans = 10, 1

    def setup(self, stage: str | None = None) -> None:
        size = int(self.cfg.get("image_size", 32))
        self.train_set, self.val_set, self.test_set = (digits_dataset(s, size) for s in ("train", "val", "test"))


class CifarDataModule(BaseDataModule):
    """CIFAR-10/100 from the extracted python batches; `val_size` training images held out for validation."""

    in_chans = 3

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        self.num_classes = 10 if cfg.name == "cifar10" else 100

    def _dataset(self, train: bool, transform) -> torch.utils.data.Dataset:
        folder, files, source = CIFAR_LAYOUT[self.cfg.name]
        root = Path(self.cfg.root)
        cls = datasets.CIFAR10 if self.cfg.name == "cifar10" else datasets.CIFAR100
        download = bool(self.cfg.get("download", False))
        if not download and not (root / folder).is_dir():
            raise missing_data(self.cfg.name, root / folder, f"  {root / folder}/{{{files}}}", source)
        try:
            return cls(str(root), train=train, transform=transform, download=download)
        except RuntimeError as e:
            raise DataError(f"{self.cfg.name} at {root / folder} is incomplete or corrupted ({e}). "
                            f"Expected files: {files}. Re-extract it from {source}.") from e
        except OSError as e:  # no network, a proxy, a full disk (URLError is an OSError)
            raise DataError(f"data.download=true could not fetch {self.cfg.name} into {root} ({e}). Check the "
                            f"network, or download {source.split(' ')[0]} yourself and extract it under {root}.") from None

    def setup(self, stage: str | None = None) -> None:
        normalize = T.Normalize(CIFAR_MEAN, CIFAR_STD)
        augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
        plain = T.Compose([T.ToTensor(), normalize])
        train_aug = self._dataset(True, augment if self.cfg.get("augment", True) else plain)
        train_plain = self._dataset(True, plain)
        n_val = int(self.cfg.get("val_size", 5000))
        if not 0 <= n_val < len(train_aug):
            raise DataError(f"data.val_size={n_val} must be in [0, {len(train_aug)}).")
        order = torch.randperm(len(train_aug), generator=torch.Generator().manual_seed(0)).tolist()
        self.test_set = self._dataset(False, plain)
        self.train_set = Subset(train_aug, order[n_val:])
        self.val_set = Subset(train_plain, order[:n_val]) if n_val else self.test_set


class FixedClassFolder(datasets.ImageFolder):
    """An ImageFolder that numbers its class folders with a given class list (the training split's)."""

    def __init__(self, root: str, classes: list[str], **kwargs) -> None:
        self.fixed_classes = classes
        super().__init__(root, **kwargs)

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        present = {e.name for e in os.scandir(directory) if e.is_dir()}
        unknown = sorted(present - set(self.fixed_classes))
        if unknown:
            raise DataError(f"ImageNet split {directory} has {len(unknown)} class folders that train/ lacks "
                            f"({', '.join(unknown[:5])}); its labels would not match the model's classes. "
                            "Every split needs the training split's class folders.")
        missing = sorted(set(self.fixed_classes) - present)
        if missing:
            warnings.warn(f"ImageNet split {directory} lacks {len(missing)} of the {len(self.fixed_classes)} training "
                          f"classes ({', '.join(missing[:5])}); it is scored with the training split's class list.",
                          stacklevel=2)
        return self.fixed_classes, {c: i for i, c in enumerate(self.fixed_classes) if c in present}


class ImageNetDataModule(BaseDataModule):
    """ImageNet from train/ and val/ class folders; standard augmentation, val resize 256 + center crop 224."""

    num_classes, in_chans = 1000, 3

    def _folder(self, split: str, transform, classes: list[str] | None = None) -> datasets.ImageFolder:
        path = Path(self.cfg.root) / split
        if not path.is_dir():
            raise missing_data("ImageNet", path, IMAGENET_LAYOUT,
                               "https://image-net.org/download (ILSVRC2012; sort val/ into class folders "
                               "with the usual valprep.sh)")
        try:
            kind, extra = (datasets.ImageFolder, {}) if classes is None else (FixedClassFolder, {"classes": classes})
            folder = kind(str(path), transform=transform, loader=checked_image_loader, **extra)
        except FileNotFoundError as e:
            raise DataError(f"ImageNet split {path} has no images in class folders ({e}).\nExpected layout:\n"
                            f"{IMAGENET_LAYOUT}") from e
        self.num_classes = len(folder.classes)
        return folder

    def setup(self, stage: str | None = None) -> None:
        size, resize = int(self.cfg.get("image_size", 224)), int(self.cfg.get("resize", 256))
        normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
        train_tf = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
        eval_tf = T.Compose([T.Resize(resize), T.CenterCrop(size), T.ToTensor(), normalize])
        self.train_set = self._folder("train", train_tf)
        self.val_set = self._folder("val", eval_tf, classes=self.train_set.classes)  # one class list for all splits
        self.test_set = self.val_set  # ILSVRC's test labels are not public: test reports the val split


DATAMODULES = {"digits": DigitsDataModule, "cifar10": CifarDataModule, "cifar100": CifarDataModule,
               "imagenet": ImageNetDataModule}
