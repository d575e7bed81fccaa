"""Figure S6: DCGAN samples from the same fixed noise (rows = activations ReLU, Swish, ASH; columns = epochs).

Reads only run folders (summary.json and samples/epoch_XXX.png, written by the gan task); never trains.
Runs that are not complete, or whose summary or sample images cannot be read, are skipped and named.

    python scripts/figure_gan_samples.py                      # results/runs -> results/figures/fig_s6_gan_samples.png/.pdf
    python scripts/figure_gan_samples.py --data celeba --experiment gan_celeba --epochs 1 5 10 --seed 0
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
from palette import act_label as label  # noqa: E402
from run_discovery import FIGURES, RUNS, RunRef, find_runs as find_complete, lowest_seed_last, report_skipped  # noqa: E402
from tasks.common.run_record import SAMPLES  # noqa: E402

FIGURE = "fig_s6_gan_samples"
DEFAULT_ACTS = ("relu", "swish", "ash")
EPOCH_FILE = re.compile(r"^epoch_(\d{3,})\.png$")


@dataclass
class GanRun(RunRef):
    """A complete gan run and its readable sample grids by 1-based epoch."""

    grids: dict[int, Path]
    kid: float | None = None  # final val/proxy_kid, shown beside the row


def read_grids(samples: Path) -> tuple[dict[int, Path], str]:
    """Epoch -> grid PNG of a run; an error text if a grid is unreadable or there is none."""
    grids = {}
    for path in sorted(samples.glob("epoch_*.png")) if samples.is_dir() else []:
        match = EPOCH_FILE.match(path.name)
        if not match:
            continue
        try:
            with Image.open(path) as image:
                image.load()
        except OSError as e:
            return {}, f"corrupt sample grid {path.name} ({e})"
        grids[int(match.group(1))] = path
    return grids, "" if grids else "no sample grids (samples/epoch_XXX.png)"


def find_runs(runs_root: Path, experiment: str | None) -> tuple[list[GanRun], list[str]]:
    """Usable gan runs under runs_root (runs/<experiment>/<run>/), and a line for every run skipped."""
    grids: dict[Path, dict[int, Path]] = {}
    kids: dict[Path, float | None] = {}

    def check(folder: Path, summary: dict) -> str:
        grids[folder], problem = read_grids(folder / SAMPLES)
        kid = (summary.get("final") or {}).get("val/proxy_kid")
        kids[folder] = float(kid) if isinstance(kid, (int, float)) else None
        return problem

    complete, skipped = find_complete(runs_root, experiment, task="gan", need=(), check=check)
    return [GanRun(r.folder, r.model, r.act, r.data, r.seed, grids[r.folder], kids[r.folder])
            for r in complete], skipped


def select(runs: list[GanRun], data: str, acts: list[str], seed: int | None) -> dict[str, GanRun]:
    """act -> run on `data`: the given seed (else the lowest), and the newest folder among repeats."""
    chosen: dict[str, GanRun] = {}
    candidates = [r for r in runs if r.data == data and r.act in acts and (seed is None or r.seed == seed)]
    for run in lowest_seed_last(candidates):
        chosen[run.act] = run  # later in this order (lower seed, newer suffix) wins
    return {act: chosen[act] for act in acts if act in chosen}


def draw(by_act: dict[str, GanRun], epochs: list[int], out: Path) -> list[Path]:
    """The figure: one row per activation, one column per epoch; a missing grid leaves a labelled blank cell."""
    rows, cols = len(by_act), len(epochs)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols + 0.6, 2.2 * rows + 0.4), squeeze=False)
    for r, (act, run) in enumerate(by_act.items()):
        for c, epoch in enumerate(epochs):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if epoch in run.grids:
                with Image.open(run.grids[epoch]) as image:
                    ax.imshow(image.convert("RGB"), interpolation="nearest")
            else:
                ax.text(0.5, 0.5, "no grid", ha="center", va="center", transform=ax.transAxes, fontsize=8)
            if r == 0:
                ax.set_title(f"epoch {epoch}", fontsize=9)
            if c == 0:
                kid = f"\nfinal proxy KID {run.kid:.1f}" if run.kid is not None else ""
                ax.set_ylabel(label(act) + kid, fontsize=9)
    runs = list(by_act.values())
    seeds = ", ".join(sorted({str(r.seed) for r in runs}))
    fig.suptitle(f"Figure S6: DCGAN samples of the same latents ({runs[0].data}, seed {seeds})", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure S6 from the run folders; returns the files written."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=RUNS, help="root of the run folders")
    parser.add_argument("--experiment", help="only runs/<experiment>/ (default: all)")
    parser.add_argument("--data", help="data set (default: the only one present, or digits)")
    parser.add_argument("--acts", nargs="+", default=list(DEFAULT_ACTS), help="rows, in order")
    parser.add_argument("--epochs", nargs="+", type=int, help="columns (default: every epoch with a grid)")
    parser.add_argument("--seed", type=int, help="seed to draw (default: the lowest per activation)")
    parser.add_argument("--out", type=Path, default=FIGURES / FIGURE,
                        help="output path without suffix (.png and .pdf are written)")
    args = parser.parse_args(argv)

    runs, skipped = find_runs(args.runs, args.experiment)
    report_skipped(skipped)
    present = sorted({r.data for r in runs})
    if not present:
        raise SystemExit(f"No complete gan runs with sample grids under {args.runs}: train some first, e.g. "
                         "python train.py task=gan act=relu")
    data = args.data or (present[0] if len(present) == 1 else "digits" if "digits" in present else None)
    if data is None:
        raise SystemExit(f"Gan runs on several data sets ({', '.join(present)}): choose one with --data.")
    by_act = select(runs, data, args.acts, args.seed)
    missing = [a for a in args.acts if a not in by_act]
    if missing:
        print(f"no usable run for act={', '.join(missing)} on data={data}: row(s) left out", file=sys.stderr)
    if not by_act:
        raise SystemExit(f"No usable gan runs on data={data} for act={', '.join(args.acts)}.")
    epochs = args.epochs or sorted(set().union(*(run.grids for run in by_act.values())))
    written = draw(by_act, epochs, args.out)
    print(f"Figure S6 ({data}; {', '.join(f'{label(a)}: {r.folder.name}' for a, r in by_act.items())}): {written[0]}")
    return written


if __name__ == "__main__":
    main()
