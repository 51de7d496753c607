"""Score histograms: a published mean of 1..5 scores, its count and its interval must not pin
the histogram of answers (``protect_ci`` rounds the interval outwards until they do not)."""
from __future__ import annotations

import math

import numpy as np

from data.disclosure.intervals import t_quantile_975


def histograms_fitting(n: int, total: int, squares: tuple[float, float], scale: int = 5, stop: int = 2) -> int:
    """How many histograms of `n` scores 1..`scale` have this sum and a sum of squares within
    `squares` (counted up to `stop`)."""
    found = 0
    # dynamic programming over scores: states (count, sum) -> (min, max) of the sum of squares is
    # not enough to count; n is small where it matters (n <= 80), so enumerate the top scores.
    def rec(score: int, left: int, s_left: int, sq: int) -> None:
        nonlocal found
        if found >= stop:
            return
        if score == 1:
            if s_left == left and squares[0] - 1e-6 <= sq + left <= squares[1] + 1e-6:
                found += 1
            return
        if s_left < left or s_left > left * score:
            return
        for c in range(min(left, (s_left - left) // (score - 1) if score > 1 else left) + 1):
            rec(score - 1, left - c, s_left - c * score, sq + c * score * score)
    rec(scale, n, total, 0)
    return found


def protect_ci(mean, n, low, high, lower: float = 1.0, upper: float = 5.0, step: float = 0.1):
    """Confidence intervals rounded outwards to `step` (so they do not pin a score histogram);
    where even the rounded interval leaves one histogram, it is withheld (NaN)."""
    mean, n, low, high = (np.asarray(v, float) for v in (mean, n, low, high))
    low_r = np.clip(np.floor(low / step + 1e-9) * step, lower, upper)
    high_r = np.clip(np.ceil(high / step - 1e-9) * step, lower, upper)
    for i in range(len(mean)):
        if not (np.isfinite(low_r[i]) and np.isfinite(mean[i]) and 2 <= n[i] <= 80):
            continue
        total = int(round(mean[i] * n[i]))
        halves = [h for h, clipped in ((mean[i] - low_r[i], low_r[i] <= lower), (high_r[i] - mean[i], high_r[i] >= upper))
                  if not clipped]
        if not halves:
            continue
        half = min(halves)
        t = float(t_quantile_975(np.array([n[i] - 1]))[0])
        sds = [max(0.0, h) * math.sqrt(n[i]) / t for h in (half - step, half + step)]
        squares = tuple((n[i] - 1) * sd ** 2 + total ** 2 / n[i] for sd in sds)
        if histograms_fitting(int(n[i]), total, squares) < 2:
            low_r[i] = high_r[i] = np.nan
    return low_r, high_r


def score_pinned(mean, n, scale: int = 5) -> np.ndarray:
    """Means that leave one score histogram whatever else is known (all 1s, all 5s, one off)."""
    mean, n = np.asarray(mean, float), np.asarray(n, float)
    total = np.round(mean * n)
    return (n >= 1) & ((total - n <= 1) | (scale * n - total <= 1))
