"""Small-count suppression for the public snapshot, applied at publish time.

A *cell* is one published figure: ``(metric_id, grain, period, district_id)`` with its
``value, numerator, denominator, n`` (``district_id`` is a district or ``'city'``). Within a
*group* ``(metric_id, grain, period)`` the city cell is the sum of the district cells for
every additive column (``n`` always; ``numerator``/``denominator`` of ratios and means;
``value`` of sums and levels), so the published table carries one linear equation per group
and column::

    city = district_1 + district_2 + ... + district_m

**Primary suppression.** A cell built from ``n`` in ``[1, k-1]`` records is withheld: its
``value``, ``numerator``, ``denominator`` and ``n`` become null and ``suppressed`` is true
(so a rate, mean or median computed from a small count is withheld with it). ``n = 0`` is
published: "nothing happened" discloses nobody.

**Complementary suppression.** A withheld cell must not be recoverable from what is
published. Over the unknowns (the withheld cells of a group) the published totals give the
equations above; a withheld cell is *determined* iff its unit vector lies in the row space
of the constraint matrix restricted to the unknowns (``determined``). With one equation per
group that happens exactly when the city total is published and exactly one district is
withheld; then the smallest other district with records is withheld as well (if there is
none, the city total is withheld instead). Picking the smallest cell loses the least
information, and picking one with records (rather than a zero) keeps the withheld total at
``k`` or more, so the sum of the withheld cells is not itself a small count.

Fixed public buckets (complete weeks and months, ``data.publish.PUBLIC_GRAINS``) keep anyone
from differencing arbitrary ranges. ``suppress`` is pure (no I/O) and vectorised over all
groups at once; ``determined`` and ``undetermined_violations`` are the independent checks the
property tests use.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

TOTAL_ID = "city"
GROUP = ["metric_id", "grain", "period"]
WITHHELD = ["value", "numerator", "denominator", "n"]


def primary(n: pd.Series, k: int) -> pd.Series:
    """True where a count lies in [1, k-1] (nulls are not suppressed: there is no figure)."""
    values = pd.to_numeric(n, errors="coerce")
    return (values >= 1) & (values <= k - 1)


def flags(cells: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Columns ``primary`` and ``complementary`` (bool) for `cells`, aligned with its index.

    `cells` needs ``metric_id, grain, period, district_id, n``; one row per cell.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    frame = cells[GROUP + ["district_id", "n"]].copy()
    frame["_n"] = pd.to_numeric(frame["n"], errors="coerce")
    frame["primary"] = primary(frame["_n"], k).fillna(False).astype(bool)
    frame["complementary"] = False
    if frame.empty:
        return frame[["primary", "complementary"]]
    frame["_g"] = frame.groupby(GROUP, sort=False, dropna=False).ngroup()
    is_total = frame["district_id"] == TOTAL_ID
    parts = frame[~is_total]
    totals = frame[is_total]
    # Groups whose total is published and exactly one district is withheld.
    withheld_parts = parts.groupby("_g")["primary"].sum()
    total_published = ~totals.groupby("_g")["primary"].any()
    exposed = withheld_parts[withheld_parts == 1].index
    exposed = exposed[total_published.reindex(exposed, fill_value=False).to_numpy()]
    if len(exposed):
        candidates = parts[parts["_g"].isin(exposed) & ~parts["primary"]].copy()
        # Prefer cells with records (n >= 1), then the smallest, then a stable id order.
        candidates["_empty"] = ~(candidates["_n"] >= 1)
        candidates = candidates.sort_values(["_g", "_empty", "_n", "district_id"], na_position="last")
        chosen = candidates.drop_duplicates("_g", keep="first")
        frame.loc[chosen.index, "complementary"] = True
        # No other district to hide behind: withhold the total instead.
        lonely = exposed.difference(chosen["_g"].unique())
        if len(lonely):
            frame.loc[totals.index[totals["_g"].isin(lonely)], "complementary"] = True
    return frame[["primary", "complementary"]]


def suppress(cells: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """`cells` with a ``suppressed`` flag and the figures of suppressed cells set to null.

    Pure: returns a new frame, same rows in the same order. Columns of ``WITHHELD`` (and any
    ``ci_low``/``ci_high``) present in `cells` are nulled where suppressed.
    """
    out = cells.copy()
    f = flags(cells, k)
    mask = (f["primary"] | f["complementary"]).to_numpy(bool)
    for column in [*WITHHELD, "ci_low", "ci_high"]:
        if column in out.columns:
            if column == "n":
                out[column] = pd.array(out[column], dtype="Int64")
            else:
                out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
            out.loc[mask, column] = pd.NA if column == "n" else np.nan
    out["suppressed"] = mask
    return out


# --------------------------------------------------------------------------- checks
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
            bad.append((*key, [d for d, h in zip(ids, hit) if h]))
    return bad


# --------------------------------------------------------------------------- intervals
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
