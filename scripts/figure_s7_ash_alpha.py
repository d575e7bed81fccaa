"""Figure S7 (analytic): ASH (eq. A4) y = x sigmoid(2 alpha (x - theta)) for several alpha against its hard
limit x H(x - theta) (eq. A2), with Swish (alpha = 0.5, theta = 0) marked. No runs are read.

    python scripts/figure_s7_ash_alpha.py            # -> results/figures/fig_s7_ash_alpha.png/.pdf
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ash_curves import ash_curve, hard_curve, swish_gap  # noqa: E402
from figure_files import save_figure  # noqa: E402
from run_discovery import FIGURES  # noqa: E402

ALPHAS = (0.25, 0.5, 1.0, 2.0, 5.0, 20.0)


def draw(out: Path, thetas: tuple[float, ...] = (0.0, 1.0)) -> list[Path]:
    """One panel per threshold: ASH for each alpha, the hard limit, and Swish."""
    x = np.linspace(-4, 4, 801)
    fig, axes = plt.subplots(1, len(thetas), figsize=(5 * len(thetas), 4), squeeze=False)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(ALPHAS)))
    for ax, theta in zip(axes[0], thetas):
        for alpha, color in zip(ALPHAS, colors):
            ax.plot(x, ash_curve(x, alpha, theta), color=color, lw=1.4, label=f"ASH, alpha={alpha:g}")
        ax.plot(x, hard_curve(x, theta), "k--", lw=1.6, label="x H(x - theta) (eq. A2)")
        if theta == 0.0:
            ax.plot(x, x / (1 + np.exp(-x)), color="#2ca02c", ls=":", lw=2.5, label="Swish = ASH(alpha=0.5, theta=0)")
        ax.axvline(theta, color="grey", lw=0.6)
        ax.set_title(f"theta = {theta:g}")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Figure S7: ASH approaches x H(x - theta) as alpha grows", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    """Draw Figure S7; returns the files written."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=FIGURES / "fig_s7_ash_alpha", help="path without suffix")
    args = parser.parse_args(argv)
    written = draw(args.out)
    print(f"Figure S7: {written[0]} (max |ASH(0.5, 0) - Swish| = {swish_gap(np.linspace(-8, 8, 1601)):.2e})")
    return written


if __name__ == "__main__":
    main()
