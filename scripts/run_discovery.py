"""Finding the run folders the figure, table and claims scripts use (they never train).

A run folder is `results/runs/<experiment>/<task>-<data>-<model>-<act>-s<seed>[-<n>]/`; its files are
named and read by tasks/common/run_record.py. Only complete runs are used; every other folder is
reported by name with why.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tasks.common.completeness import incomplete_reason  # noqa: E402
from tasks.common.run_record import (ANALYSIS, CONFIG, METRICS, SUMMARY, metric_mode,  # noqa: E402  (no torch)
                                     read_metrics)

RUNS = ROOT / "results" / "runs"
FIGURES = ROOT / "results" / "figures"
TABLES = ROOT / "results" / "tables"


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

    def mode(self, metric: str) -> str:
        """'min' or 'max': the direction the run's summary.json records for `metric`."""
        return metric_mode(self.summary, metric)

    def config(self) -> dict:
        """The run's resolved config.yaml."""
        return yaml.safe_load((self.folder / CONFIG).read_text()) or {}


def task_monitors(runs: Iterable[Run]) -> dict[str, str]:
    """Task -> the metric its runs' summaries name as `monitor` (the most common one per task)."""
    counts: dict[str, Counter] = {}
    for run in runs:
        if run.summary.get("monitor"):
            counts.setdefault(run.task, Counter())[run.summary["monitor"]] += 1
    return {task: count.most_common(1)[0][0] for task, count in counts.items()}


def read_keep(run: Run) -> list[dict]:
    """analysis/ash_keep.json layers (nominal k and measured_k in %), or [] when absent or unreadable."""
    try:
        return json.loads((run.folder / ANALYSIS / "ash_keep.json").read_text())["layers"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _read_summary(folder: Path) -> tuple[dict | None, str]:
    """summary.json of a folder, else None and why it cannot be read."""
    try:
        return json.loads((folder / SUMMARY).read_text()), ""
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
    if METRICS in need:
        try:
            return "", read_metrics(folder)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            return f"corrupt metrics.csv ({type(e).__name__})", None
    return "", None


def find_runs(runs_root: Path = RUNS, experiment: str | list[str] | None = None, task: str | None = None,
              need: tuple[str, ...] = (CONFIG, METRICS),
              check: Callable[[Path, dict], str] | None = None) -> tuple[list[Run], list[str]]:
    """Complete runs under runs_root (optionally some experiments / one task), and `<folder>: <reason>` per skip.

    `need` lists files every used run must have; `check(folder, summary)` returns a further reason to skip ('' = ok).
    """
    wanted = {experiment} if isinstance(experiment, str) else set(experiment or [])
    runs, skipped = [], []
    for summary_path in sorted(Path(runs_root).glob(f"*/*/{SUMMARY}")):
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
