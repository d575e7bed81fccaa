"""Figure S9: the learned threshold of every ASH layer. (a) z and (b) k % against relative depth for every
complete ASH run (summary.json ash_layers); (c) the measured % of elements each layer keeps on validation data
against the nominal k (analysis/ash_keep.json from scripts/analyze_runs.py: does the normal approximation hold?);
(d, e) channel-mean activation maps of a shallow and a deep ASH layer for one input (analysis/ash_maps.npz).

    python scripts/figure_s9_learned_z.py                     # every experiment -> results/figures/fig_s9_learned_z.png/.pdf
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cli import common_args, experiments_of  # noqa: E402
from figure_files import save_figure  # noqa: E402
from palette import TASK_LABELS  # noqa: E402
from run_discovery import Run, find_runs, read_keep, report_skipped  # noqa: E402
from tasks.common.run_record import ANALYSIS  # noqa: E402

TASK_COLORS = {"cls": "#1f77b4", "seg": "#2ca02c", "det": "#d62728", "gan": "#9467bd"}


def layers_of(run: Run) -> list[dict]:
    """The run's ASH layers with a relative depth in [0, 1]."""
    rows = [r for r in run.summary.get("ash_layers") or [] if isinstance(r, dict) and "z" in r]
    last = max(1, len(rows) - 1)
    return [{**r, "rel_depth": r["depth"] / last} for r in rows]


def draw(runs: list[Run], out: Path) -> list[Path]:
    """Three panels of parameters, plus two activation maps when an artefact has them."""
    maps_run = next((r for r in runs if (r.folder / ANALYSIS / "ash_maps.npz").is_file()), None)
    ncols = 3 + (2 if maps_run else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(4 * ncols, 3.8), squeeze=False)
    ax_z, ax_k, ax_m = axes[0][:3]
    keeps = {run.folder: read_keep(run) for run in runs}
    seen = set()
    for run in runs:
        rows = layers_of(run)
        x = [r["rel_depth"] for r in rows]
        label = TASK_LABELS.get(run.task, run.task) if run.task not in seen else None
        seen.add(run.task)
        color = TASK_COLORS.get(run.task, "grey")
        ax_z.plot(x, [r["z"] for r in rows], color=color, alpha=0.45, lw=1, marker=".", label=label)
        ax_k.plot(x, [r["k"] for r in rows], color=color, alpha=0.45, lw=1, marker=".")
        keep = keeps[run.folder]
        ax_m.scatter([r["k"] for r in keep], [r["measured_k"] for r in keep], s=8, color=color, alpha=0.6)
    ax_z.set(title="(a) learned z per ASH layer", xlabel="relative depth (0 = first ASH layer)", ylabel="z")
    ax_k.set(title="(b) nominal k = 100 (1 - Phi(z))", xlabel="relative depth", ylabel="k (%)")
    kept = [v for keep in keeps.values() for r in keep for v in (r["k"], r["measured_k"])]
    lims = [max(0.0, min(kept) - 5), min(100.0, max(kept) + 5)] if kept else [0.0, 100.0]
    ax_m.plot(lims, lims, "k--", lw=0.8, label="measured = nominal")
    ax_m.set(xlim=lims, ylim=lims)
    ax_m.set(title="(c) kept on validation data vs nominal k", xlabel="nominal k (%)", ylabel="measured kept (%)")
    n_keep = sum(1 for keep in keeps.values() if keep)
    ax_m.text(0.02, 0.95, f"{n_keep} run(s) analysed", transform=ax_m.transAxes, fontsize=8, va="top")
    for ax in (ax_z, ax_k, ax_m):
        ax.grid(alpha=0.3)
    ax_z.legend(fontsize=7)
    ax_m.legend(fontsize=7, loc="lower right")
    if maps_run:
        with np.load(maps_run.folder / ANALYSIS / "ash_maps.npz") as arrays:
            for ax, name in zip(axes[0][3:], ("shallow", "deep")):
                if name in arrays:
                    ax.imshow(arrays[name], cmap="magma")
                    ax.set_title(f"({'d' if name == 'shallow' else 'e'}) {name}: {arrays[name + '_path']}\n"
                                 f"{maps_run.folder.name}", fontsize=7)
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(f"Figure S9: learned ASH thresholds ({len(runs)} ASH runs)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure S9; returns the files written."""
    args = common_args(__doc__, None, "fig_s9_learned_z").parse_args(argv)
    runs, skipped = find_runs(args.runs, experiments_of(args), need=())
    report_skipped(skipped)
    runs = [r for r in runs if r.act == "ash" and layers_of(r)]
    if not runs:
        raise SystemExit(f"No complete ASH runs with ash_layers under {args.runs}: train one with act=ash first.")
    written = draw(runs, args.out)
    print(f"Figure S9 ({len(runs)} ASH runs, {len(skipped)} skipped): {written[0]}")
    return written


if __name__ == "__main__":
    main()
