"""The suite's cost: the same model, data and number of steps trained by the suite's runner (Lightning,
callbacks, loggers, checkpoints, summary.json) and by a plain PyTorch loop (writes results/bench/harness.md).

    python scripts/bench_harness.py               # 3 interleaved rounds of each (~3 min on 2 cores)
    python scripts/bench_harness.py --quick       # 1 round, 1 epoch (a smoke run)

Both sides start from a composed config and end with trained weights: data module and model built by the
task's own code (the same activations), the same train loader (the suite's seeded sampler, batch 32), Adam
from the `optim` config, one validation pass per epoch; the runner also writes checkpoints, metrics.csv and
summary.json and runs its callbacks. Rounds alternate runner and loop, so a drift in machine load hits both;
the ratio is of the fastest round of each side (as in
bench_activations.py: the minimum drops rounds disturbed by other processes), measured in the same run. torch.set_num_threads(1) for both.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

TARGET = 1.03  # runner time / plain-loop time


def harness_config(epochs: int, results_dir: Path, overrides: list[str]) -> DictConfig:
    """`python train.py` on the embedded digits (cls, model=small), CPU, `epochs` epochs, no test split."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "trainer=cpu", "trainer.enable_progress_bar=false", f"trainer.max_epochs={epochs}", "test=false",
            "experiment_name=bench_harness", *overrides])
    with open_dict(cfg):  # the whole results tree in a temporary folder (runs must lie under results_dir)
        cfg.paths.results_dir = str(results_dir)
        cfg.paths.runs_dir = str(results_dir / "runs")
    return cfg


def run_suite(cfg: DictConfig) -> float:
    """Seconds for the suite's runner to train `cfg` (run folder, callbacks, loggers, checkpoints included)."""
    from tasks.common.runner import run

    start = time.perf_counter()
    summary = run(cfg)
    seconds = time.perf_counter() - start
    if summary.get("status") != "complete":
        raise SystemExit(f"the runner did not complete: {summary}")
    return seconds


def run_plain(cfg: DictConfig) -> float:
    """Seconds for a plain PyTorch loop over the same data module, model, optimiser and steps."""
    import pytorch_lightning as pl

    from tasks.common.optim import build_optimizer
    from tasks.common.registry import load_task

    start = time.perf_counter()
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    task = load_task(cfg.task.name)
    datamodule = task.DATAMODULES[cfg.data.name](cfg.data)
    datamodule.set_world_size(1, int(cfg.seed))
    datamodule.setup("fit")
    module = task.build_module(cfg, datamodule)
    epochs = int(cfg.trainer.max_epochs)
    optimizer = build_optimizer(cfg.optim, module, epochs, float(cfg.act.get("lr_scale", 1.0)))
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    for epoch in range(epochs):
        train_loader.sampler.set_epoch(epoch)
        module.train()
        for x, y in train_loader:
            loss = F.cross_entropy(module(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        module.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += int((module(x).argmax(1) == y).sum())
    return time.perf_counter() - start


def measure(rounds: int, epochs: int, overrides: list[str]) -> dict[str, list[float]]:
    """Interleaved rounds: runner, plain loop, runner, plain loop, ... (each run in a fresh folder)."""
    times: dict[str, list[float]] = {"suite runner": [], "plain PyTorch loop": []}
    with tempfile.TemporaryDirectory(prefix="bench_harness_") as tmp:
        cfg = harness_config(epochs, Path(tmp), overrides)
        for i in range(rounds):
            times["suite runner"].append(run_suite(cfg))
            times["plain PyTorch loop"].append(run_plain(cfg))
            print(f"round {i + 1}/{rounds}: runner {times['suite runner'][-1]:.2f} s, "
                  f"plain {times['plain PyTorch loop'][-1]:.2f} s", flush=True)
    return times


def table(times: dict[str, list[float]], epochs: int, steps: int, overrides: list[str]) -> str:
    """The Markdown report: fastest and median seconds per side and the ratio of the fastest, with the set-up."""
    plain = min(times["plain PyTorch loop"])
    runner = min(times["suite runner"])
    ratio = runner / plain
    verdict = "within" if ratio <= TARGET else "above"
    lines = ["# Harness cost: suite runner vs plain PyTorch loop", "",
             f"Generated by `scripts/bench_harness.py`. Same model, data and steps on both sides: task=cls "
             f"model=small data=digits, {epochs} epoch(s) = {steps} training steps of batch 32 plus one validation "
             f"pass per epoch, CPU, torch.set_num_threads(1){', overrides: ' + ' '.join(overrides) if overrides else ''}. "
             f"{len(times['suite runner'])} interleaved round(s); ratio of the fastest rounds.", "",
             "| side | fastest s | median s | rounds (s) | ratio to plain (fastest) |", "|---|---|---|---|---|"]
    for name, values in times.items():
        fastest = min(values)
        lines.append(f"| {name} | {fastest:.2f} | {statistics.median(values):.2f} | "
                     f"{' '.join(f'{v:.2f}' for v in values)} | {fastest / plain:.3f}x |")
    lines += ["", f"Ratio {ratio:.3f}x: {verdict} the target of {TARGET:.2f}x.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    """Measure and write results/bench/harness.md; returns its path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each side")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per run")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 epoch")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "harness.md")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for both sides (key=value)")
    args = parser.parse_args(argv)
    rounds, epochs = (1, 1) if args.quick else (args.rounds, args.epochs)
    torch.set_num_threads(1)
    times = measure(rounds, epochs, args.overrides)
    steps = epochs * len(_train_loader(args.overrides))
    text = table(times, epochs, steps, args.overrides)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return args.out


def _train_loader(overrides: list[str]):
    from tasks.common.registry import load_task

    cfg = harness_config(1, Path(tempfile.gettempdir()), overrides)
    datamodule = load_task(cfg.task.name).DATAMODULES[cfg.data.name](cfg.data)
    datamodule.set_world_size(1, int(cfg.seed))
    datamodule.setup("fit")
    return datamodule.train_dataloader()


if __name__ == "__main__":
    main()
