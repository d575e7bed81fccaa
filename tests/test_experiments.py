"""Every configs/experiment/ file composes; each runs one batch: mini ones on the embedded data, full ones
(trainer forced to cpu / 1 device, the basic launcher) on tiny files in the real data set layouts."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose as hydra_compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from scripts.paired_stats import MIN_PAIRS
from tests.conftest import CONFIG_DIR, run_job
from tests.tasks.cls.test_data import write_imagenet
from tests.tasks.det.trees import write_coco
from tests.tasks.gan.test_data import make_celeba
from tests.tasks.seg.test_data import make_ade20k

NAMES = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
MINI = [n for n in NAMES if not n.endswith("_full")]
FULL = [n for n in NAMES if n.endswith("_full")]
S1_ACTS = {"relu", "lrelu", "prelu", "elu", "softplus", "gelu", "swish", "selu", "ash"}
T1_ACTS = {"gelu", "relu", "swish", "ash", "fash50", "swiglu"}  # Figure T1: the transformers' own baselines too
# Small inputs for the one-batch runs of the full configs (the models stay the paper's).
TINY_DATA = {
    "imagenet": (write_imagenet, ["data.image_size=32", "data.resize=36"]),
    "ade20k": (make_ade20k, ["data.crop_size=32", "data.base_size=32"]),
    "coco": (lambda d: write_coco(d), ["model.min_size=64", "model.max_size=64"]),
    "celeba": (make_celeba, ["data.val_size=null"]),
    "text": (lambda d: write_text_corpus(d / "text" / "enwik8"), ["data.block_size=32"]),
}


def write_text_corpus(folder: Path) -> None:
    """data=text's plain-text layout: train.txt, val.txt, test.txt."""
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        (folder / f"{split}.txt").write_text(f"The {split} text of a tiny corpus, repeated. " * 40)


def sweep(name: str):
    """The composed config of `experiment=<name>` with its Hydra node (sweeper params)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name="train", overrides=[f"experiment={name}"], return_hydra_config=True)


def first_of_sweep(name: str) -> list[str]:
    """`key=<first value>` for every swept parameter: the first job of the sweep."""
    return [f"{k}={str(v).split(',')[0]}" for k, v in sweep(name).hydra.sweeper.params.items()]


@pytest.mark.parametrize("name", NAMES)
def test_experiment_composes_as_a_resumable_seeded_sweep(name):
    cfg = sweep(name)
    params = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}
    assert cfg.experiment_name.startswith(("fig_s1_", "fig_s6_", "fig_s8_variants", "fig_t1_transformers"))
    assert cfg.on_existing == "continue"
    assert len(params["seed"]) >= (3 if name in FULL else MIN_PAIRS)  # a mini study decides only from 6 pairs
    if name.startswith("fig_t1_"):
        assert set(params["act"]) == T1_ACTS
    else:
        assert set(params["act"]) <= S1_ACTS | {"lash", "fash10", "fash50", "fash90"}
    if name.startswith("fig_s1_"):
        assert {"relu", "swish", "ash"} <= set(params["act"]) <= S1_ACTS  # the claims' baselines are never cut
    if name in FULL:
        assert cfg.trainer.devices == 8 and cfg.trainer.strategy == "ddp"
        if name.startswith("fig_s"):
            assert cfg.data.batch_size == 32  # the paper's batch (the ViT's is DeiT's 1024)
        assert cfg.data.name in TINY_DATA
    else:
        assert cfg.trainer.accelerator == "cpu" and cfg.data.name in ("digits", "digitscenes", "pydoc")


@pytest.mark.parametrize("name", MINI)
def test_mini_experiment_runs_one_batch(name, tmp_path):
    summary = run_job([f"experiment={name}", *first_of_sweep(name), "debug=fast_dev_run",
                       f"metrics.cache_dir={tmp_path}/cache" if name.startswith("fig_s6") else "test=true"], tmp_path)
    assert summary["status"] == "complete" and summary["experiment"] == sweep(name).experiment_name


@pytest.mark.slow  # about 2.5 minutes for all seven on 2 busy CPU cores (the paper's models at small inputs)
@pytest.mark.parametrize("name", FULL)
def test_full_experiment_runs_one_batch_on_tiny_real_layout_files(name, tmp_path):
    cfg = sweep(name)
    data = cfg.data.name
    write, shrink = TINY_DATA[data]
    if cfg.optim.warmup_epochs:  # fast_dev_run trains one epoch, which a warmup must be shorter than
        shrink = [*shrink, "optim.warmup_epochs=0"]
    write(tmp_path / "data" / ("imagenet" if data == "imagenet" else ""))
    summary = run_job([f"experiment={name}", *first_of_sweep(name), "trainer=cpu", "hydra/launcher=basic",
                       "debug=fast_dev_run", f"paths.data_dir={tmp_path / 'data'}", "data.batch_size=2",
                       "data.num_workers=0", "++data.pin_memory=false", *shrink], tmp_path)
    assert summary["status"] == "complete" and summary["data"] == data


@pytest.mark.parametrize("experiment, model", [("fig_s1_cls", "mini/wrn28_10"), ("fig_s1_cls", "mini/densenet100_12"),
                                               ("fig_s1_seg", "mini/deeplabv3p"), ("fig_s1_seg", "mini/efficientnet")])
def test_every_mini_model_of_a_sweep_runs_one_batch(experiment, model, tmp_path):
    summary = run_job([f"experiment={experiment}", f"model={model}", "act=ash", "debug=fast_dev_run"], tmp_path)
    assert summary["status"] == "complete" and summary["model"] == model.split("/")[1]
