"""Shared reading of run folders for the figure, table and claims scripts (they never train).

A run folder is `results/runs/<experiment>/<task>-<data>-<model>-<act>-s<seed>[-<n>]/` with summary.json,
config.yaml and metrics.csv. Only complete runs are used; every other folder is reported by name with why.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tasks.common.completeness import incomplete_reason  # noqa: E402
from tasks.common.results import LOWER_IS_BETTER, read_metrics  # noqa: E402  (pandas only, no torch)

RUNS = ROOT / "results" / "runs"
FIGURES = ROOT / "results" / "figures"
TABLES = ROOT / "results" / "tables"

# The appendix's order of activations; colours fixed per activation so every figure reads the same.
ACT_ORDER = ["relu", "lrelu", "prelu", "elu", "softplus", "gelu", "selu", "swish", "ash",
             "lash", "fash10", "fash50", "fash90"]
ACT_LABELS = {"relu": "ReLU", "lrelu": "LReLU", "prelu": "PReLU", "elu": "ELU", "softplus": "SoftPlus",
              "gelu": "GELU", "selu": "SELU", "swish": "Swish", "ash": "ASH", "lash": "L-ASH"}
ACT_COLORS = {"relu": "#1f77b4", "lrelu": "#aec7e8", "prelu": "#9467bd", "elu": "#8c564b", "softplus": "#e377c2",
              "gelu": "#7f7f7f", "selu": "#bcbd22", "swish": "#2ca02c", "ash": "#d62728", "lash": "#ff7f0e",
              "fash10": "#17becf", "fash50": "#1f3f7f", "fash90": "#ff9896"}
# The metric each task is judged by (higher is better), as in Figure S1.
TASK_METRIC = {"cls": "val/acc", "seg": "val/miou", "det": "val/map_50", "gan": "val/proxy_kid"}
TASK_LABELS = {"cls": "classification", "seg": "segmentation", "det": "detection", "gan": "generation"}
METRIC_LABELS = {"val/acc": "val accuracy", "val/miou": "val mIoU", "val/map_50": "val mAP@0.5",
                 "val/proxy_kid": "val proxy KID", "val/loss": "val loss", "train/loss": "train loss"}


def act_label(act: str) -> str:
    """Display name of an activation config name (fash10 -> F-ASH-10)."""
    return f"F-ASH-{act[4:]}" if act.startswith("fash") else ACT_LABELS.get(act, act)


def act_color(act: str) -> str:
    """The fixed colour of an activation (grey for one the suite does not know)."""
    return ACT_COLORS.get(act, "#444444")


def act_order(act: str) -> tuple[int, str]:
    """Sort key: the appendix's order, unknown activations last by name."""
    return (ACT_ORDER.index(act), "") if act in ACT_ORDER else (len(ACT_ORDER), act)


def lower_is_better(metric: str) -> bool:
    """Losses, FID and KID: smaller is better."""
    return any(word in metric for word in LOWER_IS_BETTER)


@dataclass
class RunRef:
    """A chosen run's folder and identity (figure scripts add what they read from it)."""

    folder: Path
    model: str
    act: str
    data: str
    seed: int


@dataclass
class Run:
    """A complete run: its folder, identity and files read on demand."""

    folder: Path
    summary: dict
    _metrics: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def experiment(self) -> str:
        return str(self.summary.get("experiment", self.folder.parent.name))

    task = property(lambda self: str(self.summary["task"]))
    data = property(lambda self: str(self.summary["data"]))
    model = property(lambda self: str(self.summary["model"]))
    act = property(lambda self: str(self.summary["act"]))
    seed = property(lambda self: int(self.summary.get("seed", 0)))

    @property
    def metrics(self) -> pd.DataFrame:
        """metrics.csv, one row per epoch (Lightning's step and epoch rows merged)."""
        if self._metrics is None:
            self._metrics = read_metrics(self.folder)
        return self._metrics

    def config(self) -> dict:
        """The run's resolved config.yaml."""
        return yaml.safe_load((self.folder / "config.yaml").read_text()) or {}


def read_keep(run: Run) -> list[dict]:
    """analysis/ash_keep.json layers (nominal k and measured_k in %), or [] when absent or unreadable."""
    try:
        return json.loads((run.folder / "analysis" / "ash_keep.json").read_text())["layers"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _read_summary(folder: Path) -> tuple[dict | None, str]:
    """summary.json of a folder, else None and why it cannot be read."""
    try:
        return json.loads((folder / "summary.json").read_text()), ""
    except json.JSONDecodeError as e:
        return None, f"summary.json is unreadable (corrupt JSON: {e.msg})"
    except OSError as e:
        return None, f"summary.json is unreadable ({e.strerror})"


def _problem(folder: Path, summary: dict, need: tuple[str, ...]) -> tuple[str, pd.DataFrame | None]:
    """Why a run folder cannot be used ('' when it can), and its metrics when `need` has metrics.csv."""
    status = summary.get("status")
    if status != "complete":
        return f"status is {status!r}, not 'complete'", None
    missing = [name for name in need if not (folder / name).is_file()]
    if missing:
        return f"missing {', '.join(missing)}", None
    lacking = [key for key in ("task", "data", "model", "act") if key not in summary]
    if lacking:
        return f"summary.json lacks {', '.join(lacking)}", None
    if reason := incomplete_reason(folder, summary):
        return f"not finished: {reason}", None
    if "metrics.csv" in need:
        try:
            return "", read_metrics(folder)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            return f"corrupt metrics.csv ({type(e).__name__})", None
    return "", None


def find_runs(runs_root: Path = RUNS, experiment: str | list[str] | None = None, task: str | None = None,
              need: tuple[str, ...] = ("config.yaml", "metrics.csv"),
              check: Callable[[Path, dict], str] | None = None) -> tuple[list[Run], list[str]]:
    """Complete runs under runs_root (optionally some experiments / one task), and `<folder>: <reason>` per skip.

    `need` lists files every used run must have; `check(folder, summary)` returns a further reason to skip ('' = ok).
    """
    wanted = {experiment} if isinstance(experiment, str) else set(experiment or [])
    runs, skipped = [], []
    for summary_path in sorted(Path(runs_root).glob("*/*/summary.json")):
        folder = summary_path.parent
        if wanted and folder.parent.name not in wanted:
            continue
        summary, problem = _read_summary(folder)
        metrics = None
        if summary is not None:
            if task and summary.get("task") != task:
                continue
            problem, metrics = _problem(folder, summary, need)
            problem = problem or (check(folder, summary) if check else "")
        if problem:
            skipped.append(f"{folder}: {problem}")
        else:
            runs.append(Run(folder, summary, metrics))
    return runs, skipped


def report_skipped(skipped: list[str], stream=None) -> None:
    """Print every skipped folder with its reason, then their count (to stderr by default)."""
    stream = stream or sys.stderr
    for line in skipped:
        print(f"skipped {line}", file=stream)
    if skipped:
        print(f"{len(skipped)} run folder(s) skipped", file=stream)


def save_figure(fig: plt.Figure, out_stem: Path) -> list[Path]:
    """Write `<out_stem>.png` (150 dpi) and `.pdf`, close the figure, return both paths."""
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = [out_stem.with_name(out_stem.name + ".png"), out_stem.with_name(out_stem.name + ".pdf")]
    # Fixed metadata: `make figures` then rewrites byte-identical files from the same results.
    fig.savefig(written[0], dpi=150, metadata={"Software": None})
    fig.savefig(written[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return written


def newest_per_seed(runs: list[Run]) -> list[Run]:
    """One run per experiment, task, data, model, act, seed: the newest folder suffix (`-<n>`) wins."""
    chosen: dict[tuple, Run] = {}
    for run in sorted(runs, key=lambda r: (_suffix(r.folder.name), str(r.folder))):
        chosen[(run.experiment, run.task, run.data, run.model, run.act, run.seed)] = run
    return list(chosen.values())


def _suffix(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0  # `...-s<seed>` has none, `...-s<seed>-<n>` has n


def lowest_seed_last(runs) -> list:
    """Runs ordered so that, keeping the last per cell, the lowest seed and then the newest repeat win."""
    return sorted(runs, key=lambda r: (-r.seed, _suffix(r.folder.name), str(r.folder)))


def progress_curve(run: Run, column: str) -> pd.Series:
    """`column` per epoch indexed by % of training (epoch e of E -> 100 (e+1) / E); empty if never logged."""
    df = run.metrics
    if column not in df.columns or "epoch" not in df.columns:
        return pd.Series(dtype=float)
    values = df[["epoch", column]].dropna()
    # summary.json's epochs is the trained count; metrics.csv's last epoch may be a test row after training
    epochs = int(run.summary.get("epochs") or df["epoch"].max() + 1)
    return pd.Series(values[column].to_numpy(float), index=100.0 * (values["epoch"].to_numpy() + 1) / epochs)


def mean_std_curve(runs: list[Run], column: str) -> pd.DataFrame:
    """Mean, std and n of `column` over runs at each % of training (columns x, mean, std, n)."""
    curves = [progress_curve(run, column) for run in runs]
    curves = [c for c in curves if not c.empty]
    if not curves:
        return pd.DataFrame(columns=["x", "mean", "std", "n"])
    long = pd.concat([pd.DataFrame({"x": c.index.round(1), "v": c.to_numpy()}) for c in curves])
    out = long.groupby("x")["v"].agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"count": "n"}).fillna({"std": 0.0})


def epochs_to_90(values: list[float], metric: str) -> float:
    """1-based first epoch reaching 90 % of the final value (losses: 90 % of the way from the first to the final)."""
    if not values:
        return float("nan")
    final = values[-1]
    if lower_is_better(metric):
        target = final + 0.1 * (values[0] - final)
        hits = [i for i, v in enumerate(values) if v <= target]
    else:
        hits = [i for i, v in enumerate(values) if v >= 0.9 * final]
    return float(hits[0] + 1) if hits else float(len(values))


def metric_series(run: Run, metric: str) -> list[float]:
    """The per-epoch values of `metric` in a run's metrics.csv (empty if absent)."""
    df = run.metrics
    return [float(v) for v in df[metric].dropna()] if metric in df.columns else []


def bootstrap_ci(diffs: list[float], n_boot: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of paired differences (resampling the pairs); NaN for fewer than 2."""
    import numpy as np

    values = np.asarray([d for d in diffs if d == d], dtype=float)
    if values.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def common_args(description: str, default_experiments: list[str] | None, out_name: str | None = None):
    """The argument parser every figure/table script shares: --runs, --experiment, --out."""
    import argparse

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
