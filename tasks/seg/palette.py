"""Colour palettes and class names of the segmentation data sets (palette PNGs store training indices)."""
from __future__ import annotations

import numpy as np

from tasks.common.datasets.constants import VOC_OBJECTS

IGNORE_INDEX = 255

DIGITSCENES_CLASSES = ["background"] + [f"digit {d}" for d in range(10)]
VOC_CLASSES = ["background", *VOC_OBJECTS]
ADE20K_CLASSES = [f"ade label {i}" for i in range(1, 151)]  # training index c is ADE20K label c + 1


def bit_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map (n, 3) uint8: the bits of i spread over R, G and B."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, rgb = i, [0, 0, 0]
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((c >> channel) & 1) << (7 - bit)
            c >>= 3
        cmap[i] = rgb
    return cmap


def make_palette(offset: int = 0, ignore_rgb: tuple[int, int, int] = (0, 0, 0)) -> list[int]:
    """768 values for `PIL.Image.putpalette`: class c -> colour map entry c + offset, IGNORE_INDEX -> ignore_rgb."""
    cmap = bit_colormap(256 + offset)[offset:offset + 256].copy()
    cmap[IGNORE_INDEX] = ignore_rgb
    return cmap.reshape(-1).tolist()
