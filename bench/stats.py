"""Small helpers shared by the benchmarks."""
from __future__ import annotations


def percentile(values, p: float) -> float:
    """Nearest-rank percentile `p` (0–100) of `values`; NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
