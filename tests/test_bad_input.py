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
import torch
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


def run_bad(tmp_path: Path, previous_results: Path, overrides: list[str], make_data, env: dict | None = None):
    """Run train.py with bad input; returns the process after checking that nothing already written changed."""
    data = tmp_path / "data"
    data.mkdir()
    if make_data:
        make_data(data)
    before = snapshot(previous_results)
    env = {**os.environ, "ASH_ROOT": str(ROOT), "ASH_DATA": str(data), "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run([sys.executable, "train.py", f"paths.results_dir={previous_results}",
                             f"hydra.run.dir={tmp_path}/hydra", *SHORT,
                             *[o.format(tmp=tmp_path) for o in overrides]],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert snapshot(previous_results) == before
    return result


@pytest.mark.parametrize("overrides, make_data, words", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_exits_nonzero_with_one_clear_message(tmp_path, previous_results, overrides, make_data, words):
    result = run_bad(tmp_path, previous_results, overrides, make_data)
    assert result.returncode != 0
    for word in words:
        assert word in result.stderr, (word, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    runs = [p.parent.name for p in (previous_results / "runs").rglob("summary.json")]
    assert runs == ["cls-digits-small-ash-s0"]  # bad input leaves no new run folder behind


def other_results_run(data: Path) -> None:
    run = data.parent / "elsewhere" / "runs" / "adhoc" / "cls-digits-small-ash-s0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    (run / "summary.json").write_text('{"status": "running"}')


def imagenet_extra_val_class(root: Path) -> None:
    imagenet_tree(root)
    extra = root / "imagenet" / "val" / "n99999999"
    extra.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(extra / "img0.JPEG")


NO_NETWORK = {"https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
# The cases of issue 17: exit code 2, one message without a traceback, no run folder, no write outside results/.
# (id, overrides ({tmp}: this test's folder), data-tree writer, extra environment, words the message must contain)
CONFIG_CASES = [
    ("name-traversal", ["experiment_name=../../escape"], None, {}, ["experiment_name='../../escape'", "plain folder"]),
    ("name-absolute", ["experiment_name={tmp}/abs"], None, {}, ["is not a plain folder name"]),
    ("name-with-slash", ["experiment_name=a/b"], None, {}, ["experiment_name='a/b'", "no '/'"]),
    ("name-dot-dot", ["experiment_name=.."], None, {}, ["experiment_name='..'"]),
    ("name-empty", ["experiment_name="], None, {}, ["experiment_name is empty"]),
    ("name-too-long", ["experiment_name=" + "x" * 300], None, {}, ["300 characters long", "at most 100"]),
    ("runs-dir-outside-results", ["paths.runs_dir={tmp}/elsewhere"], None, {}, ["is outside paths.results_dir"]),
    ("results-dir-is-a-file", ["paths.results_dir={tmp}/data/file.txt"],
     lambda r: (r / "file.txt").write_text("x"), {}, ["is a file, not a folder"]),
    ("resume-outside-results", ["resume={tmp}/elsewhere/runs/adhoc/cls-digits-small-ash-s0"], other_results_run, {},
     ["is outside paths.runs_dir"]),
    ("seed-negative", ["seed=-1"], None, {}, ["seed=-1 is not valid", "integer >= 0"]),
    ("seed-text", ["seed=abc"], None, {}, ["seed='abc' is not valid"]),
    ("seed-fraction", ["seed=1.5"], None, {}, ["seed=1.5 is not valid"]),
    ("seed-bool", ["seed=true"], None, {}, ["seed=True is not valid"]),
    ("batch-zero", ["data.batch_size=0"], None, {}, ["data.batch_size=0 is not valid", "positive integer"]),
    ("batch-negative", ["data.batch_size=-32"], None, {}, ["data.batch_size=-32 is not valid"]),
    ("batch-fraction", ["data.batch_size=2.5"], None, {}, ["data.batch_size=2.5 is not valid"]),
    ("max-epochs-zero", ["trainer.max_epochs=0"], None, {}, ["trainer.max_epochs=0 is not valid"]),
    ("max-epochs-negative", ["trainer.max_epochs=-5"], None, {}, ["trainer.max_epochs=-5 is not valid"]),
    ("max-epochs-text", ["trainer.max_epochs=abc"], None, {}, ["trainer.max_epochs='abc' is not valid"]),
    ("checkpoint-every-negative", ["checkpoint.every_n_train_steps=-1"], None, {},
     ["checkpoint.every_n_train_steps=-1 is not valid"]),
    ("checkpoint-every-zero", ["checkpoint.every_n_train_steps=0"], None, {},
     ["checkpoint.every_n_train_steps=0 is not valid"]),
    ("alpha-text", ["act.alpha=abc"], None, {}, ["act.alpha='abc' is not a number", "act.alpha=1.0"]),
    ("alpha-nan", ["act.alpha=nan"], None, {}, ["act.alpha=nan is not a number"]),
    ("z-text", ["act.z=abc"], None, {}, ["act.z='abc' is not a number"]),
    ("fash-k-text", ["act=fash", "act.k=ten"], None, {}, ["act.k='ten' is not a number"]),
    ("lash-a-text", ["act=lash", "act.a=abc"], None, {}, ["act.a='abc' is not a number"]),
    ("ash-kernel-bogus", [], None, {"ASH_KERNEL": "bogus"}, ["ASH_KERNEL='bogus' is not valid", "unset ASH_KERNEL"]),
    ("resnet-depth", ["model=resnet164", "model.depth=10"], None, {}, ["model=resnet164", "9n+2", "got 10"]),
    ("wrn-depth", ["model=wrn28_10", "model.depth=11"], None, {}, ["model=wrn28_10", "6n+4"]),
    ("densenet-depth", ["model=densenet100_12", "model.depth=11"], None, {}, ["model=densenet100_12", "6n+4"]),
    ("data-dir-is-a-file", ["paths.data_dir={tmp}/data/file.txt"], lambda r: (r / "file.txt").write_text("x"), {},
     ["paths.data_dir=", "is a file, not a folder"]),
    ("download-without-network", ["data=cifar10", "data.download=true"], None, NO_NETWORK,
     ["data.download=true could not fetch cifar10", "Check the network"]),
    ("wandb-online-without-key", ["logger=wandb"], None,
     {"WANDB_MODE": "online", "WANDB_API_KEY": ""},
     ["needs an API key", "wandb login", "WANDB_MODE=offline"]),
    ("on-existing-bogus", ["on_existing=sometimes"], None, {}, ["on_existing=sometimes is not valid"]),
    ("nonfinite-bogus", ["nonfinite=ignore"], None, {}, ["nonfinite='ignore' is not valid"]),
    ("ckpt-path-missing", ["ckpt_path={tmp}/nothing.ckpt"], None, {}, ["nothing.ckpt does not exist"]),
    ("ckpt-path-last-without-runs", ["ckpt_path=last", "seed=5"], None, {}, ["ckpt_path=last: no run"]),
    ("resume-committed-run", ["resume={results}/runs/adhoc/cls-digits-small-ash-s0"], None, {},
     ["is a complete run without checkpoints/last.ckpt", "git-ignored"]),
    ("imagenet-val-class-not-in-train", ["data=imagenet", "data.image_size=32", "data.resize=36"],
     imagenet_extra_val_class, {}, ["class folders that train/ lacks", "n99999999"]),
]


@pytest.mark.parametrize("overrides, make_data, env, words", [pytest.param(*c[1:], id=c[0]) for c in CONFIG_CASES])
def test_bad_config_exits_2_without_traceback_or_writes(tmp_path, previous_results, overrides, make_data, env, words):
    overrides = [o.replace("{results}", str(previous_results)) for o in overrides]
    before = {p for p in tmp_path.parent.rglob("*")}  # every file this test could reach outside results/
    result = run_bad(tmp_path, previous_results, overrides, make_data, env)
    assert result.returncode == 2, result.stderr[-3000:]
    for word in words:
        assert word in result.stderr, (word, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    runs = [p.parent.name for p in (previous_results / "runs").rglob("summary.json")]
    assert runs == ["cls-digits-small-ash-s0"]
    new = {p for p in tmp_path.parent.rglob("*")} - before
    written = [p for p in new if not p.is_relative_to(tmp_path / "data") and not p.is_relative_to(tmp_path / "hydra")
               and p != tmp_path / "data" and not p.is_relative_to(tmp_path / "elsewhere")]
    assert written == [], written  # nothing written outside results/ (the test's own data tree aside)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize("trainer", ["gpu", "ddp"])
def test_gpu_trainer_without_a_gpu_names_the_fix(tmp_path, previous_results, trainer):
    result = run_bad(tmp_path, previous_results, [f"trainer={trainer}"], None)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "no CUDA GPU" in result.stderr and "trainer=cpu" in result.stderr


def test_read_only_results_is_refused_before_any_write(tmp_path, previous_results):
    results = tmp_path / "ro"
    results.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(results)],
                             capture_output=True).returncode == 0
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root without permission to mount: cannot make a folder read-only")
        results.chmod(0o555)
    try:
        result = run_bad(tmp_path, previous_results, [f"paths.results_dir={results}"], None)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert f"paths.results_dir={results}" in result.stderr and "is not writable" in result.stderr
    finally:
        subprocess.run(["umount", str(results)], check=False) if mounted else results.chmod(0o755)


def test_imagenet_split_missing_a_class_keeps_the_training_class_list(tmp_path):
    from tasks.cls.data import FixedClassFolder

    imagenet_tree(tmp_path)
    second = tmp_path / "imagenet" / "train" / "n01443537"
    second.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(second / "img0.JPEG")
    train = FixedClassFolder(str(tmp_path / "imagenet" / "train"), classes=["n01440764", "n01443537"])
    (tmp_path / "imagenet" / "val" / "n01440764").rename(tmp_path / "imagenet" / "val" / "n01443537")
    with pytest.warns(UserWarning, match="lacks 1 of the 2 training classes"):
        val = FixedClassFolder(str(tmp_path / "imagenet" / "val"), classes=train.classes)
    assert val.classes == train.classes and {label for _, label in val.samples} == {1}  # n01443537 keeps label 1
