"""A metric over training, from a run's metrics.csv: per-epoch series, curves against % of training,
their mean over runs, and the epoch at which a run reaches 90 % of its final value."""
from __future__ import annotations

import pandas as pd

from run_discovery import Run
from tasks.common.run_record import default_mode


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


def epochs_to_90(values: list[float], metric: str, mode: str | None = None) -> float:
    """1-based first epoch reaching 90 % of the final value (mode 'min': 90 % of the way from the first to the final).

    `mode` is the run's recorded direction of `metric` (Run.mode); without it, that of a run recorded without one.
    """
    if not values:
        return float("nan")
    final = values[-1]
    if (mode or default_mode(metric)) == "min":
        target = final + 0.1 * (values[0] - final)
        hits = [i for i, v in enumerate(values) if v <= target]
    else:
        hits = [i for i, v in enumerate(values) if v >= 0.9 * final]
    return float(hits[0] + 1) if hits else float(len(values))


def metric_series(run: Run, metric: str) -> list[float]:
    """The per-epoch values of `metric` in a run's metrics.csv (empty if absent)."""
    df = run.metrics
    return [float(v) for v in df[metric].dropna()] if metric in df.columns else []
