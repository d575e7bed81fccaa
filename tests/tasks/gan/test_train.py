"""Real GAN jobs on the embedded digits: every paper activation runs, manual optimisation updates G and D,
the fixed-noise grids and per-epoch metrics land in the run folder."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from tasks.gan import DATAMODULES, build_module

EPOCH_METRICS = ["train/loss_d", "train/loss_g", "train/d_real", "train/d_fake", "val/proxy_kid",
                 "val/proxy_conf", "val/proxy_entropy", "val/proxy_coverage"]


@pytest.mark.parametrize("act", ["relu", "swish", "ash", "lash", "fash10"])
def test_fast_dev_run_for_each_activation_writes_the_grid(train, tiny, act):
    summary = train([*tiny, f"act={act}", "debug=fast_dev_run"])
    assert summary["status"] == "complete" and summary["task"] == "gan"
    grid = Path(summary["run_dir"]) / "samples" / "epoch_001.png"
    with Image.open(grid) as image:
        assert image.size == (4 * 34 + 2, 4 * 34 + 2)  # 16 digits of 32 px, 4 x 4, padding 2
    family = act in ("ash", "lash") or act.startswith("fash")
    assert len(summary["ash_layers"]) == (3 if family else 0)  # the generator's 3 hidden layers only
    assert all(row["path"].startswith("model.generator.") for row in summary["ash_layers"])
    assert math.isfinite(summary["final"]["test/proxy_kid"])


def test_manual_optimisation_updates_both_networks_with_the_dcgan_recipe(compose, tiny, tmp_path):
    cfg = compose([*tiny, "act=ash", "optim=dcgan"], tmp_path)
    datamodule = DATAMODULES["digits"](cfg.data)
    module = build_module(cfg, datamodule)
    assert module.automatic_optimization is False
    before = {name: p.detach().clone() for name, p in module.model.named_parameters()}
    trainer = pl.Trainer(max_steps=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                         default_root_dir=str(tmp_path))
    trainer.fit(module, datamodule=datamodule)

    changed = {name for name, p in module.model.named_parameters() if not torch.equal(p, before[name])}
    for net in ("generator", "discriminator"):
        params = [n for n in before if n.startswith(f"{net}.") and n.endswith("weight")]
        assert params and all(n in changed for n in params), net
    assert {n for n in changed if "net.2." in n and n.startswith("generator.")} >= {"generator.net.2.alpha",
                                                                                      "generator.net.2.z"}
    assert all(torch.isfinite(p).all() for p in module.model.parameters())
    for key in ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"):
        assert math.isfinite(float(trainer.callback_metrics[key])), key
    opt_d, opt_g = trainer.optimizers
    assert {id(p) for g in opt_d.param_groups for p in g["params"]} == {id(p) for p in module.discriminator.parameters()}
    assert {id(p) for g in opt_g.param_groups for p in g["params"]} == {id(p) for p in module.generator.parameters()}
    assert opt_g.defaults["lr"] == 2e-4 and tuple(opt_g.defaults["betas"]) == (0.5, 0.999)
    assert all(p.requires_grad for p in module.model.parameters())  # toggling restored every flag


def test_a_short_run_logs_every_epoch_metric_and_the_chosen_grids(figure_runs):
    _, summaries = figure_runs
    summary = summaries["ash"]
    run_dir = Path(summary["run_dir"])
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    metrics = pd.read_csv(run_dir / "metrics.csv")
    for key in EPOCH_METRICS:
        values = metrics[key].dropna()
        assert len(values) == 2 and values.map(math.isfinite).all(), key
    assert summary["best"]["val/proxy_kid"] == metrics["val/proxy_kid"].min()  # lower is better
    assert len(summary["epoch_seconds"]) == 2  # wall time per epoch (kept out of metrics.csv by the spine)
    assert summary["monitor"] == "val/proxy_kid"
    assert summary["quality_proxy"]["kind"] == "classifier"
    assert summary["quality_proxy"]["classifier"]["val_accuracy_real"] > 0.9
    assert 0 <= summary["final"]["test/proxy_coverage"] <= 1


def test_fixed_noise_is_a_seeded_buffer_shared_by_every_run_seed(compose, tiny, tmp_path):
    modules = [build_module(cfg, DATAMODULES["digits"](cfg.data))
               for cfg in (compose([*tiny, f"seed={s}"], tmp_path) for s in (0, 1))]
    assert torch.equal(modules[0].fixed_noise, modules[1].fixed_noise)
    assert modules[0].fixed_noise.shape == (16, 100)
    assert "fixed_noise" in modules[0].state_dict()
    other = build_module(compose([*tiny, "task.noise_seed=7"], tmp_path), DATAMODULES["digits"](compose(tiny).data))
    assert not torch.equal(other.fixed_noise, modules[0].fixed_noise)


@pytest.mark.slow
def test_two_process_ddp_finds_the_generator_unused_in_the_discriminator_step(train, tiny):
    summary = train([*tiny, "trainer=ddp_cpu", "trainer.max_epochs=1", "+trainer.limit_train_batches=2",
                     "+trainer.limit_val_batches=2", "+trainer.limit_test_batches=2"])
    if os.environ.get("LOCAL_RANK", "0") != "0":
        return  # Lightning re-runs this test as rank 1 in a child process; rank 0 checks the run
    assert summary["status"] == "complete" and summary["world_size"] == 2
