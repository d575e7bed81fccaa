"""Figures S3-S5: segmentation samples per model (rows = samples; columns = input, ground truth, one prediction
per activation: ReLU, PReLU, ELU, SoftPlus, GELU, SELU, Swish, ASH, then any other).

Reads only run folders (summary.json and samples/, written by the seg task); never trains.

    python scripts/figure_seg_samples.py                       # results/runs -> results/figures/fig_s{3,4,5}_*.png/.pdf
    python scripts/figure_seg_samples.py --experiment seg_ade20k --data ade20k --seed 0
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from figure_files import save_figure  # noqa: E402
from palette import act_label, act_order  # noqa: E402
from run_discovery import FIGURES as FIGURES_DIR, RUNS, RunRef, find_runs as find_complete, lowest_seed_last, \
    report_skipped  # noqa: E402
from tasks.common.run_record import SAMPLES  # noqa: E402

FIGURES = {"unet": "fig_s3_unet", "deeplabv3p": "fig_s4_deeplabv3p", "efficientnet": "fig_s5_efficientnet"}
KINDS = ("input", "target", "pred")
SAMPLE_NAME = re.compile(r"^(\d+)_(input|target|pred)\.png$")


@dataclass
class Run(RunRef):
    """A complete seg run with its readable samples."""

    miou: float | None
    indices: set[int]


def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except OSError:
        return False


def sample_indices(samples: Path) -> tuple[set[int], str]:
    """Indices with all three PNGs present and readable; an error text if some are broken or none exist."""
    files: dict[int, set[str]] = {}
    for path in samples.glob("*.png") if samples.is_dir() else []:
        match = SAMPLE_NAME.match(path.name)
        if match:
            if not _readable(path):
                return set(), f"corrupt sample image {path.name}"
            files.setdefault(int(match.group(1)), set()).add(match.group(2))
    complete = {i for i, kinds in files.items() if kinds == set(KINDS)}
    return complete, "" if complete else "no complete samples (samples/<index>_{input,target,pred}.png)"


def find_runs(runs_root: Path, experiment: str | None) -> tuple[list[Run], list[str]]:
    """Complete seg runs under runs_root (runs/<experiment>/<run>/), and a line for every run skipped."""
    indices: dict[Path, set[int]] = {}

    def check(folder: Path, summary: dict) -> str:
        indices[folder], problem = sample_indices(folder / SAMPLES)
        return problem

    complete, skipped = find_complete(runs_root, experiment, task="seg", need=(), check=check)
    runs = []
    for run in complete:
        final = run.summary.get("final") or {}
        miou = final.get("test/miou", final.get("val/miou"))
        runs.append(Run(run.folder, run.model, run.act, run.data, run.seed,
                        float(miou) if isinstance(miou, (int, float)) else None, indices[run.folder]))
    return runs, skipped


def choose_data(runs: list[Run], data: str | None) -> str:
    """The data set to draw: as asked, the only one present, or ADE20K (the paper's) among several."""
    present = sorted({r.data for r in runs})
    if data:
        if data not in present:
            raise SystemExit(f"No complete seg runs on data={data}; found: {', '.join(present) or 'none'}.")
        return data
    if len(present) == 1 or "ade20k" in present:
        return present[0] if len(present) == 1 else "ade20k"
    raise SystemExit(f"Seg runs on several data sets ({', '.join(present)}): choose one with --data.")


def select(runs: list[Run], data: str, seed: int | None) -> dict[str, dict[str, Run]]:
    """model -> act -> run: the given seed (else the lowest), and the newest folder among repeats."""
    chosen: dict[str, dict[str, Run]] = {}
    for run in lowest_seed_last(r for r in runs if r.data == data and (seed is None or r.seed == seed)):
        chosen.setdefault(run.model, {})[run.act] = run  # later (lower seed, newer suffix) wins
    return chosen


def draw(model: str, by_act: dict[str, Run], out_dir: Path, max_samples: int) -> list[Path]:
    """One figure: rows = shared sample indices, columns = input, ground truth, predictions by activation."""
    acts = sorted(by_act, key=act_order)
    indices = sorted(set.intersection(*(by_act[a].indices for a in acts)))[:max_samples]
    if not indices:
        print(f"{model}: the runs share no sample index; skipped", file=sys.stderr)
        return []
    first = by_act[acts[0]].folder / SAMPLES
    titles = ["Input", "Ground truth"] + [
        act_label(a) + (f"\nmIoU {by_act[a].miou:.3f}" if by_act[a].miou is not None else "") for a in acts]
    cols = len(titles)
    fig, axes = plt.subplots(len(indices), cols, figsize=(1.7 * cols, 1.7 * len(indices) + 0.4), squeeze=False)
    for row, index in enumerate(indices):
        paths = [first / f"{index:05d}_input.png", first / f"{index:05d}_target.png"]
        paths += [by_act[a].folder / SAMPLES / f"{index:05d}_pred.png" for a in acts]
        for col, path in enumerate(paths):
            ax = axes[row][col]
            with Image.open(path) as image:
                ax.imshow(image.convert("RGB"), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=8)
    name = FIGURES.get(model, f"fig_seg_{model}")
    number = f"Figure {name.split('_')[1].upper()}: " if name.startswith("fig_s") else ""
    chosen = list(by_act.values())
    seeds = ", ".join(sorted({str(r.seed) for r in chosen}))
    fig.suptitle(f"{number}{model} segmentation samples ({chosen[0].data}, seed {seeds}); "
                 "each title gives the run's final mIoU", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir / name)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figures S3-S5 from the run folders; returns the files written."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=RUNS, help="root of the run folders")
    parser.add_argument("--experiment", help="only runs/<experiment>/ (default: all)")
    parser.add_argument("--data", help="data set to draw (default: the only one, or ade20k)")
    parser.add_argument("--seed", type=int, help="seed to draw (default: the lowest per model and activation)")
    parser.add_argument("--max-samples", type=int, default=4, help="rows per figure")
    parser.add_argument("--out", type=Path, default=FIGURES_DIR, help="output folder")
    args = parser.parse_args(argv)

    runs, skipped = find_runs(args.runs, args.experiment)
    report_skipped(skipped)
    if not runs:
        raise SystemExit(f"No complete seg runs with samples under {args.runs}: train some first, e.g. "
                         f"python train.py task=seg model=unet act=relu")
    data = choose_data(runs, args.data)
    written = []
    for model, by_act in sorted(select(runs, data, args.seed).items()):
        files = draw(model, by_act, args.out, args.max_samples)
        written += files
        if files:
            print(f"{model} ({data}, {len(by_act)} activations): {files[0]}")
    return written


if __name__ == "__main__":
    main()
