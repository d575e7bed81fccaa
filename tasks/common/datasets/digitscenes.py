"""`digitscenes`: deterministic canvases with several real handwritten digits, their masks and boxes.

Each scene places 1..`max_digits` digits of the matching `digits` split (train scenes use train digits
only) at random scales and positions without overlap, on a faintly noisy background. Targets:
- `mask` (H, W) int64: 0 = background, 1..10 = digit 0..9 (pixels where the digit's ink > 0.35);
- `boxes` (N, 4) float32, xyxy in pixels, tight around each digit's ink; `labels` (N,) int64 in 1..10.
Scene `i` of a split is the same on every machine (seeded by split and index).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from tasks.common.datasets.digits import SPLITS, digit_images

NUM_CLASSES = 11  # background + 10 digits
DEFAULT_LENGTH = {"train": 1000, "val": 200, "test": 200}
INK = 0.35
_SPLIT_ID = {s: i for i, s in enumerate(SPLITS)}


def make_scene(split: str, index: int, size: int = 64, max_digits: int = 4,
               scale: tuple[int, int] = (14, 26)) -> dict[str, torch.Tensor]:
    """Scene `index` of `split`: image (3, size, size) in [0, 1], mask, boxes and labels."""
    images, labels = digit_images(split, size=8)
    rng = np.random.default_rng([_SPLIT_ID[split], index, 12345])
    canvas = torch.from_numpy(rng.uniform(0.0, 0.08, (size, size)).astype(np.float32))
    mask = torch.zeros(size, size, dtype=torch.int64)
    boxes, classes, occupied = [], [], []
    for _ in range(int(rng.integers(1, max_digits + 1))):
        for _attempt in range(20):
            s = int(rng.integers(scale[0], min(scale[1], size) + 1))
            x0, y0 = int(rng.integers(0, size - s + 1)), int(rng.integers(0, size - s + 1))
            if all(x0 >= bx1 or x0 + s <= bx0 or y0 >= by1 or y0 + s <= by0 for bx0, by0, bx1, by1 in occupied):
                break
        else:
            continue
        k = int(rng.integers(len(labels)))
        digit = F.interpolate(images[k][None], size=(s, s), mode="bilinear", align_corners=False)[0, 0].clamp(0, 1)
        ink = digit > INK
        if not ink.any():
            continue
        region = canvas[y0:y0 + s, x0:x0 + s]
        canvas[y0:y0 + s, x0:x0 + s] = torch.maximum(region, digit)
        label = int(labels[k]) + 1
        mask[y0:y0 + s, x0:x0 + s][ink] = label
        ys, xs = torch.nonzero(ink, as_tuple=True)
        boxes.append([x0 + xs.min().item(), y0 + ys.min().item(), x0 + xs.max().item() + 1, y0 + ys.max().item() + 1])
        classes.append(label)
        occupied.append((x0, y0, x0 + s, y0 + s))
    return {"image": canvas.expand(3, size, size).clone(), "mask": mask,
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(classes, dtype=torch.int64)}


class DigitScenes(Dataset):
    """The scenes of one split, generated on access (cheap) and cached."""

    def __init__(self, split: str, size: int = 64, length: int | None = None, max_digits: int = 4) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split, self.size, self.max_digits = split, size, max_digits
        self.length = DEFAULT_LENGTH[split] if length is None else int(length)
        self._cache: dict[int, dict] = {}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        if index not in self._cache:
            self._cache[index] = make_scene(self.split, index, self.size, self.max_digits)
        return self._cache[index]
