"""Statistics of paired differences (one difference per seed) that stay valid with few pairs.

- `t_test`: the paired t interval and two-sided p-value of H0 "mean difference = null" (exact for normal
  differences at any n >= 2; a bootstrap of 3 pairs is not: its 95 % interval is about [min, max]).
- `sign_flip_p`: the exact sign-flip permutation p-value (no normality needed; its smallest value is 2 / 2^n).
- `holm`: Holm's step-down adjustment, which controls the family-wise error rate over many claims.
- `power` / `min_detectable_effect` / `pairs_for_power`: the noncentral-t power of the paired t-test.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

MIN_PAIRS = 6  # below this a row reads "too few seeds"; 6 is also where a sign-flip test first reaches p < 0.05
ALPHA = 0.05
POWER = 0.8


def finite(values) -> np.ndarray:
    """The finite values as a float array."""
    array = np.asarray(list(values), dtype=float)
    return array[np.isfinite(array)]


@dataclass(frozen=True)
class TTest:
    """Paired t summary of differences: n, mean, sd, the (1 - alpha) interval and the two-sided p against `null`."""

    n: int
    mean: float
    sd: float
    lo: float
    hi: float
    p: float


def t_test(diffs, null: float = 0.0, level: float = 1 - ALPHA) -> TTest:
    """Paired t interval and p-value; with identical differences (sd 0) the p-value is the sign-flip one."""
    d = finite(diffs)
    n = int(d.size)
    if n < 2:
        mean = float(d.mean()) if n else math.nan
        return TTest(n, mean, math.nan, math.nan, math.nan, math.nan)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):  # identical up to rounding  # t is undefined; every pair agrees, which the exact sign-flip test scores
        p = 1.0 if math.isclose(mean, null, abs_tol=1e-12) else sign_flip_p(d - null)
        return TTest(n, mean, 0.0, mean, mean, p)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    t = (mean - null) / (sd / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(t), n - 1))
    return TTest(n, mean, sd, mean - half, mean + half, p)


def sign_flip_p(diffs, max_exact: int = 16, draws: int = 100_000, seed: int = 0) -> float:
    """Two-sided p of H0 "differences symmetric about 0": the share of sign flips with |mean| >= the observed one."""
    d = finite(diffs)
    if d.size == 0:
        return math.nan
    observed = abs(d.mean()) - 1e-12 * max(1.0, abs(d).max())
    if d.size <= max_exact:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(draws, d.size))
    return float(np.mean(np.abs(signs @ d / d.size) >= observed))


def holm(pvalues) -> list[float]:
    """Holm-adjusted p-values (NaN stays NaN and is not counted in the family)."""
    p = np.asarray(list(pvalues), dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    adjusted = np.full(p.shape, math.nan)
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test at level alpha for a true mean difference `effect`."""
    if n < 2 or not sd > 0:
        return math.nan
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    nc = abs(effect) * math.sqrt(n) / sd
    value = float(stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc))
    return value if math.isfinite(value) else float(nc > crit)  # scipy's nct gives NaN far in the tail


def min_detectable_effect(sd: float, n: int, alpha: float = ALPHA, target: float = POWER) -> float:
    """The smallest |mean difference| the paired t-test detects with `target` power at n pairs and this sd."""
    if n < 2 or not sd > 0:
        return math.nan
    high = sd
    while power(high, sd, n, alpha) < target:
        if high > 1e6 * sd:
            return math.inf
        high *= 4
    return float(optimize.brentq(lambda e: power(e, sd, n, alpha) - target, 0.0, high))


def pairs_for_power(effect: float, sd: float, alpha: float = ALPHA, target: float = POWER,
                    most: int = 10_000) -> float:
    """Pairs needed to detect `effect` with `target` power (inf when the effect is 0 or needs more than `most`)."""
    if not sd > 0 or not math.isfinite(effect):
        return math.nan
    if effect == 0:
        return math.inf
    if power(effect, sd, 2, alpha) >= target:
        return 2.0
    lo, hi = 2, 4  # power rises with n: double to bracket, then bisect
    while power(effect, sd, hi, alpha) < target:
        if hi >= most:
            return math.inf
        lo, hi = hi, min(2 * hi, most)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if power(effect, sd, mid, alpha) < target else (lo, mid)
    return float(hi)
