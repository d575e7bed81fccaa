"""Figure T1 (beyond the paper): ASH in transformers. One row per transformer (the ViT of task cls, the causal LM of
task lm): training loss and the monitored validation metric against % of training, one line per activation (mean
over seeds, band = +-1 std, as in Figure S1), and the learned z of every block's ASH (mean +-1 std over seeds, one
faint line per seed; F-ASH-50's fixed z = 0 dashed).

    python scripts/figure_t1_transformers.py        # -> results/figures/fig_t1_transformers.png/.pdf
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cli import common_args, experiments_of  # noqa: E402
from figure_files import save_figure  # noqa: E402
from figure_s1_curves import draw_panel, runs_per_act  # noqa: E402
from palette import METRIC_LABELS, act_color, act_order  # noqa: E402
from run_discovery import Run, find_runs, newest_per_seed, report_skipped, task_monitors  # noqa: E402

EXPERIMENTS = ["fig_t1_transformers"]
ROWS = (("cls", "ViT (digits)"), ("lm", "causal LM (pydoc)"))


def block_z(runs: list[Run]) -> np.ndarray:
    """Final z per ASH block (rows = runs, columns = blocks in call order); runs with another depth are left out."""
    rows = [[layer["z"] for layer in run.summary.get("ash_layers") or []] for run in runs]
    rows = [r for r in rows if r]
    depth = max((len(r) for r in rows), default=0)
    return np.array([r for r in rows if len(r) == depth], dtype=float).reshape(-1, depth)


def draw_z(ax: plt.Axes, runs: list[Run]) -> None:
    """The learned z of each block's ASH: one faint line per seed, mean +-1 std, F-ASH-50's fixed z = 0."""
    z = block_z([r for r in runs if r.act == "ash"])
    blocks = np.arange(1, z.shape[1] + 1)
    for row in z:
        ax.plot(blocks, row, color=act_color("ash"), alpha=0.25, lw=0.8)
    if len(z):
        mean, std = z.mean(0), z.std(0, ddof=1) if len(z) > 1 else np.zeros(z.shape[1])
        ax.errorbar(blocks, mean, yerr=std, color=act_color("ash"), lw=2, marker="o", ms=4, capsize=3,
                    label=f"ASH (n={len(z)})")
    ax.axhline(0.0, color=act_color("fash50"), ls="--", lw=1, label="F-ASH-50 / initial z")
    ax.set(xlabel="block", ylabel="learned z", xticks=blocks)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def draw(runs: list[Run], out: Path) -> list[Path]:
    """Rows = transformers present; columns = train loss, the monitored metric, learned z per block."""
    rows = [(task, name) for task, name in ROWS if any(r.task == task for r in runs)]
    monitors = task_monitors(runs)
    acts = sorted({r.act for r in runs}, key=act_order)
    fig, axes = plt.subplots(len(rows), 3, figsize=(14, 3.4 * len(rows) + 0.6), squeeze=False)
    for i, (task, name) in enumerate(rows):
        task_runs = [r for r in runs if r.task == task]
        n = runs_per_act(task_runs, acts)
        for col, column in enumerate(["train/loss", monitors[task]]):
            draw_panel(axes[i][col], task_runs, column, acts)
            axes[i][col].set_title(f"{name}: {METRIC_LABELS.get(column, column)} (n={n} seeds per activation)",
                                   fontsize=9)
        draw_z(axes[i][2], task_runs)
        axes[i][2].set_title(f"{name}: learned z of each block's ASH", fontsize=9)
    handles, labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("Figure T1 (beyond the paper): ASH in transformers", fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure T1; returns the files written."""
    parser = common_args(__doc__, EXPERIMENTS, "fig_t1_transformers")
    args = parser.parse_args(argv)
    runs, skipped = find_runs(args.runs, experiments_of(args))
    report_skipped(skipped)
    runs = newest_per_seed([r for r in runs if r.task in dict(ROWS)])
    if not runs:
        raise SystemExit(f"No complete transformer runs under {args.runs} for {args.experiment}: run "
                         "python train.py -m experiment=fig_t1_transformers_vit (and _lm)")
    written = draw(runs, args.out)
    print(f"Figure T1 ({len(runs)} runs, {len(skipped)} skipped): {written[0]}")
    return written


if __name__ == "__main__":
    main()
