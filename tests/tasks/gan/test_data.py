"""GAN data: the embedded digits in [-1, 1]; CelebA read from a tiny folder in the real layout; clear errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tasks.common.errors import DataError
from tasks.gan.data import DATAMODULES

NAMES = [f"{i:06d}.jpg" for i in range(1, 9)]
SPLITS = [0, 0, 0, 0, 1, 1, 2, 2]  # 4 train, 2 val, 2 test


def make_celeba(root: Path, names=NAMES, splits=SPLITS) -> Path:
    """<root>/celeba/img_align_celeba/000001.jpg ... (178x218 RGB) and list_eval_partition.txt."""
    celeba = root / "celeba"
    (celeba / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(celeba / "img_align_celeba" / name)
    (celeba / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in zip(names, splits)))
    return celeba


def celeba_module(compose, data_dir: Path, *extra: str):
    cfg = compose(["task=gan", "data=celeba", f"paths.data_dir={data_dir}", "data.num_workers=0", *extra])
    module = DATAMODULES["celeba"](cfg.data)
    module.setup("fit")
    return module


def test_digits_are_32px_one_channel_in_minus_one_to_one(compose):
    cfg = compose(["task=gan"])
    module = DATAMODULES["digits"](cfg.data)
    module.setup("fit")
    (x,) = module.train_set[0]
    assert x.shape == (1, 32, 32) and module.in_chans == 1
    all_train = module.train_set.tensors[0]
    assert float(all_train.min()) == -1 and float(all_train.max()) <= 1 and float(all_train.max()) > 0.9
    assert (len(module.train_set), len(module.val_set), len(module.test_set)) == (1257, 270, 270)


def test_celeba_reads_the_partition_and_center_crops_to_64px(compose, tmp_path):
    make_celeba(tmp_path)
    module = celeba_module(compose, tmp_path)
    assert (len(module.train_set), len(module.val_set), len(module.test_set)) == (4, 2, 2)
    (x,) = module.train_set[0]
    assert x.shape == (3, 64, 64) and module.in_chans == 3
    assert -1 <= float(x.min()) < 0 < float(x.max()) <= 1
    batch = next(iter(module.train_dataloader()))
    assert isinstance(batch, list) and batch[0].shape[1:] == (3, 64, 64)


def test_celeba_val_size_keeps_the_first_validation_images(compose, tmp_path):
    make_celeba(tmp_path)
    assert len(celeba_module(compose, tmp_path, "data.val_size=1").val_set) == 1


def test_missing_partition_file_names_it_and_the_layout(compose, tmp_path):
    celeba = make_celeba(tmp_path)
    (celeba / "list_eval_partition.txt").unlink()
    with pytest.raises(DataError) as error:
        celeba_module(compose, tmp_path)
    message = str(error.value)
    assert str(celeba / "list_eval_partition.txt") in message
    assert "Expected layout" in message and "img_align_celeba/000001.jpg" in message and "0 train, 1 val" in message


def test_missing_image_folder_is_reported(compose, tmp_path):
    (tmp_path / "celeba").mkdir()
    with pytest.raises(DataError, match="img_align_celeba"):
        celeba_module(compose, tmp_path)


def test_malformed_partition_line_and_absent_images_are_reported(compose, tmp_path):
    celeba = make_celeba(tmp_path)
    partition = celeba / "list_eval_partition.txt"
    partition.write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(DataError, match="line 2"):
        celeba_module(compose, tmp_path)
    partition.write_text("000001.jpg 0\n999999.jpg 0\n")
    with pytest.raises(DataError, match="999999.jpg"):
        celeba_module(compose, tmp_path)


def test_an_unreadable_image_names_the_file(compose, tmp_path):
    celeba = make_celeba(tmp_path)
    (celeba / "img_align_celeba" / NAMES[0]).write_bytes(b"not a jpeg")
    module = celeba_module(compose, tmp_path)
    with pytest.raises(DataError, match=NAMES[0]):
        module.train_set[0]


def test_celeba_job_runs_one_batch_at_64px(train, tiny, tmp_path):
    make_celeba(tmp_path)
    summary = train([*tiny, "data=celeba", f"paths.data_dir={tmp_path}", "data.batch_size=2", "data.num_workers=0",
                     "debug=fast_dev_run"])
    assert summary["status"] == "complete" and summary["data"] == "celeba"
    assert summary["quality_proxy"] == {"kind": "pixels"}
    assert torch.isfinite(torch.tensor(summary["final"]["test/proxy_kid"]))
    with Image.open(Path(summary["run_dir"]) / "samples" / "epoch_001.png") as grid:
        assert grid.size == (4 * 66 + 2, 4 * 66 + 2)  # 16 images of 64 px, 4 per row, 2 px padding
