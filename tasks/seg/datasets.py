"""Segmentation data sets: (image, mask) pairs on disk, checked as they load, and the embedded digit scenes.

Every item is `(image (3, H, W) float in [0, 1], mask (H, W) int64)` with training indices and 255 = ignored;
normalisation happens in the model (so that saved samples show the real input).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import tv_tensors

from tasks.common.datasets.digitscenes import DigitScenes
from tasks.common.errors import DataError
from tasks.seg.palette import IGNORE_INDEX

Pair = tuple[Path, Path]
Transform = Callable[[tv_tensors.Image, tv_tensors.Mask], tuple[torch.Tensor, torch.Tensor]]


def label_lut(valid: dict[int, int]) -> np.ndarray:
    """A 256-entry lookup from raw mask values to training indices; -1 marks a value the data set never uses."""
    lut = np.full(256, -1, dtype=np.int64)
    for raw, index in valid.items():
        lut[raw] = index
    return lut


def _open(path: Path, what: str) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
        return image
    except FileNotFoundError as e:
        raise DataError(f"The {what} {path} is missing: the data set is incomplete, re-extract it.") from e
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"The {what} {path} cannot be read ({e}): the file is corrupt, re-extract it.") from e


def load_pair(image_path: Path, mask_path: Path, lut: np.ndarray) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """Read one image and its mask, check that they match, and map the mask to training indices."""
    image, mask = _open(image_path, "image"), _open(mask_path, "mask")
    if image.size != mask.size:
        raise DataError(f"Image {image_path} is {image.size[0]}x{image.size[1]} but its mask {mask_path} is "
                        f"{mask.size[0]}x{mask.size[1]} (width x height): the pair does not match; replace the mask.")
    if mask.mode not in ("L", "P"):
        raise DataError(f"Mask {mask_path} has PIL mode {mask.mode}; expected a single-channel 8-bit PNG "
                        f"(mode L or P) of class indices.")
    raw = np.asarray(mask)
    mapped = lut[raw]
    if (mapped < 0).any():
        bad = sorted(set(np.unique(raw[mapped < 0]).tolist()))
        valid = np.flatnonzero(lut >= 0)
        raise DataError(f"Mask {mask_path} has label values {bad[:10]} outside the data set's range "
                        f"({valid.min()}..{valid[valid < IGNORE_INDEX].max()}"
                        f"{', 255' if lut[IGNORE_INDEX] >= 0 else ''}): the mask is corrupt or from another data set.")
    pixels = torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)
    return tv_tensors.Image(pixels), tv_tensors.Mask(torch.from_numpy(mapped))


class PairDataset(Dataset):
    """(image, mask) file pairs, loaded with `load_pair` and passed through a joint transform."""

    def __init__(self, pairs: list[Pair], lut: np.ndarray, transform: Transform) -> None:
        self.pairs, self.lut, self.transform = pairs, lut, transform

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(*load_pair(*self.pairs[index], self.lut))


class SceneMasks(Dataset):
    """The embedded digit scenes as (image, mask) pairs: 11 classes, 0 = background."""

    def __init__(self, split: str, size: int, length: int, max_digits: int) -> None:
        self.scenes = DigitScenes(split, size=size, length=length, max_digits=max_digits)

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        scene = self.scenes[index]
        return scene["image"], scene["mask"]
