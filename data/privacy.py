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

**Across grains.** Where a month starts and ends on week boundaries (a Monday the 1st), its
cells are sums of weekly cells; ``across_grains`` solves each such span's system (city totals
plus week/month equations) and withholds more cells until no withheld one is determined.

Fixed public buckets (complete weeks and months, ``data.publish.PUBLIC_GRAINS``) keep anyone
from differencing arbitrary ranges. ``suppress`` is pure (no I/O) and vectorised over all
groups at once; ``determined`` and ``undetermined_violations`` are the independent checks the
property tests use.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

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


def suppress(cells: pd.DataFrame, k: int = 10, *, time_additive: set[str] | frozenset = frozenset()) -> pd.DataFrame:
    """`cells` with a ``suppressed`` flag and the figures of suppressed cells set to null.

    Pure: returns a new frame, same rows in the same order. Columns of ``WITHHELD`` (and any
    ``ci_low``/``ci_high``) present in `cells` are nulled where suppressed. For metrics in
    `time_additive` (counts and sums: a month is the sum of its weeks when both start on the
    same Monday the 1st), ``across_grains`` then adds what the week/month equations need.
    """
    out = cells.copy()
    f = flags(cells, k)
    mask = (f["primary"] | f["complementary"]).to_numpy(bool)
    if time_additive:
        mask = across_grains(cells, mask, set(time_additive))
    for column in [*WITHHELD, "ci_low", "ci_high"]:
        if column in out.columns:
            if column == "n":
                out[column] = pd.array(out[column], dtype="Int64")
            else:
                out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
            out.loc[mask, column] = pd.NA if column == "n" else np.nan
    out["suppressed"] = mask
    return out


# --------------------------------------------------------------------------- across grains
def _aligned_spans(weeks: list[pd.Timestamp], months: list[pd.Timestamp]) -> list[tuple]:
    """Spans [start, end) covered exactly by whole published weeks and whole published months.

    Boundaries are the days that start both a week and a month (a Monday the 1st), the start of
    the data (both grains' first periods hold everything before the first boundary: assumed,
    which can only make the check stricter), and a common end of both series.
    """
    if not weeks or not months:
        return []
    week_end = max(weeks) + pd.Timedelta(days=7)
    month_end = max(months) + pd.offsets.MonthBegin(1)
    bounds = [pd.Timestamp.min] + [m for m in months if m.weekday() == 0 and m > min(months)]
    if week_end == month_end:
        bounds.append(week_end)
    return list(zip(bounds[:-1], bounds[1:]))


def across_grains(cells: pd.DataFrame, mask: np.ndarray, time_additive: set[str]) -> np.ndarray:
    """Extend `mask` so that no suppressed cell is determined by the published cells, the
    city totals *and* the week/month equations of `time_additive` metrics.

    The weeks and months of one aligned span form a system of their own (a period belongs to
    one span; periods outside every span only meet the city-total equation, which ``flags``
    already handles): one row per (grain, period) group (city = sum of districts) and one per
    district (sum of its weeks = sum of its months). A suppressed cell is determined iff its
    unit vector lies in the row space of the matrix restricted to the suppressed unknowns (its
    projection on the row space has length 1). While some are, each gets the smallest published
    cell with records that shares an equation with it suppressed too.
    """
    mask = np.asarray(mask, bool).copy()
    frame = cells.reset_index(drop=True)
    n_all = pd.to_numeric(frame["n"], errors="coerce").to_numpy(float)
    periods_all = pd.to_datetime(frame["period"])

    def smallest(candidates):
        return min(candidates, key=lambda c: (not n_all[c] >= 1, n_all[c] if n_all[c] == n_all[c] else 0, c))

    for metric_id, part in frame.groupby("metric_id", sort=False):
        if metric_id not in time_additive:
            continue
        weeks = sorted(pd.Timestamp(p) for p in part.loc[part["grain"] == "week", "period"].unique())
        months = sorted(pd.Timestamp(p) for p in part.loc[part["grain"] == "month", "period"].unique())
        periods = periods_all.loc[part.index]
        for start, stop in _aligned_spans(weeks, months):
            in_weeks = (part["grain"] == "week") & (periods >= start) & (periods + pd.Timedelta(days=7) <= stop)
            in_months = (part["grain"] == "month") & (periods >= start) & ((periods + pd.offsets.MonthBegin(1)) <= stop)
            if not in_weeks.any() or not in_months.any():
                continue
            span = part[in_weeks | in_months]
            key = _span_key(metric_id, span, mask)
            known = _SPANS.get(key)
            if known is not None:  # the same cells and flags as in an earlier publish: same answer
                mask[span.index.to_numpy()] = known
                continue
            rows: list[dict[int, float]] = []
            for _, group in span.groupby(["grain", "period"], sort=False):
                if (group["district_id"] == TOTAL_ID).any():
                    rows.append({int(i): (-1.0 if d == TOTAL_ID else 1.0)
                                 for i, d in zip(group.index, group["district_id"])})
            for _, by_district in span.groupby("district_id", sort=False):
                rows.append({int(i): (1.0 if g == "week" else -1.0)
                             for i, g in zip(by_district.index, by_district["grain"])})
            for _ in range(len(span) + 1):  # every round withholds at least one more cell
                unknowns = [int(i) for i in span.index if mask[i]]
                if not unknowns:
                    break
                col = {c: j for j, c in enumerate(unknowns)}
                a = np.zeros((len(rows), len(unknowns)))
                for r, row in enumerate(rows):
                    for c, coef in row.items():
                        j = col.get(c)
                        if j is not None:
                            a[r, j] = coef
                a = a[np.any(a != 0, axis=1)]
                if a.shape[0] == 0:
                    break
                _, sv, vh = np.linalg.svd(a, full_matrices=False)
                rank = int((sv > 1e-9 * max(1.0, sv.max())).sum())
                reach = (vh[:rank] ** 2).sum(axis=0)
                determined = [unknowns[j] for j in np.flatnonzero(reach > 1 - 1e-9)]
                if not determined:
                    break
                added = False
                touched: set[int] = set()
                for target in determined:
                    own = [row for row in rows if target in row]
                    if any(touched & row.keys() for row in own):
                        continue  # an equation of it changed this round: look again next round
                    reached, candidates = {target}, set()
                    while not candidates:
                        grown = reached | {c for row in rows if reached & row.keys() for c in row}
                        candidates = {c for c in grown if not mask[c]}
                        if grown == reached:
                            break
                        reached = grown
                    if candidates:
                        chosen = smallest(candidates)
                        mask[chosen] = True
                        added = True
                        touched |= {c for row in rows if chosen in row for c in row}
                if not added:
                    break
            _remember(key, mask[span.index.to_numpy()].copy())
    return mask


# The cross-grain pass is pure per aligned span, and closed spans do not change between two
# publishes of the live feed: their answers are kept per process, keyed by a digest of the
# span's cells (grain, period, district, n) and its incoming flags. Late data changes the key.
_SPANS: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
_SPANS_MAX = 50_000


def _span_key(metric_id: str, span: pd.DataFrame, mask: np.ndarray) -> tuple:
    cells = pd.util.hash_pandas_object(span[["grain", "period", "district_id", "n"]], index=False).to_numpy()
    digest = hashlib.blake2b(cells.tobytes(), digest_size=16)
    digest.update(np.asarray(mask[span.index.to_numpy()], bool).tobytes())
    return metric_id, digest.hexdigest()


def _remember(key: tuple, answer: np.ndarray) -> None:
    _SPANS[key] = answer
    while len(_SPANS) > _SPANS_MAX:
        _SPANS.popitem(last=False)


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
