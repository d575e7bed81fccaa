"""The command line every figure and table script shares: --runs, --experiment, --out."""
from __future__ import annotations

import argparse
from pathlib import Path

from run_discovery import FIGURES, RUNS, TABLES


def common_args(description: str, default_experiments: list[str] | None,
                out_name: str | None = None) -> argparse.ArgumentParser:
    """The argument parser every figure/table script shares: --runs, --experiment, --out."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=RUNS, help="root of the run folders (results/runs)")
    parser.add_argument("--experiment", nargs="+", default=default_experiments,
                        help=f"experiments to read (default: {' '.join(default_experiments or ['all'])}; "
                             "'all' = every one)")
    default_out = (FIGURES / out_name) if out_name else TABLES
    parser.add_argument("--out", type=Path, default=default_out, help="output (figures: path without suffix)")
    return parser


def experiments_of(args) -> list[str] | None:
    """The --experiment list, None for every experiment."""
    return None if not args.experiment or "all" in args.experiment else list(args.experiment)
