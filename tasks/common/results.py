"""The files of a run folder: config.yaml, summary.json (atomic, with a status) and metrics.csv reading."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from omegaconf import DictConfig, OmegaConf

SUMMARY = "summary.json"
CONFIG = "config.yaml"
METRICS = "metrics.csv"
STATUSES = ("running", "complete", "failed", "interrupted")
LOWER_IS_BETTER = ("loss", "fid", "kid")  # metric names containing these: the best value is the minimum
_PACKAGES = ("torch", "torchvision", "pytorch-lightning", "torchmetrics", "hydra-core", "timm",
             "segmentation-models-pytorch", "numpy", "ash-activation")


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """`write(tmp)` a temporary file beside `path`, then rename it: readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o644)  # mkstemp makes files private; results are meant to be shared
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file atomically (and durably: fsync before the rename)."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)



def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def write_json(path: Path, data: dict) -> None:
    """Atomically write `data` as indented JSON (non-finite floats as strings)."""
    atomic_write_text(path, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")


def write_config(run_dir: Path, cfg: DictConfig) -> None:
    """Save the fully resolved config: re-running it repeats the run."""
    atomic_write_text(run_dir / CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


def read_summary(run_dir: Path) -> dict:
    """Read a run's summary.json (ValueError naming the file if it is not valid JSON)."""
    path = Path(run_dir) / SUMMARY
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); the checkpoints beside it are untouched: move it aside "
                         "and resume=<its folder> to rebuild it.") from None


def update_summary(run_dir: Path, /, **fields: Any) -> dict:
    """Merge `fields` into summary.json (created if absent) and write it atomically."""
    path = Path(run_dir) / SUMMARY
    data = read_summary(run_dir) if path.exists() else {}
    data.update(fields)
    if "status" in fields and fields["status"] not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {fields['status']!r}")
    write_json(path, data)
    return data


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """metrics.csv with one row per epoch (Lightning writes step and epoch rows separately)."""
    path = Path(run_dir) / METRICS
    if not path.exists():  # fast_dev_run logs nothing
        return pd.DataFrame()
    df = pd.read_csv(path)
    if "epoch" not in df.columns or df.empty:
        return df
    return df.groupby("epoch", as_index=False).agg(lambda s: s.dropna().iloc[-1] if s.notna().any() else float("nan"))


def best_and_final(df: pd.DataFrame) -> tuple[dict, dict]:
    """Final (last epoch) and best value of every val/ and test/ metric; min for losses, FID, KID, max otherwise."""
    final, best = {}, {}
    for col in df.columns:
        if not col.startswith(("val/", "test/", "train/")) or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        series = df[col].dropna()
        if series.empty:
            continue
        final[col] = float(series.iloc[-1])
        if col.startswith("val/"):
            lower_is_better = any(word in col for word in LOWER_IS_BETTER)
            best[col] = float(series.min() if lower_is_better else series.max())
    return final, best


def git_commit(root: Path) -> str | None:
    """The commit of the code that ran (with `+dirty` for uncommitted changes), or None outside git.

    Changes under results/ do not count as dirty: a sweep that rewrites committed run folders still
    ran the committed code.
    """
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"],
                               cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a result depends on."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions
