"""`make plan-full`: what each `_full` experiment costs, measured on the real models at full input size.

For every `configs/experiment/*_full.yaml` (classification and segmentation; see the table's notes for
the others) the real model of each sweep point is built from the composed config and one training step
(forward, loss, backward) runs on PyTorch's meta device, which tracks shapes and no values:
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
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from tasks.common.activation import act_factory

ROOT = Path(__file__).resolve().parents[1]
TRAIN_IMAGES = {"imagenet": 1_281_167, "ade20k": 20_210, "voc": 10_582}  # train split sizes (VOC: SBD-augmented)
CLASSES = {"imagenet": 1000, "ade20k": 150, "voc": 21}
GPUS, PEAK_TFLOPS, UTILISATION = 8, 312.0, 0.35  # A100 dense bf16 peak; a typical DDP utilisation at 4 images/GPU


def sweep_points(cfg: DictConfig) -> list[dict[str, str]]:
    """Every combination of the experiment's `hydra.sweeper.params`."""
    params = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}
    return [dict(zip(params, values)) for values in itertools.product(*params.values())]


def build(task: str, cfg: DictConfig) -> tuple[torch.nn.Module, tuple[int, ...]]:
    """The real model of `cfg` and its full-size training input (C, H, W)."""
    data = cfg.data.name
    if task == "cls":
        from tasks.cls.models import build_model
        size = cfg.data.image_size
    else:
        from tasks.seg.models import build_model
        size = cfg.data.crop_size
    return build_model(cfg.model, CLASSES[data], 3, act_factory(cfg.act)), (3, size, size)


def measure(model: torch.nn.Module, shape: tuple[int, ...], batch: int, per_gpu: int) -> tuple[float, float]:
    """(FLOPs of one training step at `batch`, bytes autograd saves at `per_gpu`), on the meta device."""
    model = model.to("meta").train()
    x = torch.zeros(batch, *shape, device="meta")
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        (out if torch.is_tensor(out) else out["out"]).float().mean().backward()
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.zeros(per_gpu, *shape, device="meta")).float().mean()
    return float(counter.get_total_flops()), float(saved)


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
        if base.task.name not in ("cls", "seg"):
            notes.append(f"- {path.stem}: {len(points)} runs ({base.task.name}); not measured by this script yet.")
            continue
        models = sorted({p.get("model", base.model.name) for p in points})
        for model_name in models:
            mine = [p for p in points if p.get("model", base.model.name) == model_name]
            GlobalHydra.instance().clear()
            cfg = compose_experiment(path.stem, [f"model={model_name}", f"act={mine[0].get('act', 'ash')}"])
            batch = int(cfg.data.batch_size)
            flops, saved = measure(*build(base.task.name, cfg), batch=batch, per_gpu=batch // GPUS)
            model, _ = build(base.task.name, cfg)
            state = sum(p.numel() for p in model.parameters()) * 4 * 4  # fp32 weights, grads, 2 Adam moments
            steps = int(cfg.trainer.max_epochs) * (TRAIN_IMAGES[cfg.data.name] // batch)
            hours = len(mine) * steps * flops / (PEAK_TFLOPS * 1e12 * UTILISATION) / 3600  # all GPUs of a run
            rows.append(f"| {path.stem} | {model_name} | {len(mine)} | {flops / 1e12:.2f} T | {steps:,} | "
                        f"{saved / 2**30:.2f} | {state / 2**30:.2f} | {hours:,.0f} |")
    text = "\n".join([
        "# Full-scale plan (`make plan-full`, scripts/plan_full.py)", "",
        *rows, "", *notes, "",
        "Assumptions: FLOPs from torch.utils.flop_counter for forward + backward of the real model at the global "
        f"batch (matmul/conv FLOPs; activations and norms are not counted); {GPUS} GPUs per run; peak "
        f"{PEAK_TFLOPS:.0f} TFLOP/s per GPU (A100 bf16 dense) at {UTILISATION:.0%} utilisation; GPU-hours = "
        "runs x steps x FLOPs / (peak x utilisation), i.e. summed over the 8 GPUs of a run; steps = epochs x "
        f"train images / global batch (train images: {TRAIN_IMAGES}). Activation memory: bytes autograd saves "
        "for backward at the per-GPU batch in fp32 (bf16-mixed roughly halves it), a lower bound.",
        f"Measured in {time.monotonic() - started:.0f} s on the meta device (shapes only) on this machine.", ""])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
