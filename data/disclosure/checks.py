"""The group a cell is determined within, and the independent checks of the suppression rule.

A group ``(metric_id, grain, period)`` carries one equation per additive column, city = sum of
districts (``TOTAL_ID`` is the city's district id). ``determined`` decides by linear algebra
whether a withheld cell can be solved for; the span protection uses it, and the property tests
use it with ``undetermined_violations`` to check ``data.privacy.suppress`` from outside.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TOTAL_ID = "city"
GROUP = ["metric_id", "grain", "period"]


def determined(constraints: np.ndarray, suppressed: np.ndarray) -> np.ndarray:
    """Which suppressed cells are uniquely determined by the published cells and totals.

    `constraints` is an (equations × cells) matrix with ``constraints @ x = 0`` for the true
    cell values ``x`` (e.g. a row ``[-1, 1, 1, 1]`` for ``city = d1 + d2 + d3``); `suppressed`
    a boolean vector over the cells. Moving the published cells to the right-hand side leaves
    ``A_S x_S = b``; ``x_j`` is determined iff ``e_j`` lies in the row space of ``A_S``.
    Returns a boolean vector over the cells (False for published ones).
    """
    suppressed = np.asarray(suppressed, bool)
    out = np.zeros(suppressed.shape[0], bool)
    idx = np.flatnonzero(suppressed)
    if idx.size == 0 or constraints.size == 0:
        return out
    a = np.asarray(constraints, float)[:, idx]
    a = a[np.any(a != 0, axis=1)]
    if a.shape[0] == 0:
        return out
    rank = np.linalg.matrix_rank(a)
    for j, cell in enumerate(idx):
        unit = np.zeros((1, idx.size))
        unit[0, j] = 1.0
        out[cell] = np.linalg.matrix_rank(np.vstack([a, unit])) == rank
    return out


def group_constraints(district_ids: list[str]) -> np.ndarray:
    """The one equation of a group: total minus the sum of the parts is zero."""
    row = np.array([-1.0 if d == TOTAL_ID else 1.0 for d in district_ids])
    if TOTAL_ID not in district_ids:
        return np.zeros((0, len(district_ids)))
    return row[None, :]


def undetermined_violations(published: pd.DataFrame) -> list[tuple]:
    """Groups in which some suppressed cell is determined (should be empty)."""
    bad = []
    for key, group in published.groupby(GROUP, sort=False):
        ids = list(group["district_id"])
        hit = determined(group_constraints(ids), group["suppressed"].to_numpy(bool))
        if hit.any():
            bad.append((*key, [d for d, h in zip(ids, hit, strict=False) if h]))
    return bad
