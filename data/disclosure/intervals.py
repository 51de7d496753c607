"""Confidence intervals of published means (the t quantile without scipy)."""
from __future__ import annotations

import math

import numpy as np


def t_quantile_975(df: np.ndarray) -> np.ndarray:
    """Two-sided 95 % Student t quantile (Cornish-Fisher expansion; < 0.1 % off for df >= 5)."""
    z = 1.959963984540054
    df = np.asarray(df, float)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci(mean, sd, n, lower: float = -math.inf, upper: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """95 % confidence interval of a mean from its standard deviation and count (n >= 2),
    clipped to the scale [lower, upper]."""
    mean, sd, n = (np.asarray(v, float) for v in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t_quantile_975(n - 1) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return np.clip(mean - half, lower, upper), np.clip(mean + half, lower, upper)
