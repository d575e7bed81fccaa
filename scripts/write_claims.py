"""results/CLAIMS.md: every appendix claim, the figure/table that tests it, the measured numbers and a verdict,
computed from the tables in results/tables/ (run scripts/make_tables.py first). No number is written by hand.

Each row of a claim is one paired comparison over seeds (task, baseline). Its test is the paired t-test
(scripts/paired_stats.py), and the error is controlled over the whole family of rows of every claim by Holm's
method (family-wise error rate 5 %). A row with fewer than MIN_PAIRS pairs gets no decision ("too few seeds").
A decided row supports the claim (adjusted p < 0.05, effect on the claimed side), contradicts it (the other side)
or is undecided. A claim is reproduced when every decided row supports it and no row lacks seeds, not reproduced
when none supports and one contradicts it, too few seeds when no row has enough pairs, inconclusive otherwise.
Every row also gives the smallest effect its n and spread could detect with 80 % power at the family's strictest
level, and the seeds that its observed effect would need.

    python scripts/write_claims.py                   # results/tables -> results/CLAIMS.md
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from paired_stats import ALPHA, MIN_PAIRS, TTest, holm, min_detectable_effect, pairs_for_power, t_test  # noqa: E402
from ash_curves import swish_gap  # noqa: E402
from run_discovery import ROOT, RUNS, TABLES, Run, find_runs, task_monitors  # noqa: E402

EQUIVALENCE = 0.02  # F-ASH-50 "ReLU-like": |difference| of the final metric within 2 points
KEEP_TOLERANCE = 5.0  # normal approximation "holds": mean |measured - nominal k| below 5 percentage points
Z_ROOM = 2.0  # z "free to move": Adam's largest move lr x lr_scale x steps reaches 2 z units (k from 2 % to 98 %)


@dataclass
class Evidence:
    """One measured row: the paired t summary, the claimed direction and, once the family is judged, the decision.

    sign: +1 the claim says mean > null, -1 mean < null, 0 either side supports it; equivalence: |mean| <= margin.
    """

    what: str
    test: TTest
    sign: int
    null: float = 0.0
    margin: float | None = None
    p_adj: float = math.nan
    side: int | None = None  # +1 supports, -1 contradicts, 0 undecided, None too few seeds
    mde: float = math.nan
    seeds_80: float = math.nan

    @property
    def decidable(self) -> bool:
        return self.test.n >= MIN_PAIRS and math.isfinite(self.p)

    @property
    def p(self) -> float:
        """The row's p-value: two-sided t against `null`, or (equivalence) the better of TOST and outside-margin x 2."""
        if self.margin is None:
            return self.test.p
        return min(1.0, 2 * min(equivalence_p(self.test, self.margin), outside_p(self.test, self.margin)))

    def text(self) -> str:
        t = self.test
        mark = {1: "supports", -1: "contradicts", 0: "undecided", None: f"too few seeds (< {MIN_PAIRS})"}[self.side]
        power = (f"; detectable {_num(self.mde)}, seeds for its effect {_num(self.seeds_80, 'd')}"
                 if math.isfinite(self.mde) else "")
        return (f"{self.what}: {t.mean:+.4g} [{t.lo:+.4g}, {t.hi:+.4g}] (n={t.n}, p_adj={_num(self.p_adj)}{power}) "
                f"({mark})")


def _num(value: float, kind: str = "g") -> str:
    if not math.isfinite(value):
        return "n/a" if math.isnan(value) else ">10000"
    return f"{int(value)}" if kind == "d" else f"{value:.3g}"


def _se(test: TTest) -> float:
    return test.sd / math.sqrt(test.n)


def equivalence_p(test: TTest, margin: float) -> float:
    """TOST p-value of |mean| < margin (paired t)."""
    if test.n < 2:
        return math.nan
    if test.sd == 0:
        return 0.0 if abs(test.mean) < margin else 1.0
    df, se = test.n - 1, _se(test)
    return float(max(stats.t.sf((test.mean + margin) / se, df), stats.t.cdf((test.mean - margin) / se, df)))


def outside_p(test: TTest, margin: float) -> float:
    """One-sided p-value that the mean lies beyond the margin on the side of the observed mean."""
    if test.n < 2:
        return math.nan
    if test.sd == 0:
        return 0.0 if abs(test.mean) > margin else 1.0
    return float(stats.t.sf((abs(test.mean) - margin) / _se(test), test.n - 1))


def judge(evidence: list[Evidence], alpha: float = ALPHA) -> None:
    """Holm over every decidable row of every claim, then each row's side, detectable effect and seeds needed."""
    family = [e for e in evidence if e.decidable]
    for e, p_adj in zip(family, holm([e.p for e in family])):
        e.p_adj = p_adj
    strictest = alpha / max(1, len(family))  # Holm's first step
    for e in evidence:
        t = e.test
        if e.decidable:
            e.side = 0 if not e.p_adj < alpha else _direction(e)
        if t.n >= 2 and t.sd > 0:
            e.mde = min_detectable_effect(t.sd, t.n, strictest)
            e.seeds_80 = pairs_for_power(t.mean - e.null, t.sd, strictest) if e.margin is None else math.nan


def _direction(e: Evidence) -> int:
    if e.margin is not None:
        return 1 if abs(e.test.mean) < e.margin else -1
    return 1 if e.sign == 0 else (1 if (e.test.mean - e.null) * e.sign > 0 else -1)


def combine(sides: list[int | None]) -> str:
    """Reproduced when every row supports the claim; not reproduced when none does and one contradicts it."""
    if not sides:
        return "not measured"
    decided = [s for s in sides if s is not None]
    if not decided:
        return "too few seeds"
    if len(decided) == len(sides) and all(s == 1 for s in decided):
        return "reproduced"
    if any(s == -1 for s in decided) and not any(s == 1 for s in decided):
        return "not reproduced"
    return "inconclusive"


def pick(paired: pd.DataFrame, task: str, metric: str, quantity: str, comparison: str, sign: int,
         model: str = "all", margin: float | None = None) -> Evidence | None:
    """The pooled (or the only model's) row of paired_differences.csv as evidence for the claimed sign."""
    rows = paired[(paired.task == task) & (paired.metric == metric) & (paired.quantity == quantity)
                  & (paired.comparison == comparison)]
    if rows.empty:
        return None
    row = rows[rows.model == model].iloc[0] if (rows.model == model).any() else rows.iloc[0]
    test = TTest(int(row.n_pairs), float(row.mean_diff), float(row.sd_diff), float(row.ci_low), float(row.ci_high),
                 float(row.p_t))
    return Evidence(f"{task} {row.model} {metric} {quantity} {comparison}", test, sign, margin=margin)


@dataclass
class Claim:
    """One claim of the appendix, the figure/table that tests it, its evidence rows and a note."""

    claim: str
    where: str
    evidence: list[Evidence]
    note: str = ""
    comparative: bool = True  # rows compare activations (what scripts/null_check.py shuffles)
    fixed: str | None = None  # a verdict that needs no test (an analytic identity)
    cap: str | None = None  # why the study cannot decide this claim whatever the rows say

    @property
    def verdict(self) -> str:
        if self.fixed:
            return self.fixed
        result = combine([e.side for e in self.evidence])
        return "inconclusive" if self.cap and result in ("reproduced", "not reproduced") else result


def monitors(runs: list[Run]) -> tuple[dict[str, str], dict[str, int]]:
    """Task -> the metric its runs' summaries monitor, and task -> +1 when larger is better there (-1: smaller)."""
    primary = task_monitors(runs)
    modes = {run.task: run.mode(primary[run.task]) for run in runs if run.task in primary}
    return primary, {task: -1 if mode == "min" else 1 for task, mode in modes.items()}


def z_room_note(depth: pd.DataFrame) -> tuple[str, str | None]:
    """The note on z's room and largest move over the ASH runs of `depth`, and the cap when the room is below Z_ROOM."""
    room = depth["z_room"].dropna() if "z_room" in depth else pd.Series(dtype=float)
    moved = depth["max_abs_dz"].dropna() if "max_abs_dz" in depth else pd.Series(dtype=float)
    note = (f"z's room (lr x lr_scale x steps; Adam moves a scalar by about lr per step): median {room.median():.3g}, "
            f"largest abs(z - z_init) per run: median {moved.median():.3g}" if len(room) else "z's room: n/a")
    cap = (f"z could not move: its room is below {Z_ROOM:g} z units (k could not leave "
           f"{100 * stats.norm.sf(room.median()):.0f}-{100 * stats.norm.cdf(room.median()):.0f} %)"
           if len(room) and room.median() < Z_ROOM else None)
    return note, cap


TRANSFORMERS = (("cls", "ViT"), ("lm", "causal LM"))


def transformer_claims(paired: pd.DataFrame, depth: pd.DataFrame, primary: dict[str, str],
                       better: dict[str, int]) -> list[Claim]:
    """Beyond the paper (Figure T1): ASH against the transformers' own GELU and SwiGLU, and z's depth trend, from
    results/tables/transformers/ (the ViT is task cls there, the causal LM task lm)."""
    out = []
    for b, name in (("gelu", "GELU"), ("swiglu", "SwiGLU")):
        rows = [pick(paired, t, primary.get(t), "final", f"ash-{b}", better.get(t, 1)) for t, _ in TRANSFORMERS]
        out.append(Claim(f"Beyond the paper: in transformers ASH ends better than {name} (ViT: val accuracy; causal "
                         "LM: val bits per byte, lower is better)",
                         "Figure T1, tables/transformers/paired_differences (final)", [r for r in rows if r is not None],
                         "one row per transformer"))
    note, cap = z_room_note(depth)
    rows = []
    for task, name in TRANSFORMERS:
        rho = depth.loc[depth.task == task, "spearman_z_depth"].dropna().tolist() if not depth.empty else []
        if rho:
            rows.append(Evidence(f"{name}: Spearman rho(z, block) per ASH run", t_test(rho), 0))
    out.append(Claim("Beyond the paper: learned z differs with depth in transformers (a monotone trend over blocks)",
                     "Figure T1 (z per block), tables/transformers/ash_depth", rows,
                     "either sign supports it; " + note + (f"; verdict capped: {cap}" if cap else ""), comparative=False,
                     cap=cap))
    return out


def claims(paired: pd.DataFrame, depth: pd.DataFrame, primary: dict[str, str],
           better: dict[str, int], transformers: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> list[Claim]:
    """Every claim of the appendix; a claim against two baselines (ReLU and Swish) is two claims, so that a win over
    one and a loss to the other are both visible. `primary`: task -> its monitored metric, `better`: task -> +1 when
    larger is better (both from the run summaries). `transformers`: Figure T1's paired differences and ash_depth,
    whose claims follow the appendix's. The rows are judged together afterwards (`judge`)."""
    out: list[Claim] = []

    def add(claim, where, evidence, note="", **kw):
        out.append(Claim(claim, where, [e for e in evidence if e is not None], note, **kw))

    tasks = ("cls", "seg", "det")
    baselines = (("relu", "ReLU"), ("swish", "Swish"))
    for b, name in baselines:
        add(f"ASH converges earlier than {name} (fewer epochs to 90 % of the final metric)",
            "Figure S1, tables/paired_differences (epochs_to_90)",
            [pick(paired, t, primary.get(t), "epochs_to_90", f"ash-{b}", -1) for t in tasks],
            "one row per task; whole epochs, so many differences are 0")
    add("ASH converges earlier in validation loss than its variants (S8): L-ASH, F-ASH-10/50/90 need more epochs",
        "Figure S8, tables/paired_differences (val/loss epochs_to_90)",
        [pick(paired, t, "val/loss", "epochs_to_90", f"{v}-ash", +1) for t in tasks
         for v in ("lash", "fash10", "fash50", "fash90")])
    for task, name in (("cls", "classification"), ("seg", "segmentation")):
        for b, bname in baselines:
            add(f"ASH reaches a higher final {primary.get(task)} than {bname} in {name}",
                "tables/final_metrics, tables/paired_differences (final)",
                [pick(paired, task, primary.get(task), "final", f"ash-{b}", +1)])
    for b, bname in baselines:
        add(f"Detection: ASH gives better boxes (higher final mAP@0.5) than {bname}", "tables/paired_differences",
            [pick(paired, "det", "val/map_50", "final", f"ash-{b}", +1)])
    add("Detection: ASH loses confidence late in training (larger best - final drop of val/matched_conf than ReLU)",
        "tables/paired_differences (val/matched_conf drop)",
        [pick(paired, "det", "val/matched_conf", "drop", "ash-relu", +1)])
    add("L-ASH converges more slowly than ASH (val loss, epochs to 90 %)", "Figure S8",
        [pick(paired, t, "val/loss", "epochs_to_90", "lash-ash", +1) for t in tasks])
    for v, name in (("fash10", "F-ASH-10"), ("fash90", "F-ASH-90")):
        add(f"{name} plateaus: higher final val loss than ASH", "Figure S8",
            [pick(paired, t, "val/loss", "final", f"{v}-ash", +1) for t in tasks])
    add("Learning z matters: ASH ends better than F-ASH-50 (z fixed at ASH's initial value)",
        "Figure S8, tables/paired_differences (fash50-ash final)",
        [pick(paired, t, primary.get(t), "final", "fash50-ash", -better.get(t, 1)) for t in (*tasks, "gan")],
        "F-ASH-50 minus ASH on each task's primary metric (DCGAN: proxy KID, lower is better)")
    add("F-ASH-50 behaves like ReLU (final metric within +-0.02 of ReLU's)", "Figure S8, tables/paired_differences",
        [pick(paired, t, primary.get(t), "final", "fash50-relu", 0, margin=EQUIVALENCE) for t in tasks],
        f"equivalence: a row supports the claim when its TOST shows abs(difference) < {EQUIVALENCE:g}, contradicts it "
        "when the difference lies significantly outside")
    moved = depth["max_abs_dz"].dropna() if "max_abs_dz" in depth else pd.Series(dtype=float)
    room_note, cap = z_room_note(depth)
    rho = depth["spearman_z_depth"].dropna().tolist() if not depth.empty else []
    add("Learned z differs with depth (Property 1): a monotone trend of z with depth", "Figure S9, tables/ash_depth",
        [Evidence("Spearman rho(z, depth) per ASH run", t_test(rho), 0)] if rho else [],
        "either sign supports it; " + room_note + (f"; verdict capped: {cap}" if cap else ""), cap=cap,
        comparative=False)
    add("z leaves its initial value: the largest abs(z - z_init) of each ASH run", "tables/ash_depth (max_abs_dz, z_room)",
        [Evidence("largest abs(z - z_init) per ASH run", t_test(moved), +1)] if len(moved) else [], room_note,
        comparative=False)
    gaps = depth["keep_gap_mean"].dropna().tolist() if "keep_gap_mean" in depth else []
    add("The normal approximation holds: a layer with threshold mu + z sigma keeps about k = 100 (1 - Phi(z)) % "
        "of its elements", "Figure S9 (c), tables/ash_depth (keep_gap_mean)",
        [Evidence("per-run mean abs(measured - nominal k) (points)", t_test(gaps, null=KEEP_TOLERANCE), -1,
                  null=KEEP_TOLERANCE)] if len(gaps) >= 2 else [],
        f"holds when the mean gap is significantly below {KEEP_TOLERANCE:g} points; largest single-layer gap: " +
        (f"{depth['keep_gap_max'].max():.3g}" if gaps else "n/a"), comparative=False)
    for b, bname in baselines:
        add(f"ASH localises like attention: more Grad-CAM mass on the digit than {bname}",
            "Figure S2, tables/gradcam, tables/paired_differences (cam_on_ink)",
            [pick(paired, "cls", "cam_on_ink", "final", f"ash-{b}", +1)])
    add("DCGAN with ASH reaches a lower (better) final proxy KID than with ReLU", "Figure S6, tables/paired_differences",
        [pick(paired, "gan", "val/proxy_kid", "final", "ash-relu", -1)])
    add("DCGAN trains faster with ASH: fewer epochs than ReLU to 90 % of its own final proxy KID",
        "Figure S6, tables/paired_differences (gan epochs_to_90)",
        [pick(paired, "gan", "val/proxy_kid", "epochs_to_90", "ash-relu", -1)])
    gap = swish_gap(np.linspace(-8, 8, 1601))
    add("Swish is the special case of ASH (alpha = 0.5, threshold 0)", "Figure S7, tests/ash", [],
        f"analytic identity, also checked in tests/ash: max abs(ASH(0.5, 0) - Swish) on [-8, 8] = {gap:.2g}",
        fixed="reproduced" if gap < 1e-6 else "not reproduced", comparative=False)
    if transformers is not None:
        out += transformer_claims(*transformers, primary, better)
    judge([e for c in out for e in c.evidence])
    return out


VERDICTS = ("reproduced", "not reproduced", "inconclusive", "too few seeds", "not measured")


def render(rows: list[Claim], tables: Path) -> str:
    """The Markdown text of CLAIMS.md."""
    shown = tables.relative_to(ROOT) if tables.is_relative_to(ROOT) else tables
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in VERDICTS}
    family = sum(e.decidable for r in rows for e in r.evidence)
    lines = ["# Claims of the appendix at mini scale", "",
             f"Generated by `scripts/write_claims.py` from `{shown}`. Numbers: mean paired difference over seeds "
             "[paired t 95 % interval] (n pairs, p_adj = Holm-adjusted p of the paired t-test over the "
             f"{family} decidable rows of all claims; detectable = the smallest effect the row's n and spread detect "
             f"with 80 % power at the family's strictest level, alpha/{family}; seeds for its effect = the pairs the "
             "observed effect would need for that power); model `all` pools the models.",
             f"Each row with at least {MIN_PAIRS} pairs supports the claim (p_adj < {ALPHA:g}, effect on the claimed "
             "side), contradicts it (p_adj < 0.05, the other side) or is undecided; with fewer pairs it gets no "
             "decision (too few seeds). Verdict: reproduced = every row supports it; not reproduced = none supports it "
             "and one contradicts it; too few seeds = no row has enough pairs; inconclusive = otherwise. The "
             "family-wise error rate over all rows is at most 5 % (Holm); `scripts/null_check.py` checks that on "
             "shuffled activation labels. Mini scale (small models, few epochs, embedded data) says little about the "
             "paper's full-scale numbers.", "",
             "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()), "",
             "| # | claim | tested by | measured | verdict |", "|---|---|---|---|---|"]
    for i, row in enumerate(rows, 1):
        measured = "<br>".join(e.text() for e in row.evidence) or "no runs"
        if row.note:
            measured += f"<br>({row.note})"
        lines.append(f"| {i} | {row.claim} | {row.where} | {measured} | **{row.verdict}** |")
    return "\n".join(lines) + "\n"


def load_claims(tables: Path = TABLES, runs: Path = RUNS) -> list[Claim]:
    """Every claim, judged, from make_tables.py's CSVs and the run summaries (each task's metric and direction)."""
    try:
        paired = pd.read_csv(tables / "paired_differences.csv")
        depth = pd.read_csv(tables / "ash_depth.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError) as e:
        raise SystemExit(f"{e}: run python scripts/make_tables.py first.") from e
    transformers = None
    if (tables / "transformers" / "paired_differences.csv").is_file():  # make_tables.py --study transformers
        transformers = (pd.read_csv(tables / "transformers" / "paired_differences.csv"),
                        pd.read_csv(tables / "transformers" / "ash_depth.csv"))
    return claims(paired, depth, *monitors(find_runs(runs)[0]), transformers)


def main(argv: list[str] | None = None) -> Path:
    """Write CLAIMS.md; returns its path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=Path, default=TABLES, help="folder of make_tables.py's CSVs")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "CLAIMS.md")
    parser.add_argument("--runs", type=Path, default=RUNS, help="run folders whose summaries name each task's metric")
    args = parser.parse_args(argv)
    rows = load_claims(args.tables, args.runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, args.tables))
    print(f"CLAIMS: {args.out} ({', '.join(r.verdict for r in rows)})")
    return args.out


if __name__ == "__main__":
    main()
