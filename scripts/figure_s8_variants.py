"""Figure S8: validation loss of ASH, L-ASH, F-ASH-10, F-ASH-50 and F-ASH-90 against % of training, per task
and averaged over the tasks (each task's loss divided by its mean first-epoch loss, so tasks weigh equally).
The variants come from fig_s8_variants; ASH from the S1 sweeps of the same recipe, for the models that have
variant runs. Reads only run folders.

    python scripts/figure_s8_variants.py                      # -> results/figures/fig_s8_variants.png/.pdf
    python scripts/figure_s8_variants.py --experiment fig_s8_variants_full fig_s1_cls_full fig_s1_seg_full \
        fig_s1_det_full --out results/figures/fig_s8_full
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from cli import common_args, experiments_of  # noqa: E402
from curves import progress_curve  # noqa: E402
from figure_files import save_figure  # noqa: E402
from palette import TASK_LABELS, act_color, act_label  # noqa: E402
from run_discovery import Run, find_runs, newest_per_seed, report_skipped  # noqa: E402

VARIANTS = ["ash", "lash", "fash10", "fash50", "fash90"]
EXPERIMENTS = ["fig_s8_variants", "fig_s1_cls", "fig_s1_seg", "fig_s1_det"]
COLUMN = "val/loss"


def normalised_curves(runs: list[Run]) -> pd.DataFrame:
    """Long table task, act, run, x, loss, norm: val loss per run, normalised by its task's first-epoch mean."""
    rows = []
    for run in runs:
        curve = progress_curve(run, COLUMN)
        rows += [{"task": run.task, "act": run.act, "run": str(run.folder), "x": round(x, 1), "loss": v}
                 for x, v in curve.items()]
    long = pd.DataFrame(rows, columns=["task", "act", "run", "x", "loss"])
    if long.empty:
        return long.assign(norm=[])
    first = long.sort_values("x").groupby("run").head(1).groupby("task")["loss"].mean()
    return long.assign(norm=long["loss"] / long["task"].map(first))


def _plot(ax: plt.Axes, table: pd.DataFrame, value: str) -> None:
    for act in VARIANTS:
        part = table[table["act"] == act]
        if part.empty:
            continue
        stats = part.groupby("x")[value].agg(["mean", "std"]).reset_index().fillna(0.0)
        ax.plot(stats["x"], stats["mean"], color=act_color(act), marker="o", ms=2.5,
                lw=2.2 if act == "ash" else 1.3, label=f"{act_label(act)} (n={part['run'].nunique()})")
        ax.fill_between(stats["x"], stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                        color=act_color(act), alpha=0.12, lw=0)
    ax.set_xlabel("% of training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def draw(table: pd.DataFrame, out: Path) -> list[Path]:
    """Panels: the average over tasks, then one per task."""
    tasks = [t for t in ("cls", "seg", "det") if t in set(table["task"])]
    fig, axes = plt.subplots(1, 1 + len(tasks), figsize=(4.2 * (1 + len(tasks)), 3.8), squeeze=False)
    _plot(axes[0][0], table, "norm")  # every run of every task, each normalised by its task's scale
    axes[0][0].set_title(f"average over {len(tasks)} task(s)\n(val loss / task's first-epoch mean)", fontsize=9)
    axes[0][0].set_ylabel("normalised val loss")
    for ax, task in zip(axes[0][1:], tasks):
        _plot(ax, table[table["task"] == task], "loss")
        ax.set_title(f"{TASK_LABELS[task]}: val loss", fontsize=9)
        ax.set_ylabel("val loss")
    fig.suptitle("Figure S8: ASH variants (mean +-1 std over models and seeds)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure S8; returns the files written."""
    args = common_args(__doc__, EXPERIMENTS, "fig_s8_variants").parse_args(argv)
    runs, skipped = find_runs(args.runs, experiments_of(args))
    report_skipped(skipped)
    runs = newest_per_seed([r for r in runs if r.act in VARIANTS and r.task in ("cls", "seg", "det")])
    with_variants = {(r.task, r.data, r.model) for r in runs if r.act != "ash"}
    # ASH of the same task, data and model, one run per seed (S8's own if it has one, else S1's).
    ash = {(r.task, r.data, r.model, r.seed): r for r in sorted(runs, key=lambda r: r.experiment != "fig_s8_variants",
                                                                reverse=True) if r.act == "ash"}
    runs = [r for r in runs if r.act != "ash" and (r.task, r.data, r.model) in with_variants]
    runs += [r for key, r in ash.items() if key[:3] in with_variants]
    table = normalised_curves(runs)
    if table.empty:
        raise SystemExit(f"No complete ASH-variant runs with val/loss under {args.runs} for {args.experiment}: "
                         "run e.g. python train.py -m experiment=fig_s8_variants_cls")
    written = draw(table, args.out)
    print(f"Figure S8 ({len(runs)} runs, {len(skipped)} skipped): {written[0]}")
    return written


if __name__ == "__main__":
    main()
