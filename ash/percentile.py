"""The percent <-> z-score maps of F-ASH-k: z = Phi^-1(1 - k/100), k = 100 * (1 - Phi(z))."""

from __future__ import annotations

import math

import torch

__all__ = ["z_from_k", "k_from_z"]


def z_from_k(k: float) -> float:
    """Return the z-score whose upper tail holds k percent of a normal distribution."""
    k = float(k)
    if not (0.0 < k < 100.0) or math.isnan(k):
        raise ValueError(
            f"k={k!r} is a percentage of elements to keep and must lie in the open range (0, 100); "
            "e.g. k=10 keeps the top 10 % (z=1.2816)"
        )
    p = torch.tensor(1.0 - k / 100.0, dtype=torch.float64)
    return float(torch.special.ndtri(p))


def k_from_z(z: float) -> float:
    """Return the percent of a normal distribution above the z-score z (inverse of z_from_k)."""
    z = float(z)
    if math.isnan(z):
        raise ValueError("z must be a finite number (or +-inf), got nan")
    return 100.0 * 0.5 * math.erfc(z / math.sqrt(2.0))
