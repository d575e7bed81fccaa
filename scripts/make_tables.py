"""Tables of the reproduction (Markdown + CSV in results/tables/), from complete run folders only:

- final_metrics: per task x data x model x activation and metric, the final and best value as mean +- std over
  seeds (n and the seeds listed) and the epochs to reach 90 % of the final value (losses: 90 % of the way from the
  first to the final value).
- paired_differences: per task x data x model (and pooled over models, model = all), paired by seed, the mean
  difference ASH - ReLU and ASH - Swish (and the S8 variants against ASH, F-ASH-50 against ReLU) of the final
  value and of the epochs to 90 %, with the paired t 95 % interval and p-values (t and exact sign-flip) over the
  pairs (scripts/paired_stats.py; valid at few pairs, unlike a bootstrap).
- ash_depth: per ASH run, the Spearman correlation of the learned z with depth and the spread of z (Property 1),
  the largest |z - z_init| against the room Adam gave it (lr x act.lr_scale x steps), and how far the share of elements each layer keeps on validation data is from its nominal k (analysis artefact).
- gradcam: per cls run with analysis/gradcam.json, the share of CAM mass on the digit's ink.

    python scripts/make_tables.py                    # the mini experiments -> results/tables/
    python scripts/make_tables.py --study transformers   # Figure T1's runs -> results/tables/transformers/
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cli import common_args, experiments_of  # noqa: E402
from curves import epochs_to_90, metric_series  # noqa: E402
from paired_stats import sign_flip_p, t_test  # noqa: E402
from palette import act_order  # noqa: E402
from run_discovery import Run, find_runs, newest_per_seed, read_keep, report_skipped  # noqa: E402
from tasks.common.run_record import ANALYSIS  # noqa: E402

EXPERIMENTS = ["fig_s1_cls", "fig_s1_seg", "fig_s1_det", "fig_s6_gan", "fig_s8_variants"]
METRICS = {"cls": ["val/acc", "val/loss"], "seg": ["val/miou", "val/loss"],
           "det": ["val/map_50", "val/map", "val/map_75", "val/matched_conf", "val/loss"], "gan": ["val/proxy_kid"],
           "lm": ["val/bpb", "val/loss"]}
COMPARISONS = [("ash", "relu"), ("ash", "swish"), ("lash", "ash"), ("fash10", "ash"), ("fash50", "ash"),
               ("fash90", "ash"), ("fash50", "relu")]
# Beyond the paper (Figure T1): transformers, tabled apart (results/tables/transformers/) so that the ViT's cls runs
# never join the pooled rows of the appendix's CNNs; GELU and SwiGLU are the transformers' own baselines.
TRANSFORMER_EXPERIMENTS = ["fig_t1_transformers"]
TRANSFORMER_COMPARISONS = [("ash", "gelu"), ("ash", "swiglu"), ("ash", "relu"), ("ash", "swish"), ("fash50", "ash")]


def is_transformer_study(experiment: str) -> bool:
    """Runs of Figure T1 (mini or full) belong to the transformer study."""
    return experiment.startswith("fig_t1_")
KEY = ["task", "data", "model"]


def run_values(runs: list[Run]) -> pd.DataFrame:
    """One row per run and metric: final, best, epochs_to_90 and the late drop (best - final)."""
    rows = []
    for run in runs:
        for metric in METRICS.get(run.task, []):
            series = metric_series(run, metric)
            final = (run.summary.get("final") or {}).get(metric, series[-1] if series else None)
            best = (run.summary.get("best") or {}).get(metric)
            if final is None or isinstance(final, str):
                continue
            if best is None or isinstance(best, str):
                best = final
            rows.append({"experiment": run.experiment, "task": run.task, "data": run.data, "model": run.model,
                         "act": run.act, "seed": run.seed, "metric": metric, "final": float(final),
                         "best": float(best), "epochs_to_90": epochs_to_90(series, metric, run.mode(metric)),
                         "drop": float(best) - float(final), "folder": run.folder.name})
    return pd.DataFrame(rows)


def summarise(values: pd.DataFrame) -> pd.DataFrame:
    """Mean +- std over seeds per experiment x task x data x model x act x metric."""
    groups = values.groupby(["experiment", *KEY, "act", "metric"])
    table = groups.agg(n=("seed", "count"), final_mean=("final", "mean"), final_std=("final", "std"),
                       best_mean=("best", "mean"), best_std=("best", "std"),
                       epochs_to_90_mean=("epochs_to_90", "mean"), epochs_to_90_std=("epochs_to_90", "std"))
    table["seeds"] = groups["seed"].apply(lambda s: " ".join(str(v) for v in sorted(s)))
    table = table.reset_index()
    return table.sort_values(["experiment", "task", "data", "model", "metric", "act"],
                             key=lambda c: c.map(act_order) if c.name == "act" else c).reset_index(drop=True)


def pairs(part: pd.DataFrame, a: str, b: str, quantity: str) -> pd.DataFrame:
    """Rows model, seed, diff of `a - b`: each run of `a` against `b` of the same model and seed, from the same
    experiment if it has one, else from another experiment of the same task and data (S8's F-ASH-50 vs S1's ReLU)."""
    first = lambda df: df.dropna(subset=[quantity]).drop_duplicates(["experiment", "model", "seed"])  # noqa: E731
    left, right = first(part[part.act == a]), first(part[part.act == b])
    same = left.merge(right, on=["experiment", "model", "seed"], suffixes=("_a", "_b"))
    # Borrow only for (model, seed) cells that no experiment pairs by itself: no run is counted twice.
    rest = left[~left.set_index(["model", "seed"]).index.isin(same.set_index(["model", "seed"]).index)]
    rest = rest.drop_duplicates(["model", "seed"])
    other = rest.merge(right.sort_values("experiment").drop_duplicates(["model", "seed"]), on=["model", "seed"],
                       suffixes=("_a", "_b"))
    both = pd.concat([same, other], ignore_index=True)
    return pd.DataFrame({"model": both["model"], "seed": both["seed"],
                         "diff": both[f"{quantity}_a"] - both[f"{quantity}_b"]})


def paired(values: pd.DataFrame, comparisons: list[tuple[str, str]] = COMPARISONS) -> pd.DataFrame:
    """Paired-by-seed differences a - b with the paired t 95 % interval and p-values, per model and pooled."""
    rows = []
    for (task, data, metric), part in values.groupby(["task", "data", "metric"]):
        for a, b in comparisons:
            for quantity in ("final", "epochs_to_90", "drop"):
                if quantity == "drop" and metric != "val/matched_conf":
                    continue
                diffs = pairs(part, a, b, quantity)
                models = sorted(diffs["model"].unique())
                for model in [*models, *(["all"] if len(models) > 1 else [])]:
                    values_ = (diffs if model == "all" else diffs[diffs.model == model])["diff"].tolist()
                    test = t_test(values_)
                    rows.append({"task": task, "data": data, "model": model, "metric": metric, "quantity": quantity,
                                 "comparison": f"{a}-{b}", "n_pairs": test.n, "mean_diff": test.mean,
                                 "sd_diff": test.sd, "ci_low": test.lo, "ci_high": test.hi, "p_t": test.p,
                                 "p_sign_flip": sign_flip_p(values_)})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


PAIRED_COLUMNS = ["task", "data", "model", "metric", "quantity", "comparison", "n_pairs", "mean_diff", "sd_diff",
                  "ci_low", "ci_high", "p_t", "p_sign_flip"]


def z_room(run: Run) -> tuple[float, float]:
    """The initial z and the largest move Adam allows a scalar: lr x act.lr_scale x optimiser steps (NaN if unknown)."""
    config = run.config()
    act, optim = config.get("act") or {}, (config.get("optim") or {}).get("optimizer") or {}
    steps = run.summary.get("global_steps")
    if steps is not None and run.task == "gan":
        steps /= 2  # manual optimisation: global_steps counts the D and the G steps
    if steps is None or "lr" not in optim:
        return float(act.get("z", 0.0)), float("nan")
    return float(act.get("z", 0.0)), float(optim["lr"]) * float(act.get("lr_scale", 1.0)) * float(steps)


def ash_depth(runs: list[Run]) -> pd.DataFrame:
    """Per ASH run: number of layers, Spearman rho(z, depth), z range and std, the largest |z - z_init| and the room
    lr x lr_scale x steps that Adam gave z, and the mean and largest gap |measured - nominal k| in percentage points
    over the layers (NaN without analysis/ash_keep.json)."""
    rows = []
    for run in runs:
        layers = [r for r in run.summary.get("ash_layers") or [] if isinstance(r, dict) and "z" in r]
        if run.act != "ash" or len(layers) < 3:
            continue
        z = pd.Series([r["z"] for r in layers], dtype=float)
        depth = pd.Series([r["depth"] for r in layers], dtype=float)
        rho = z.rank().corr(depth.rank())
        z_init, room = z_room(run)
        gaps = [abs(r["measured_k"] - r["k"]) for r in read_keep(run)
                if isinstance(r.get("measured_k"), (int, float)) and isinstance(r.get("k"), (int, float))]
        rows.append({"task": run.task, "data": run.data, "model": run.model, "seed": run.seed, "layers": len(layers),
                     "spearman_z_depth": float(rho) if rho == rho else float("nan"),
                     "z_range": float(z.max() - z.min()), "z_std": float(z.std()),
                     "max_abs_dz": float((z - z_init).abs().max()), "z_room": room,
                     "keep_gap_mean": float(np.mean(gaps)) if gaps else float("nan"),
                     "keep_gap_max": float(np.max(gaps)) if gaps else float("nan")})
    return pd.DataFrame(rows, columns=["task", "data", "model", "seed", "layers", "spearman_z_depth", "z_range",
                                       "z_std", "max_abs_dz", "z_room", "keep_gap_mean", "keep_gap_max"])


def gradcam_table(runs: list[Run]) -> pd.DataFrame:
    """Per cls run with a Grad-CAM artefact: share of CAM mass on ink and the ink's share of the image."""
    rows = []
    for run in runs:
        path = run.folder / ANALYSIS / "gradcam.json"
        if run.task != "cls" or not path.is_file():
            continue
        try:
            info = json.loads(path.read_text())
        except ValueError:
            print(f"skipped {path}: corrupt JSON", file=sys.stderr)
            continue
        rows.append({"experiment": run.experiment, "task": run.task, "data": run.data, "model": run.model,
                     "act": run.act, "seed": run.seed, "metric": "cam_on_ink", "final": info["mass_on_ink"],
                     "epochs_to_90": float("nan"), "ink_share": info["ink_share"]})
    return pd.DataFrame(rows, columns=["experiment", "task", "data", "model", "act", "seed", "metric", "final",
                                       "epochs_to_90", "ink_share"])


def with_cams(values: pd.DataFrame, cams: pd.DataFrame) -> pd.DataFrame:
    """The per-run values that paired() compares: the metrics and, where analysed, the Grad-CAM mass on ink."""
    return pd.concat([values, cams.drop(columns="ink_share")], ignore_index=True) if not cams.empty else values


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def write_table(df: pd.DataFrame, out: Path, title: str, note: str) -> list[Path]:
    """`<out>.csv` and `<out>.md` (a title, a note and a pipe table)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    lines = [f"# {title}", "", note, ""]
    if df.empty:
        lines.append("(no rows)")
    else:
        lines += ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
        lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return [out.with_suffix(".csv"), out.with_suffix(".md")]


def tabled_runs(args) -> tuple[list[Run], list[str]]:
    """The newest complete run per seed of --experiment under --runs (skips reported), or SystemExit if none."""
    runs, skipped = find_runs(args.runs, experiments_of(args))
    report_skipped(skipped)
    runs = newest_per_seed(runs)
    if not runs:
        raise SystemExit(f"No complete runs under {args.runs} for {args.experiment}: run the sweeps first.")
    return runs, skipped


def main(argv: list[str] | None = None) -> list[Path]:
    """Write every table; returns the files written."""
    parser = common_args(__doc__, EXPERIMENTS)
    parser.add_argument("--study", choices=("appendix", "transformers"), default="appendix",
                        help="transformers: Figure T1's runs and comparisons, written to <out>/transformers/")
    args = parser.parse_args(argv)
    comparisons = COMPARISONS
    if args.study == "transformers":
        comparisons = TRANSFORMER_COMPARISONS
        args.experiment = TRANSFORMER_EXPERIMENTS if args.experiment == EXPERIMENTS else args.experiment
        args.out = args.out / "transformers"
    runs, skipped = tabled_runs(args)
    runs = [r for r in runs if is_transformer_study(r.experiment) == (args.study == "transformers")]
    values = run_values(runs)
    cams = gradcam_table(runs)
    source = (f"From {len(runs)} complete run(s) of {', '.join(args.experiment or ['all experiments'])} "
              f"under {args.runs.name}/; {len(skipped)} run folder(s) skipped (not complete, corrupt or missing "
              "files; named by the script). Same recipe for every activation; all seeds reported, no best-of-N.")
    written = write_table(summarise(values), args.out / "final_metrics",
                          "Final and best metrics (mean +- std over seeds)", source)
    written += write_table(paired(with_cams(values, cams), comparisons), args.out / "paired_differences",
                           "Paired differences by seed (paired t 95 % interval)",
                           source + " final: final-epoch value; epochs_to_90: epochs to 90 % of the final value; "
                           "drop: best - final (late loss); model = all pools the pairs of every model.")
    written += write_table(ash_depth(runs), args.out / "ash_depth", "Learned z against depth per ASH run", source)
    written += write_table(cams, args.out / "gradcam", "Grad-CAM mass on the digit's ink", source)
    print(f"Tables ({len(runs)} runs, {len(skipped)} skipped): {args.out}")
    return written


if __name__ == "__main__":
    main()
