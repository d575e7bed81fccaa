"""ADE20K and VOC loaders on tiny files in the exact on-disk layouts; the embedded scenes; clear data errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tasks.common.errors import ConfigError, DataError
from tasks.seg.data import DATAMODULES
from tasks.seg.palette import IGNORE_INDEX, make_palette
from tasks.seg.transforms import pad_collate

SMALL = ["data.crop_size=32", "data.base_size=32", "data.batch_size=2", "data.num_workers=0", "data.pin_memory=false"]


def write_image(path: Path, height: int, width: int, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


def write_mask(path: Path, mask: np.ndarray, palette: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(mask.astype(np.uint8), mode="P" if palette else "L")
    if palette:
        image.putpalette(make_palette())
    image.save(path)


def ade_mask(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)  # 0 = "other", ignored
    mask[: height // 2] = 1
    mask[height // 2:, : width // 2] = 150
    return mask


def make_ade20k(data_dir: Path, sizes=((40, 50), (36, 60))) -> Path:
    """ADEChallengeData2016/{images,annotations}/{training,validation}/ with a few tiny pairs."""
    root = data_dir / "ADEChallengeData2016"
    for split, prefix in (("training", "ADE_train"), ("validation", "ADE_val")):
        for i, (h, w) in enumerate(sizes, start=1):
            write_image(root / "images" / split / f"{prefix}_{i:08d}.jpg", h, w, seed=i)
            write_mask(root / "annotations" / split / f"{prefix}_{i:08d}.png", ade_mask(h, w))
    return root


def make_voc(data_dir: Path, ids=("2007_000032", "2007_000033")) -> Path:
    """VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation} with palette masks."""
    voc = data_dir / "VOCdevkit" / "VOC2012"
    for i, image_id in enumerate(ids):
        write_image(voc / "JPEGImages" / f"{image_id}.jpg", 40, 44, seed=i)
        mask = np.zeros((40, 44), dtype=np.uint8)
        mask[10:30, 10:30] = 15  # person
        mask[9, 9:31] = IGNORE_INDEX  # the white border around objects
        write_mask(voc / "SegmentationClass" / f"{image_id}.png", mask, palette=True)
    split_dir = voc / "ImageSets" / "Segmentation"
    split_dir.mkdir(parents=True)
    for split in ("train", "val"):
        (split_dir / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return voc


def datamodule(compose, data: str, data_dir: Path, *overrides: str):
    cfg = compose(["task=seg", f"data={data}", f"paths.data_dir={data_dir}", *SMALL, *overrides])
    dm = DATAMODULES[cfg.data.name](cfg.data)
    dm.setup("fit")
    return dm


def test_ade20k_maps_labels_and_ignores_zero(compose, tmp_path):
    make_ade20k(tmp_path)
    dm = datamodule(compose, "ade20k", tmp_path)
    assert dm.num_classes == 150 and len(dm.train_set) == 2 and len(dm.val_set) == 2
    image, mask = dm.train_set[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert mask.shape == (32, 32) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) <= {0, 149, IGNORE_INDEX}
    image, mask = dm.val_set[0]  # full resolution: the raw labels, mapped
    assert image.shape == (3, 40, 50)
    assert mask[0, 0] == 0 and mask[-1, 0] == 149 and mask[-1, -1] == IGNORE_INDEX


def test_eval_batches_are_padded_to_a_multiple_of_32_with_ignore(compose, tmp_path):
    make_ade20k(tmp_path)
    dm = datamodule(compose, "ade20k", tmp_path)
    images, masks = pad_collate([dm.val_set[0], dm.val_set[1]])
    assert images.shape == (2, 3, 64, 64) and masks.shape == (2, 64, 64)
    assert (masks[0, 40:] == IGNORE_INDEX).all() and (masks[0, :, 50:] == IGNORE_INDEX).all()
    assert (images[0, :, 40:] == 0).all()


def test_voc_keeps_classes_and_the_255_border(compose, tmp_path):
    make_voc(tmp_path)
    dm = datamodule(compose, "voc", tmp_path)
    assert dm.num_classes == 21 and len(dm.train_set) == 2
    image, mask = dm.val_set[0]
    assert image.shape == (3, 40, 44)
    assert set(mask.unique().tolist()) == {0, 15, IGNORE_INDEX}
    assert mask[20, 20] == 15 and mask[9, 20] == IGNORE_INDEX
    _, crop = dm.train_set[1]
    assert crop.shape == (32, 32) and set(crop.unique().tolist()) <= {0, 15, IGNORE_INDEX}


def test_digitscenes_has_11_classes_and_fixed_splits(compose):
    cfg = compose(["task=seg", "data.train_length=3", "data.val_length=2", "data.test_length=2"])
    dm = DATAMODULES["digitscenes"](cfg.data)
    dm.setup("fit")
    assert dm.num_classes == 11 and dm.class_names[0] == "background"
    image, mask = dm.val_set[1]
    assert image.shape == (3, 64, 64) and mask.shape == (64, 64) and 0 <= mask.min() and mask.max() <= 10
    again = DATAMODULES["digitscenes"](cfg.data)
    again.setup("fit")
    assert torch.equal(again.val_set[1][1], mask)


@pytest.mark.parametrize("data", ["ade20k", "voc"])
def test_missing_data_root_names_the_path_and_layout(compose, tmp_path, data):
    with pytest.raises(DataError) as error:
        datamodule(compose, data, tmp_path / "nowhere")
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "Expected layout" in message
    assert ("ADEChallengeData2016" if data == "ade20k" else "VOCdevkit/VOC2012") in message


def test_mismatched_image_and_mask_names_both_files(compose, tmp_path):
    root = make_ade20k(tmp_path)
    bad_mask = root / "annotations" / "validation" / "ADE_val_00000002.png"
    write_mask(bad_mask, ade_mask(20, 20))
    dm = datamodule(compose, "ade20k", tmp_path)
    with pytest.raises(DataError, match="does not match") as error:
        dm.val_set[1]
    assert "ADE_val_00000002.jpg" in str(error.value) and str(bad_mask) in str(error.value)


@pytest.mark.parametrize("data, value", [("ade20k", 151), ("voc", 21)])
def test_label_values_out_of_range_name_the_mask(compose, tmp_path, data, value):
    if data == "ade20k":
        bad = make_ade20k(tmp_path) / "annotations" / "training" / "ADE_train_00000001.png"
        write_mask(bad, np.full((40, 50), value))
    else:
        bad = make_voc(tmp_path) / "SegmentationClass" / "2007_000032.png"
        write_mask(bad, np.full((40, 44), value), palette=True)
    dm = datamodule(compose, data, tmp_path)
    with pytest.raises(DataError, match=f"label values \\[{value}\\]") as error:
        dm.train_set[0]
    assert str(bad) in str(error.value)


def test_image_without_annotation_and_corrupt_image_are_named(compose, tmp_path):
    root = make_ade20k(tmp_path)
    (root / "annotations" / "training" / "ADE_train_00000002.png").unlink()
    with pytest.raises(DataError, match="ADE_train_00000002.jpg has no annotation"):
        datamodule(compose, "ade20k", tmp_path)
    write_mask(root / "annotations" / "training" / "ADE_train_00000002.png", ade_mask(36, 60))
    broken = root / "images" / "training" / "ADE_train_00000001.jpg"
    broken.write_bytes(b"not a jpeg")
    dm = datamodule(compose, "ade20k", tmp_path)
    with pytest.raises(DataError, match="cannot be read") as error:
        dm.train_set[0]
    assert str(broken) in str(error.value)


def test_crop_size_must_be_a_multiple_of_32(compose, tmp_path):
    make_ade20k(tmp_path)
    with pytest.raises(ConfigError, match="multiple of 32"):
        datamodule(compose, "ade20k", tmp_path, "data.crop_size=50")
