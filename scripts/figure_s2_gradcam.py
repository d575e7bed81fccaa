"""Figure S2: Grad-CAM of classification models trained with ReLU, ASH and Swish (rows = images; columns = input
and one CAM per activation), per model, with the share of CAM mass on the digit's ink in each title.
Reads the artefacts analysis/gradcam.npz written by scripts/analyze_runs.py (which needs the checkpoints).

    python scripts/figure_s2_gradcam.py                       # fig_s1_cls -> results/figures/fig_s2_gradcam.png/.pdf
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cli import common_args, experiments_of  # noqa: E402
from figure_files import save_figure  # noqa: E402
from palette import act_label  # noqa: E402
from run_discovery import Run, find_runs, lowest_seed_last, report_skipped  # noqa: E402
from tasks.common.run_record import ANALYSIS, CONFIG  # noqa: E402

ACTS = ["relu", "ash", "swish"]
MODELS = ["resnet164", "densenet100_12"]
ARTEFACT = Path(ANALYSIS) / "gradcam.npz"


def _has_cam(folder: Path, summary: dict) -> str:
    return "" if (folder / ARTEFACT).is_file() else f"no {ARTEFACT} (run scripts/analyze_runs.py)"


def pick(runs: list[Run], models: list[str], seed: int | None) -> dict[str, dict[str, Run]]:
    """model -> act -> run of the given (else lowest) seed."""
    chosen: dict[str, dict[str, Run]] = {}
    for run in lowest_seed_last(runs):
        if run.model in models and run.act in ACTS and (seed is None or run.seed == seed):
            chosen.setdefault(run.model, {})[run.act] = run
    return chosen


def draw(chosen: dict[str, dict[str, Run]], out: Path, n_images: int) -> list[Path]:
    """Per model a block of rows (images) x columns (input, CAM per activation)."""
    blocks = []
    for model, by_act in chosen.items():
        acts = [a for a in ACTS if a in by_act]
        data = {a: np.load(by_act[a].folder / ARTEFACT) for a in acts}
        n = min(n_images, *(len(d["labels"]) for d in data.values()))
        blocks.append((model, acts, data, n))
    rows = sum(b[3] for b in blocks)
    cols = 1 + max(len(b[1]) for b in blocks)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.8 * rows + 0.6), squeeze=False)
    row = 0
    for model, acts, data, n in blocks:
        for i in range(n):
            image = data[acts[0]]["images"][i].mean(0)
            axes[row][0].imshow(image, cmap="gray")
            axes[row][0].set_ylabel(f"{model}\nlabel {int(data[acts[0]]['labels'][i])}", fontsize=7)
            for c, act in enumerate(acts, start=1):
                axes[row][c].imshow(image, cmap="gray")
                axes[row][c].imshow(data[act]["cams"][i], cmap="jet", alpha=0.45, vmin=0, vmax=1)
                if i == 0:
                    share = float(np.mean(data[act]["mass_on_ink"]))
                    axes[row][c].set_title(f"{act_label(act)}\nCAM on ink {share:.2f}", fontsize=8)
            if i == 0:
                axes[row][0].set_title("input", fontsize=8)
            row += 1
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Figure S2: Grad-CAM (last conv layer, true class)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure S2; returns the files written."""
    parser = common_args(__doc__, ["fig_s1_cls"], "fig_s2_gradcam")
    parser.add_argument("--models", nargs="+", default=MODELS, help="model config names, one block each")
    parser.add_argument("--seed", type=int, help="seed (default: the lowest)")
    parser.add_argument("--images", type=int, default=4, help="rows per model")
    args = parser.parse_args(argv)
    runs, skipped = find_runs(args.runs, experiments_of(args), task="cls", need=(CONFIG,), check=_has_cam)
    report_skipped([s for s in skipped if "/cls-" in s and any(f"-{a}-" in s for a in ACTS)])
    chosen = pick(runs, args.models, args.seed)
    if not chosen:
        raise SystemExit(f"No cls runs of {args.models} with {ARTEFACT} under {args.runs}: train them "
                         "(experiment=fig_s1_cls) and run scripts/analyze_runs.py first.")
    written = draw(chosen, args.out, args.images)
    print(f"Figure S2 ({', '.join(chosen)}): {written[0]}")
    return written


if __name__ == "__main__":
    main()
