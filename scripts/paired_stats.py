"""Statistics of paired differences over seeds."""
from __future__ import annotations

import numpy as np


def bootstrap_ci(diffs: list[float], n_boot: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of paired differences (resampling the pairs); NaN for fewer than 2."""
    values = np.asarray([d for d in diffs if d == d], dtype=float)
    if values.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))
