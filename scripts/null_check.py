"""Null check of the claims procedure: shuffle the activation labels of the committed runs, so that no activation
differs from another, and count how often the comparative claims still come out decided.

Labels are permuted among the runs of one block: the same task, data, model and seed (S8's variant runs share
S1's recipe and join its blocks, so every comparison of CLAIMS.md compares runs of one exchangeable pool). Each
shuffle goes through the same make_tables + write_claims code as results/CLAIMS.md. A decided verdict
("reproduced" or "not reproduced") on shuffled labels is a false decision; the rate must stay at most 5 %.

    python scripts/null_check.py                       # 20 shuffles of the mini experiments
    python scripts/null_check.py --shuffles 100 --out results/tables/null_check.md
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from make_tables import (EXPERIMENTS, TRANSFORMER_COMPARISONS, TRANSFORMER_EXPERIMENTS, ash_depth,  # noqa: E402
                         gradcam_table, is_transformer_study, paired, run_values, tabled_runs, with_cams)
from cli import common_args  # noqa: E402
from run_discovery import TABLES, Run  # noqa: E402
from write_claims import claims, monitors  # noqa: E402

DECIDED = ("reproduced", "not reproduced")
LIMIT = 0.05


def shuffled(runs: list[Run], rng: np.random.Generator) -> list[Run]:
    """The runs with their activation labels permuted within each (task, data, model, seed) block."""
    blocks: dict[tuple, list[Run]] = {}
    for run in runs:
        blocks.setdefault((run.task, run.data, run.model, run.seed), []).append(run)
    out = []
    for block in blocks.values():
        acts = [run.act for run in block]
        for run, act in zip(block, rng.permutation(acts)):
            out.append(Run(run.folder, {**run.summary, "act": str(act)}, run.metrics))
    return out


def comparative_verdicts(runs: list[Run], depth: pd.DataFrame, t_depth: pd.DataFrame | None = None) -> list[str]:
    """The verdicts of the comparative claims for these runs (the same code path as CLAIMS.md); Figure T1's runs,
    when there are any, are tabled apart as make_tables.py --study transformers does."""
    appendix = [r for r in runs if not is_transformer_study(r.experiment)]
    table = paired(with_cams(run_values(appendix), gradcam_table(appendix)))
    t_runs = [r for r in runs if is_transformer_study(r.experiment)]
    transformers = (paired(run_values(t_runs), TRANSFORMER_COMPARISONS), t_depth) if t_runs else None
    return [c.verdict for c in claims(table, depth, *monitors(runs), transformers) if c.comparative]


def null_rate(runs: list[Run], shuffles: int, seed: int = 0) -> tuple[int, int, list[str]]:
    """Decided comparative verdicts over `shuffles` label shuffles: (decided, total, per-shuffle lines)."""
    rng = np.random.default_rng(seed)
    depth = ash_depth([r for r in runs if not is_transformer_study(r.experiment)])
    t_depth = ash_depth([r for r in runs if is_transformer_study(r.experiment)])
    decided = total = 0
    lines = []
    for i in range(shuffles):
        verdicts = comparative_verdicts(shuffled(runs, rng), depth, t_depth)
        hits = sum(v in DECIDED for v in verdicts)
        decided, total = decided + hits, total + len(verdicts)
        lines.append(f"| {i} | {len(verdicts)} | {hits} | {', '.join(sorted(set(verdicts)))} |")
    return decided, total, lines


def main(argv: list[str] | None = None) -> float:
    """Print (and with --out write) the false-decision rate on shuffled labels; exit 1 when it exceeds 5 %."""
    parser = common_args(__doc__, [*EXPERIMENTS, *TRANSFORMER_EXPERIMENTS])
    parser.add_argument("--shuffles", type=int, default=20, help="label shuffles")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffles")
    args = parser.parse_args(argv)
    runs, _ = tabled_runs(args)
    decided, total, lines = null_rate(runs, args.shuffles, args.seed)
    rate = decided / total if total else float("nan")
    upper = float(stats.beta.ppf(0.95, decided + 1, total - decided)) if total else float("nan")
    text = "\n".join([
        "# Null check of the claims procedure", "",
        f"{args.shuffles} shuffles of the activation labels within (task, data, model, seed) blocks of {len(runs)} "
        f"complete runs; each shuffle re-runs the tables and the claims. False decisions: {decided} of {total} "
        f"comparative verdicts = {rate:.1%} (one-sided 95 % upper bound {upper:.1%}); limit {LIMIT:.0%}: "
        f"{'PASS' if rate <= LIMIT else 'FAIL'}.", "",
        "| shuffle | comparative claims | decided | verdicts seen |", "|---|---|---|---|", *lines]) + "\n"
    print(text)
    if args.out != TABLES:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if rate > LIMIT:
        raise SystemExit(1)
    return rate


if __name__ == "__main__":
    main()
