"""Bad input, one case per row of the README's table: a non-zero exit, one message that names the problem
and the fix (no library traceback as the only explanation), and nothing already written is changed."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1", "trainer.enable_progress_bar=false", "data.batch_size=2",
         "data.num_workers=0"]


def imagenet_tree(root: Path, corrupt: bool = False, empty: bool = False) -> None:
    for split in ("train", "val"):
        folder = root / "imagenet" / split / "n01440764"
        folder.mkdir(parents=True)
        if empty:
            continue
        for i in range(2):
            Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(folder / f"img{i}.JPEG")
        if corrupt:
            (folder / "img0.JPEG").write_bytes(b"this is not a jpeg")


def ade20k_tree(root: Path, problem: str) -> None:
    from tests.tasks.seg.test_data import make_ade20k, write_mask

    ade = make_ade20k(root, sizes=((64, 64), (64, 64)))
    mask = ade / "annotations" / "training" / "ADE_train_00000001.png"
    if problem == "size":
        write_mask(mask, np.ones((32, 48), dtype=np.uint8))
    else:
        write_mask(mask, np.full((64, 64), 200, dtype=np.uint8))


def coco_tree(root: Path) -> None:
    from tests.tasks.det.trees import write_coco

    bad = {"train2017": [{"id": 1, "image_id": 10, "category_id": 5, "bbox": [2, 3, 10, 12], "iscrowd": 0,
                          "area": 120}],
           "val2017": [{"id": 4, "image_id": 20, "category_id": 3, "bbox": [1, 1, 30, 20], "iscrowd": 0, "area": 600}]}
    write_coco(root, bad)


# (id, overrides, data-tree writer, words the message must contain)
CASES = [
    ("unknown-activation", ["act=tanh"], None, ["Could not find 'act/tanh'", "ash"]),
    ("unknown-task", ["task=depth"], None, ["Could not find 'task/depth'", "cls"]),
    ("unknown-model", ["model=vgg99"], None, ["Could not find 'model/vgg99'", "resnet164"]),
    ("unknown-data", ["data=mnist"], None, ["Could not find 'data/mnist'", "cifar10"]),
    ("model-not-of-task", ["model=unet"], None, ["model=unet does not belong to task=cls", "resnet164"]),
    ("fash-k-out-of-range", ["act=fash", "act.k=150"], None, ["act=fash", "(0, 100)"]),
    ("negative-alpha", ["act.alpha=-1"], None, ["alpha", "positive"]),
    ("missing-data-root", ["data=cifar10"], None, ["cifar10 not found at", "Expected layout", "ASH_DATA"]),
    ("wrong-layout", ["data=imagenet"], lambda r: (r / "imagenet" / "train").mkdir(parents=True),
     ["ImageNet", "<root>/train/<wnid>"]),
    ("empty-split", ["data=imagenet"], lambda r: imagenet_tree(r, empty=True), ["no images", "class folders"]),
    ("corrupt-image", ["data=imagenet", "data.image_size=32", "data.resize=36"],
     lambda r: imagenet_tree(r, corrupt=True), ["img0.JPEG", "cannot be read"]),
    ("mask-out-of-range", ["task=seg", "data=ade20k", "data.crop_size=32", "data.base_size=32"],
     lambda r: ade20k_tree(r, "range"), ["ADE_train_00000001.png", "200"]),
    ("mask-size-mismatch", ["task=seg", "data=ade20k", "data.crop_size=32", "data.base_size=32"],
     lambda r: ade20k_tree(r, "size"), ["ADE_train_00000001", "does not match"]),
    ("coco-unknown-category", ["task=det", "data=coco", "model=ssdlite"], coco_tree,
     ["instances_train2017.json", "category_id [5]"]),
    ("batch-not-divisible", ["trainer=ddp_cpu", "data.batch_size=3"], None,
     ["data.batch_size=3", "not divisible by the 2 devices", "data.batch_size=2"]),
    ("resume-not-a-run", ["resume=/"], None, ["resume=/ is not a run folder"]),
]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def previous_results(tmp_path_factory) -> Path:
    """A results tree with one finished run that no bad command may touch."""
    results = tmp_path_factory.mktemp("previous") / "results"
    run = results / "runs" / "adhoc" / "cls-digits-small-ash-s0"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"status": "complete", "final": {"test/acc": 0.97}}))
    (run / "metrics.csv").write_text("epoch,step,val/acc\n0,38,0.9\n")
    (run / "config.yaml").write_text("seed: 0\n")
    return results


@pytest.mark.parametrize("overrides, make_data, words", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_exits_nonzero_with_one_clear_message(tmp_path, previous_results, overrides, make_data, words):
    data = tmp_path / "data"
    data.mkdir()
    if make_data:
        make_data(data)
    before = snapshot(previous_results)
    env = {**os.environ, "ASH_ROOT": str(ROOT), "ASH_DATA": str(data), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "train.py", f"paths.results_dir={previous_results}",
                             f"hydra.run.dir={tmp_path}/hydra", *SHORT, *overrides],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    for word in words:
        assert word in result.stderr, (word, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert snapshot(previous_results) == before
    runs = [p.parent.name for p in (previous_results / "runs").rglob("summary.json")]
    assert runs == ["cls-digits-small-ash-s0"]  # bad input leaves no new run folder behind
