"""results/CLAIMS.md: every appendix claim, the figure/table that tests it, the measured numbers and a verdict,
computed from the tables in results/tables/ (run scripts/make_tables.py first). No number is written by hand.

Verdict from 95 % bootstrap CIs of paired differences over seeds, one per row (task, baseline): each row supports
the claim (CI on the claimed side of 0), contradicts it (on the other side) or is undecided (CI contains 0).
A claim is reproduced when every row supports it, not reproduced when none does and one contradicts it,
inconclusive otherwise, not measured without pairs.

    python scripts/write_claims.py                   # results/tables -> results/CLAIMS.md
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ash_curves import swish_gap  # noqa: E402
from paired_stats import bootstrap_ci  # noqa: E402
from run_discovery import ROOT, RUNS, TABLES, find_runs, task_monitors  # noqa: E402

EQUIVALENCE = 0.02  # F-ASH-50 "ReLU-like": |difference| of the final metric within 2 points
KEEP_TOLERANCE = 5.0  # normal approximation "holds": mean |measured - nominal k| below 5 percentage points


@dataclass
class Evidence:
    """One measured difference: what, n pairs, mean, CI, and (once judged) which side of the claim it is on."""

    what: str
    n: int
    mean: float
    lo: float
    hi: float
    side: int | None = None  # +1 supports the claim, -1 contradicts it, 0 undecided

    def text(self) -> str:
        mark = {1: " (supports)", -1: " (contradicts)", 0: " (undecided)"}.get(self.side, "")
        return f"{self.what}: {self.mean:+.4g} [{self.lo:+.4g}, {self.hi:+.4g}] (n={self.n}){mark}"


def side_of(e: Evidence, sign: int) -> int:
    """+1 when the CI lies on the claimed side of 0 (sign +1: > 0, -1: < 0), -1 on the other side, 0 if it holds 0."""
    on_claimed_side = e.lo > 0 if sign > 0 else e.hi < 0
    on_other_side = e.hi < 0 if sign > 0 else e.lo > 0
    return 1 if on_claimed_side else -1 if on_other_side else 0


def side_of_equivalence(e: Evidence, margin: float) -> int:
    """+1 when the CI lies inside +-margin, -1 when it lies wholly outside, 0 when it crosses a margin."""
    return 1 if -margin <= e.lo and e.hi <= margin else -1 if e.lo > margin or e.hi < -margin else 0


def combine(sides: list[int]) -> str:
    """Reproduced only if every row supports the claim; not reproduced if none does and one contradicts it."""
    if not sides:
        return "not measured"
    if all(s == 1 for s in sides):
        return "reproduced"
    if any(s == -1 for s in sides) and not any(s == 1 for s in sides):
        return "not reproduced"
    return "inconclusive"


def verdict(evidence: list[Evidence], sign: int) -> str:
    """Judge each usable row (n >= 2, a CI) against the claimed sign, then combine."""
    usable = [e for e in evidence if e.n >= 2 and e.lo == e.lo]
    for e in usable:
        e.side = side_of(e, sign)
    return combine([e.side for e in usable])


def pick(paired: pd.DataFrame, task: str, metric: str, quantity: str, comparison: str,
         model: str = "all") -> Evidence | None:
    """The pooled (or the only model's) row of paired_differences.csv."""
    rows = paired[(paired.task == task) & (paired.metric == metric) & (paired.quantity == quantity)
                  & (paired.comparison == comparison)]
    if rows.empty:
        return None
    row = rows[rows.model == model].iloc[0] if (rows.model == model).any() else rows.iloc[0]
    return Evidence(f"{task} {row.model} {metric} {quantity} {comparison}", int(row.n_pairs), float(row.mean_diff),
                    float(row.ci_low), float(row.ci_high))


def claims(paired: pd.DataFrame, depth: pd.DataFrame,
           primary: dict[str, str]) -> list[tuple[str, str, list[Evidence], str, str]]:
    """(claim, figure/table, evidence, verdict, note) for every claim of the appendix; a claim against two
    baselines (ReLU and Swish) is two rows, so that a win over one and a loss to the other are both visible.
    `primary`: task -> the metric its runs monitor (a task without runs has no rows)."""
    out = []

    def add(claim, where, evidence, sign, note=""):
        evidence = [e for e in evidence if e is not None]
        out.append((claim, where, evidence, verdict(evidence, sign), note))

    baselines = (("relu", "ReLU"), ("swish", "Swish"))
    for b, name in baselines:
        add(f"ASH converges earlier than {name} (fewer epochs to 90 % of the final metric)",
            "Figure S1, tables/paired_differences (epochs_to_90)",
            [pick(paired, t, primary.get(t), "epochs_to_90", f"ash-{b}") for t in ("cls", "seg", "det")], -1,
            "one row per task; whole epochs, so many differences are 0")
    add("ASH converges earlier in validation loss than its variants (S8): L-ASH, F-ASH-10/50/90 need more epochs",
        "Figure S8, tables/paired_differences (val/loss epochs_to_90)",
        [pick(paired, t, "val/loss", "epochs_to_90", f"{v}-ash") for t in ("cls", "seg", "det")
         for v in ("lash", "fash10", "fash50", "fash90")], +1)
    for task, name in (("cls", "classification"), ("seg", "segmentation")):
        for b, bname in baselines:
            add(f"ASH reaches a higher final {primary.get(task)} than {bname} in {name}",
                "tables/final_metrics, tables/paired_differences (final)",
                [pick(paired, task, primary.get(task), "final", f"ash-{b}")], +1)
    for b, bname in baselines:
        add(f"Detection: ASH gives better boxes (higher final mAP@0.5) than {bname}", "tables/paired_differences",
            [pick(paired, "det", "val/map_50", "final", f"ash-{b}")], +1)
    add("Detection: ASH loses confidence late in training (larger best - final drop of val/matched_conf than ReLU)",
        "tables/paired_differences (val/matched_conf drop)",
        [pick(paired, "det", "val/matched_conf", "drop", "ash-relu")], +1)
    add("L-ASH converges more slowly than ASH (val loss, epochs to 90 %)", "Figure S8",
        [pick(paired, t, "val/loss", "epochs_to_90", "lash-ash") for t in ("cls", "seg", "det")], +1)
    for v, name in (("fash10", "F-ASH-10"), ("fash90", "F-ASH-90")):
        add(f"{name} plateaus: higher final val loss than ASH", "Figure S8",
            [pick(paired, t, "val/loss", "final", f"{v}-ash") for t in ("cls", "seg", "det")], +1)
    relu_like = [e for e in (pick(paired, t, primary.get(t), "final", "fash50-relu") for t in ("cls", "seg", "det"))
                 if e is not None and e.n >= 2 and e.lo == e.lo]
    for e in relu_like:
        e.side = side_of_equivalence(e, EQUIVALENCE)
    out.append(("F-ASH-50 behaves like ReLU (final metric within +-0.02 of ReLU's)",
                "Figure S8, tables/paired_differences", relu_like, combine([e.side for e in relu_like]),
                f"equivalence: a row supports the claim when its CI lies inside +-{EQUIVALENCE:g}, contradicts it "
                "when the CI lies wholly outside"))
    rho = depth["spearman_z_depth"].dropna().tolist() if not depth.empty else []
    lo, hi = bootstrap_ci(rho)
    mean_rho = float(np.mean(rho)) if rho else float("nan")
    z_evidence = [Evidence("Spearman rho(z, depth) over ASH runs", len(rho), mean_rho, lo, hi)]
    sign = 1 if rho and np.mean(rho) > 0 else -1
    add("Learned z differs with depth (Property 1): a monotone trend of z with depth", "Figure S9, tables/ash_depth",
        z_evidence if rho else [], sign, "sign of the trend taken from the data; mean z range per run: " +
        (f"{depth['z_range'].mean():.3g}" if not depth.empty else "n/a"))
    gaps = depth["keep_gap_mean"].dropna().tolist() if "keep_gap_mean" in depth else []
    lo, hi = bootstrap_ci(gaps)
    gap_evidence = [Evidence("mean over ASH runs of the per-layer mean abs(measured - nominal k) (points)", len(gaps),
                             float(np.mean(gaps)), lo, hi)] if len(gaps) >= 2 else []
    for e in gap_evidence:
        e.side = 1 if e.hi < KEEP_TOLERANCE else -1 if e.lo > KEEP_TOLERANCE else 0
    out.append(("The normal approximation holds: a layer with threshold mu + z sigma keeps about k = 100 (1 - Phi(z)) % "
                "of its elements", "Figure S9 (c), tables/ash_depth (keep_gap_mean)", gap_evidence,
                combine([e.side for e in gap_evidence]),
                f"holds when the CI lies below {KEEP_TOLERANCE:g} points; largest single-layer gap: " +
                (f"{depth['keep_gap_max'].max():.3g}" if gaps else "n/a")))
    for b, bname in baselines:
        add(f"ASH localises like attention: more Grad-CAM mass on the digit than {bname}",
            "Figure S2, tables/gradcam, tables/paired_differences (cam_on_ink)",
            [pick(paired, "cls", "cam_on_ink", "final", f"ash-{b}")], +1)
    add("DCGAN with ASH reaches a lower (better) final proxy KID than with ReLU", "Figure S6, tables/paired_differences",
        [pick(paired, "gan", "val/proxy_kid", "final", "ash-relu")], -1)
    add("DCGAN trains faster with ASH: fewer epochs than ReLU to 90 % of its own final proxy KID",
        "Figure S6, tables/paired_differences (gan epochs_to_90)",
        [pick(paired, "gan", "val/proxy_kid", "epochs_to_90", "ash-relu")], -1)
    gap = swish_gap(np.linspace(-8, 8, 1601))
    out.append(("Swish is the special case of ASH (alpha = 0.5, threshold 0)", "Figure S7, tests/ash",
                [Evidence("max abs(ASH(0.5, 0) - Swish) on [-8, 8]", 1601, gap, gap, gap)],
                "reproduced" if gap < 1e-6 else "not reproduced", "analytic identity, also checked in tests/ash"))
    return out


def render(rows, tables: Path) -> str:
    """The Markdown text of CLAIMS.md."""
    shown = tables.relative_to(ROOT) if tables.is_relative_to(ROOT) else tables
    verdicts = ("reproduced", "not reproduced", "inconclusive", "not measured")
    counts = {v: sum(1 for r in rows if r[3] == v) for v in verdicts}
    lines = ["# Claims of the appendix at mini scale", "",
             f"Generated by `scripts/write_claims.py` from `{shown}` (numbers: mean paired difference over seeds "
             "[95 % bootstrap CI] (n pairs); model `all` pools the models).",
             "Each measured row supports the claim (its CI lies on the claimed side of 0), contradicts it (the other "
             "side) or is undecided (the CI contains 0). Verdict: reproduced = every row supports it; not reproduced "
             "= none supports it and one contradicts it; inconclusive = otherwise. Mini scale (small models, few "
             "epochs, embedded data) says little about the paper's full-scale numbers.", "",
             "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()), "",
             "| # | claim | tested by | measured | verdict |", "|---|---|---|---|---|"]
    for i, (claim, where, evidence, result, note) in enumerate(rows, 1):
        measured = "<br>".join(e.text() for e in evidence) or "no runs"
        if note:
            measured += f"<br>({note})"
        lines.append(f"| {i} | {claim} | {where} | {measured} | **{result}** |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    """Write CLAIMS.md; returns its path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=Path, default=TABLES, help="folder of make_tables.py's CSVs")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "CLAIMS.md")
    parser.add_argument("--runs", type=Path, default=RUNS, help="run folders whose summaries name each task's metric")
    args = parser.parse_args(argv)
    try:
        paired = pd.read_csv(args.tables / "paired_differences.csv")
        depth = pd.read_csv(args.tables / "ash_depth.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError) as e:
        raise SystemExit(f"{e}: run python scripts/make_tables.py first.") from e
    rows = claims(paired, depth, task_monitors(find_runs(args.runs)[0]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, args.tables))
    print(f"CLAIMS: {args.out} ({', '.join(f'{r[3]}' for r in rows)})")
    return args.out


if __name__ == "__main__":
    main()
