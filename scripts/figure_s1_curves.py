"""Figure S1: training loss and validation metric against % of training, per task, one line per activation
(mean over models and seeds, band = +-1 std). Reads only run folders.

    python scripts/figure_s1_curves.py                                   # mini sweeps -> results/figures/fig_s1_curves.png/.pdf
    python scripts/figure_s1_curves.py --experiment fig_s1_cls_full fig_s1_seg_full fig_s1_det_full --out results/figures/fig_s1_full
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402

from cli import common_args, experiments_of  # noqa: E402
from curves import mean_std_curve  # noqa: E402
from figure_files import save_figure  # noqa: E402
from palette import METRIC_LABELS, TASK_LABELS, act_color, act_label, act_order  # noqa: E402
from run_discovery import Run, find_runs, newest_per_seed, report_skipped, task_monitors  # noqa: E402

EXPERIMENTS = ["fig_s1_cls", "fig_s1_seg", "fig_s1_det"]
S1_ACTS = ["relu", "lrelu", "prelu", "elu", "softplus", "gelu", "swish", "selu", "ash"]
TASKS = ["cls", "seg", "det"]


def draw_panel(ax: plt.Axes, runs: list[Run], column: str, acts: list[str]) -> None:
    """One line per activation with a +-1 std band over its runs."""
    for act in acts:
        curve = mean_std_curve([r for r in runs if r.act == act], column)
        if curve.empty:
            continue
        ax.plot(curve["x"], curve["mean"], color=act_color(act), label=act_label(act),
                lw=2.2 if act == "ash" else 1.2, marker="o", ms=2.5)
        ax.fill_between(curve["x"], curve["mean"] - curve["std"], curve["mean"] + curve["std"],
                        color=act_color(act), alpha=0.12, lw=0)
    ax.set_xlabel("% of training")
    ax.set_ylabel(METRIC_LABELS.get(column, column))
    ax.set_xlim(0, 101)
    ax.grid(alpha=0.3)


def runs_per_act(runs: list[Run], acts: list[str]) -> str:
    """How many (model, seed) runs each activation has: "6", or "3-6" when they differ."""
    counts = sorted({len({(r.model, r.seed) for r in runs if r.act == act}) for act in acts} - {0})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def draw(runs: list[Run], out: Path, acts: list[str]) -> list[Path]:
    """Rows = tasks present, columns = training loss and the task's monitored metric (from its summaries)."""
    tasks = [t for t in TASKS if any(r.task == t for r in runs)]
    monitors = task_monitors(runs)
    fig, axes = plt.subplots(len(tasks), 2, figsize=(10, 3.2 * len(tasks) + 0.6), squeeze=False)
    for row, task in enumerate(tasks):
        task_runs = [r for r in runs if r.task == task]
        models = sorted({r.model for r in task_runs})
        n = runs_per_act(task_runs, acts)
        for col, column in enumerate(["train/loss", monitors[task]]):
            ax = axes[row][col]
            draw_panel(ax, task_runs, column, acts)
            ax.set_title(f"{TASK_LABELS[task]}: {METRIC_LABELS.get(column, column)} (n={n} per activation)\n"
                         f"mean +-1 std over {', '.join(models)} x seeds", fontsize=9)
    handles, labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("Figure S1: convergence by activation", fontsize=12)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure S1; returns the files written."""
    parser = common_args(__doc__, EXPERIMENTS, "fig_s1_curves")
    parser.add_argument("--acts", nargs="+", default=S1_ACTS, help="activations to draw")
    args = parser.parse_args(argv)
    runs, skipped = find_runs(args.runs, experiments_of(args))
    report_skipped(skipped)
    runs = newest_per_seed([r for r in runs if r.task in TASKS and r.act in args.acts])
    if not runs:
        raise SystemExit(f"No complete cls/seg/det runs under {args.runs} for {args.experiment}: "
                         "run e.g. python train.py -m experiment=fig_s1_cls")
    acts = sorted({r.act for r in runs}, key=act_order)
    written = draw(runs, args.out, acts)
    print(f"Figure S1 ({len(runs)} runs, {len(skipped)} skipped): {written[0]}")
    return written


if __name__ == "__main__":
    main()
