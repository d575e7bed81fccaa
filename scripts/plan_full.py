"""`make plan-full`: what each `_full` experiment costs, measured on the real models at full input size.

For every `configs/experiment/*_full.yaml` the real model of each sweep point is built from the composed
config and one training step runs:
- classification, segmentation: forward, mean of the output, backward, on PyTorch's meta device (shapes only);
- GAN (DCGAN): the step of `tasks/gan/module.py` on the meta device: generator forward, discriminator on the
  real and the detached fake batch, then the discriminator (its weights frozen) on the fake batch again, both
  losses backward;
- detection (torchvision detectors): anchor matching, NMS and top-k depend on values, so one real step on the
  CPU at batch 1 (one COCO-sized image with two boxes; the model resizes it to model.min_size / max_size),
  loss dict summed, backward; FLOPs and saved bytes are scaled linearly to the batch.
From that step:
- FLOPs per step: `torch.utils.flop_counter.FlopCounterMode` at the global batch;
- activation memory per GPU: the bytes of every tensor autograd saves for backward
  (`torch.autograd.graph.saved_tensors_hooks`) at the per-GPU batch (global / 8), plus weights, grads and
  Adam's two moments; a lower bound of what the CUDA allocator reserves (no workspace, no fragmentation).
GPU-hours = runs x steps x FLOPs per step / (GPUs x peak x utilisation) x GPUs, with the assumptions printed.
Writes results/bench/plan_full.md.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tasks` is not installed: run from the checkout

from tasks.common.activation import act_factory  # noqa: E402

# Train split sizes: VOC SBD-augmented; COCO 2017 train with the images without annotations, which the det
# data module keeps (117,266 have annotations); CelebA's official train partition.
TRAIN_IMAGES = {"imagenet": 1_281_167, "ade20k": 20_210, "voc": 10_582, "coco": 118_287, "celeba": 162_770}
CLASSES = {"imagenet": 1000, "ade20k": 150, "voc": 21, "coco": 81}  # det: background included
GPUS, PEAK_TFLOPS, UTILISATION = 8, 312.0, 0.35  # A100 dense bf16 peak; a typical DDP utilisation at 4 images/GPU
DET_IMAGE = (480, 640)  # a typical COCO image (H, W); the detector's transform resizes it
DET_BOXES = ([[40.0, 60.0, 300.0, 420.0], [320.0, 100.0, 600.0, 380.0]], [1, 18])  # xyxy pixels, labels 1..80


def sweep_points(cfg: DictConfig) -> list[dict[str, str]]:
    """Every combination of the experiment's `hydra.sweeper.params`."""
    params = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}
    return [dict(zip(params, values)) for values in itertools.product(*params.values())]


def build(task: str, cfg: DictConfig) -> tuple[torch.nn.Module, Callable[[int], torch.Tensor]]:
    """The real model of `cfg` in train mode and `loss(n)`: the forward part of one training step on n full-size
    inputs, on the device the model is on, to a scalar whose backward is the step's backward."""
    act = act_factory(cfg.act)

    def device() -> torch.device:  # where the model is when the step runs (it may move after build)
        return next(model.parameters()).device

    if task == "det":
        from tasks.det.models import build_detector
        model = build_detector(cfg.model, CLASSES[cfg.data.name], act)
        boxes, labels = torch.tensor(DET_BOXES[0]), torch.tensor(DET_BOXES[1])

        def loss(n: int) -> torch.Tensor:
            images = [torch.rand(3, *DET_IMAGE) for _ in range(n)]
            return sum(model(images, [{"boxes": boxes, "labels": labels}] * n).values())
    elif task == "gan":
        from tasks.gan.models import build_dcgan
        size = int(cfg.data.image_size)
        model = build_dcgan(cfg.model, cfg.act, size, 3, act)
        g, d = model.generator, model.discriminator

        def loss(n: int) -> torch.Tensor:  # GanTask.training_step: D step, then G step with D frozen
            fake = g(torch.zeros(n, g.latent_dim, device=device()))
            real_logits, fake_logits = d(torch.zeros(n, 3, size, size, device=device())), d(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
            d.requires_grad_(False)  # Lightning's toggled_optimizer(opt_g): no weight gradients for D
            gen_logits = d(fake)
            d.requires_grad_(True)
            return loss_d + F.binary_cross_entropy_with_logits(gen_logits, torch.ones_like(gen_logits))
    else:
        if task == "cls":
            from tasks.cls.models import build_model
            size = cfg.data.image_size
        else:
            from tasks.seg.models import build_model
            size = cfg.data.crop_size
        model = build_model(cfg.model, CLASSES[cfg.data.name], 3, act)

        def loss(n: int) -> torch.Tensor:
            out = model(torch.zeros(n, 3, size, size, device=device()))
            return (out if torch.is_tensor(out) else out["out"]).float().mean()
    return model.train(), loss


def measure(loss: Callable[[int], torch.Tensor], batch: int, per_gpu: int) -> tuple[float, float]:
    """(FLOPs of forward + backward of `loss(batch)`, bytes autograd saves for backward in `loss(per_gpu)`)."""
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with FlopCounterMode(display=False) as counter:
        loss(batch).backward()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss(per_gpu)
    return float(counter.get_total_flops()), float(saved)


def cost(task: str, cfg: DictConfig) -> tuple[float, float, int, str]:
    """(FLOPs per training step at the global batch, bytes saved at the per-GPU batch, parameters, note)."""
    model, loss = build(task, cfg)
    batch = int(cfg.data.batch_size)
    params = sum(p.numel() for p in model.parameters())  # both networks (two optimisers) of a GAN
    if task != "det":
        model.to("meta")
        return (*measure(loss, batch, batch // GPUS), params, "")
    torch.manual_seed(0)  # the proposals NMS keeps depend on the random weights and image
    started = time.monotonic()
    flops, saved = measure(loss, 1, 1)
    resized = tuple(model.transform([torch.zeros(3, *DET_IMAGE)])[0].tensors.shape[-2:])
    return flops * batch, saved * (batch // GPUS), params, (
        f"one real training step on the CPU at batch 1 ({DET_IMAGE[0]}x{DET_IMAGE[1]} image with "
        f"{len(DET_BOXES[1])} boxes, resized and padded by the model to {resized[0]}x{resized[1]}) took "
        f"{time.monotonic() - started:.0f} s; FLOPs x {batch}, saved bytes x {batch // GPUS}.")


def compose_experiment(name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(config_name="train", overrides=[f"experiment={name}", *overrides], return_hydra_config=True)


def main() -> None:
    """Print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "results" / "bench" / "plan_full.md"))
    out = Path(parser.parse_args().out)
    started = time.monotonic()
    rows = ["| experiment | model | runs | FLOPs/step (global batch) | steps/run | activations/GPU (GiB) | "
            "weights+grads+Adam (GiB) | GPU-hours |", "|---|---|---|---|---|---|---|---|"]
    notes = []
    from hydra.core.global_hydra import GlobalHydra
    for path in sorted((ROOT / "configs" / "experiment").glob("*_full.yaml")):
        GlobalHydra.instance().clear()
        base = compose_experiment(path.stem, [])
        points = sweep_points(base)
        models = sorted({p.get("model", base.model.name) for p in points})
        for model_name in models:
            mine = [p for p in points if p.get("model", base.model.name) == model_name]
            GlobalHydra.instance().clear()
            cfg = compose_experiment(path.stem, [f"model={model_name}", f"act={mine[0].get('act', 'ash')}"])
            flops, saved, params, note = cost(base.task.name, cfg)
            state = params * 4 * 4  # fp32 weights, grads, 2 Adam moments
            steps = int(cfg.trainer.max_epochs) * (TRAIN_IMAGES[cfg.data.name] // int(cfg.data.batch_size))
            hours = len(mine) * steps * flops / (PEAK_TFLOPS * 1e12 * UTILISATION) / 3600  # all GPUs of a run
            rows.append(f"| {path.stem} | {model_name} | {len(mine)} | {flops / 1e12:.2f} T | {steps:,} | "
                        f"{saved / 2**30:.2f} | {state / 2**30:.2f} | {hours:,.{0 if hours >= 10 else 1}f} |")
            if note:
                notes.append(f"- {path.stem} ({model_name}, act={cfg.act.name}): {note}")
    text = "\n".join([
        "# Full-scale plan (`make plan-full`, scripts/plan_full.py)", "",
        *rows, "", *notes, "",
        "Assumptions: FLOPs from torch.utils.flop_counter for forward + backward of the real model at the global "
        f"batch (matmul/conv FLOPs; activations, norms, RoIAlign and NMS are not counted); {GPUS} GPUs per run; "
        f"peak {PEAK_TFLOPS:.0f} TFLOP/s per GPU (A100 bf16 dense) at {UTILISATION:.0%} utilisation; GPU-hours = "
        "runs x steps x FLOPs / (peak x utilisation), i.e. summed over the 8 GPUs of a run; steps = epochs x "
        f"train images / global batch (train images: {TRAIN_IMAGES}; COCO counts the 1,021 images without "
        "annotations, which the det data module keeps). Detection scales its batch-1 step linearly to the global "
        "(FLOPs) and per-GPU (memory) batch, an approximation: the RPN and RoI heads sample a fixed number of "
        "anchors and proposals per image (so linear there), but a batch of mixed aspect ratios is padded to its "
        "largest image and the weights autograd saves are counted once per image. Each row is measured with the "
        "first activation of its sweep. Activation memory: bytes autograd saves for backward at the per-GPU "
        "batch in fp32 (bf16-mixed roughly halves it), a lower bound of the allocator's peak; for the GAN it sums "
        "the whole step (the D step's graph is freed before the G step's discriminator pass, so the peak is lower "
        "by one discriminator pass). Weights+grads+Adam: every parameter in fp32 (GAN: generator and "
        "discriminator, one Adam each).",
        f"Measured in {time.monotonic() - started:.0f} s on this machine: classification, segmentation and GAN "
        "on the meta device (shapes only), detection by one real CPU step.", ""])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
