"""ASH's analytic curves with a fixed threshold (numpy only): eq. A4, its hard limit A2, and the Swish identity."""
from __future__ import annotations

import numpy as np


def ash_curve(x: np.ndarray, alpha: float, theta: float) -> np.ndarray:
    """Eq. A4 with a fixed threshold theta."""
    return x / (1.0 + np.exp(-2.0 * alpha * (x - theta)))


def hard_curve(x: np.ndarray, theta: float) -> np.ndarray:
    """Eq. A2: x H(x - theta)."""
    return x * (x > theta)


def swish_gap(x: np.ndarray) -> float:
    """max |ASH(alpha=0.5, theta=0) - Swish| on x: ASH contains Swish as a special case."""
    return float(np.max(np.abs(ash_curve(x, 0.5, 0.0) - x / (1.0 + np.exp(-x)))))
