"""The classification loaders on tiny files written in the real on-disk layouts."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image
from torchvision import datasets
from torchvision.datasets import cifar

from tasks.cls.data import CifarDataModule, DigitsDataModule, ImageNetDataModule
from tasks.common.errors import DataError


def write_cifar10(root: Path, n_train_per_batch: int = 6, n_test: int = 4) -> None:
    """cifar-10-batches-py/ with data_batch_1..5, test_batch and batches.meta as pickled dicts."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [*[(f"data_batch_{i}", n_train_per_batch) for i in range(1, 6)], ("test_batch", n_test)]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(rng.integers(0, 10, n))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))


def data_cfg(**kw):
    return OmegaConf.create({"batch_size": 4, "num_workers": 0, **kw})


@pytest.fixture
def no_md5(monkeypatch):
    # torchvision verifies the md5 of every batch and meta file; the tiny files here cannot match it.
    monkeypatch.setattr(datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: Path(path).exists())


def test_cifar10_reads_python_batches_and_holds_out_validation(tmp_path, no_md5):
    write_cifar10(tmp_path)
    dm = CifarDataModule(data_cfg(name="cifar10", root=str(tmp_path), val_size=5, augment=True))
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (25, 5, 4)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 3, 32, 32) and 0 <= int(y.min()) and int(y.max()) < 10
    assert dm.num_classes == 10 and dm.in_chans == 3
    train_idx, val_idx = set(dm.train_set.indices), set(dm.val_set.indices)
    assert not train_idx & val_idx


def test_cifar_missing_root_names_the_layout_and_the_source(tmp_path):
    dm = CifarDataModule(data_cfg(name="cifar100", root=str(tmp_path / "nowhere"), val_size=5))
    with pytest.raises(DataError, match=r"(?s)cifar-100-python.*Expected layout.*train, test, meta.*Get it from"):
        dm.setup("fit")


def test_cifar_corrupt_files_give_a_data_error(tmp_path):
    write_cifar10(tmp_path)  # md5 check left on: the tiny files do not match the real sums
    dm = CifarDataModule(data_cfg(name="cifar10", root=str(tmp_path), val_size=5))
    with pytest.raises(DataError, match="incomplete or corrupted"):
        dm.setup("fit")


def write_imagenet(root: Path, classes=("n01440764", "n01443537"), per_class: int = 2) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in classes:
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (40 + 7 * i, 50, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{wnid}_{i}.JPEG")


def test_imagenet_reads_class_folders_with_standard_presets(tmp_path):
    write_imagenet(tmp_path)
    dm = ImageNetDataModule(data_cfg(name="imagenet", root=str(tmp_path), image_size=32, resize=36))
    dm.setup("fit")
    assert len(dm.train_set) == 4 and len(dm.val_set) == 4 and dm.num_classes == 2
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (4, 3, 32, 32) and sorted(y.tolist()) == [0, 0, 1, 1]


def test_imagenet_missing_root_names_the_expected_layout(tmp_path):
    dm = ImageNetDataModule(data_cfg(name="imagenet", root=str(tmp_path / "imagenet")))
    with pytest.raises(DataError, match=r"(?s)ImageNet not found at .*train.*<root>/val/<wnid>.*image-net.org"):
        dm.setup("fit")


def test_imagenet_wrong_layout_names_the_folder(tmp_path):
    (tmp_path / "train").mkdir()  # images must sit in class folders, not directly in train/
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "train" / "a.JPEG")
    dm = ImageNetDataModule(data_cfg(name="imagenet", root=str(tmp_path)))
    with pytest.raises(DataError, match=r"(?s)train has no images in class folders.*<root>/train/<wnid>"):
        dm.setup("fit")


def test_digits_split_is_fixed_stratified_and_disjoint():
    dm = DigitsDataModule(data_cfg(name="digits", image_size=32))
    dm.setup("fit")
    sizes = [len(dm.train_set), len(dm.val_set), len(dm.test_set)]
    assert sizes == [1257, 270, 270] and sum(sizes) == 1797
    x, y = dm.train_set.tensors
    assert x.shape[1:] == (1, 32, 32)
    assert y.bincount().min() >= 120  # every class present in proportion
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3
