"""scripts/plan_full.py (`make plan-full`): FLOPs and saved bytes of known layers; det and GAN steps at tiny size."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch
from hydra.core.global_hydra import GlobalHydra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
plan_full = importlib.import_module("plan_full")

FP32 = 4


def compose(name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    return plan_full.compose_experiment(name, overrides)


def test_measure_counts_textbook_flops_and_saved_bytes_of_a_linear_and_a_conv_layer():
    batch, per_gpu = 3, 2
    linear = torch.nn.Linear(5, 7).to("meta")
    flops, saved = plan_full.measure(lambda n: linear(torch.zeros(n, 5, device="meta")).mean(), batch, per_gpu)
    forward = 2 * batch * 5 * 7  # 2 x MACs of x @ W.T (the bias add and the mean are not counted)
    # The input needs no gradient, so backward computes only dW = grad.T @ x (the bias gradient is a sum):
    # forward + backward = 2 x forward, not 3 x; autograd then keeps x and not W.
    assert flops == 2 * forward
    assert saved == per_gpu * 5 * FP32

    conv = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False).to("meta")
    flops, saved = plan_full.measure(lambda n: conv(torch.zeros(n, 2, 6, 6, device="meta")).mean(), batch, per_gpu)
    forward = 2 * batch * 6 * 6 * 4 * 2 * 3 * 3  # 2 x output positions x C_out x C_in x kernel
    assert flops == 2 * forward  # again only the weight gradient; convolution saves input and weight
    assert saved == (per_gpu * 2 * 6 * 6 + 4 * 2 * 3 * 3) * FP32


def test_gan_step_is_the_modules_d_step_then_g_step_with_d_frozen():
    cfg = compose("fig_s6_gan_full", ["model.g_width=8", "model.d_width=8"])
    flops, saved, params, note = plan_full.cost("gan", cfg)
    batch = int(cfg.data.batch_size)
    # Per image MACs of each layer at 64 px, widths 8 (transposed conv: input positions x C_in x C_out x 4 x 4).
    g = [1 * 100 * 64 * 16, 4**2 * 64 * 32 * 16, 8**2 * 32 * 16 * 16, 16**2 * 16 * 8 * 16, 32**2 * 8 * 3 * 16]
    d = [32**2 * 3 * 8 * 16, 16**2 * 8 * 16 * 16, 8**2 * 16 * 32 * 16, 4**2 * 32 * 64 * 16, 1 * 64 * 1 * 16]
    g_fwd, d_fwd = 2 * batch * sum(g), 2 * batch * sum(d)
    g_first, d_first = 2 * batch * g[0], 2 * batch * d[0]  # the layers whose input needs no gradient (z, real)
    expected = (g_fwd + 3 * d_fwd                   # G(z); D(real), D(fake.detach()), D(fake)
                + 2 * (2 * d_fwd - d_first)         # D step: weight and input gradients, real and fake
                + d_fwd                             # G step through D: input gradients only (D frozen)
                + (2 * g_fwd - g_first))            # G step: weight and input gradients of G
    assert flops == expected
    model, _ = plan_full.build("gan", cfg)
    assert params == sum(p.numel() for p in model.parameters())  # generator and discriminator
    assert params == (sum(p.numel() for p in model.generator.parameters())
                      + sum(p.numel() for p in model.discriminator.parameters()))
    assert saved > batch // plan_full.GPUS * 3 * 64 * 64 * FP32  # at least the real images D saves
    assert note == ""


def test_det_cost_runs_one_real_step_of_the_configs_faster_rcnn_and_scales_it():
    cfg = compose("fig_s1_det_full", ["model.min_size=64", "model.max_size=64", "act=relu"])
    torch.manual_seed(0)
    flops, saved, params, note = plan_full.cost("det", cfg)
    model, loss = plan_full.build("det", cfg)
    assert type(model).__name__ == "FasterRCNN" and model.roi_heads.box_predictor.cls_score.out_features == 81
    assert params == sum(p.numel() for p in model.parameters())
    # The 480x640 image fits 64 x 64 at scale 0.1: 48 x 64, padded to 64 x 64 (a multiple of 32).
    assert "resized and padded by the model to 64x64" in note and "FLOPs x 32, saved bytes x 4" in note
    # At least the backbone's stem at batch 1 times 32 (ResNet-50 conv1: 7x7, 3 -> 64 channels, stride 2 on
    # 64 x 64 -> 32 x 32; forward + weight gradient), and the detector's whole loss dict is what backward sees.
    assert flops > 32 * 2 * (2 * 32 * 32 * 64 * 3 * 7 * 7)
    assert saved > 4 * 3 * 64 * 64 * FP32  # at least the 4 per-GPU input images the stem saves
    one = loss(1)
    assert one.ndim == 0 and one.requires_grad and torch.isfinite(one)
