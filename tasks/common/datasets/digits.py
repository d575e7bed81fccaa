"""`digits`: scikit-learn's 1,797 real 8x8 handwritten digits, a fixed stratified split, upsampled."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

SPLITS = ("train", "val", "test")
SPLIT_SEED = 0  # the split is part of the data set, not of the run: it never changes with `seed`
FRACTIONS = (0.70, 0.15, 0.15)


@lru_cache(maxsize=None)
def split_indices() -> dict[str, np.ndarray]:
    """Stratified train/val/test indices (70/15/15), the same on every machine."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    labels = load_digits().target
    idx = np.arange(len(labels))
    train, rest = train_test_split(idx, train_size=FRACTIONS[0], stratify=labels, random_state=SPLIT_SEED)
    val, test = train_test_split(rest, train_size=0.5, stratify=labels[rest], random_state=SPLIT_SEED)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


@lru_cache(maxsize=None)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def digit_images(split: str, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, size, size) in [0, 1] (bilinear upsampling of the 8x8 originals) and labels (N,)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = _all_digits()
    idx = split_indices()[split]
    x = torch.from_numpy(images[idx]).unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    return x, torch.from_numpy(labels[idx])


def digits_dataset(split: str, size: int = 32, normalize: bool = True) -> TensorDataset:
    """A TensorDataset of (image, label); `normalize` maps [0, 1] to zero mean and unit variance."""
    x, y = digit_images(split, size)
    if normalize:
        mean, std = digit_images("train", size)[0].mean(), digit_images("train", size)[0].std()
        x = (x - mean) / std
    return TensorDataset(x, y)
