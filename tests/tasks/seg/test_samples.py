"""The per-run sample writer: fixed indices, palette PNGs that round-trip the class indices."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image
from torch import nn

from tasks.seg.datasets import SceneMasks
from tasks.seg.palette import DIGITSCENES_CLASSES, make_palette
from tasks.seg.samples import sample_indices, sample_path, write_samples


def test_indices_are_spread_evenly_and_never_repeat():
    assert sample_indices(200, 4) == [0, 66, 133, 199]
    assert sample_indices(2, 4) == [0, 1]
    assert sample_indices(10, 1) == [0] and sample_indices(0, 4) == []


def test_written_masks_hold_the_class_indices_with_the_palette(tmp_path):
    scenes = SceneMasks("val", size=40, length=3, max_digits=3)  # 40 is padded to 64 for the model, then cropped
    model = nn.Conv2d(3, len(DIGITSCENES_CLASSES), 1)
    palette = make_palette()
    write_samples(model, scenes, tmp_path, [0, 2], palette, {"data": "digitscenes"})
    image, mask = scenes[2]
    target = Image.open(sample_path(tmp_path, 2, "target"))
    assert target.mode == "P" and target.getpalette()[:30] == palette[:30]
    assert np.array_equal(np.asarray(target), mask.numpy())
    pred = Image.open(sample_path(tmp_path, 2, "pred"))
    expected = model(image[None]).argmax(1)[0]
    assert pred.size == (40, 40) and np.array_equal(np.asarray(pred), expected.numpy())
    rgb = np.asarray(Image.open(sample_path(tmp_path, 0, "input")))
    assert rgb.shape == (40, 40, 3)
    assert json.loads((tmp_path / "index.json").read_text()) == {"data": "digitscenes", "indices": [0, 2]}
    assert model.training  # restored after the eval-mode forward
