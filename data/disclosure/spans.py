"""Across grains: a month that starts and ends on week boundaries is the sum of its weeks, so
each such span's system (city totals plus week/month equations) is solved and more cells are
withheld until no withheld one is determined. Answers are kept per span (``_SPANS``) because
the same spans recur in every publish."""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import pandas as pd

from data.disclosure.checks import TOTAL_ID


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
    return list(zip(bounds[:-1], bounds[1:], strict=False))


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
    for metric_id, part in frame.groupby("metric_id", sort=False):
        if metric_id not in time_additive:
            continue
        for span in _spans_of(part, periods_all.loc[part.index]):
            key = _span_key(metric_id, span, mask)
            known = _SPANS.get(key)
            if known is not None:  # the same cells and flags as in an earlier publish: same answer
                mask[span.index.to_numpy()] = known
                continue
            _protect_span(span, _span_rows(span), mask, n_all)
            _remember(key, mask[span.index.to_numpy()].copy())
    return mask


def _spans_of(part: pd.DataFrame, periods: pd.Series):
    """The cells of each aligned span of one metric that holds both weeks and months."""
    weeks = sorted(pd.Timestamp(p) for p in part.loc[part["grain"] == "week", "period"].unique())
    months = sorted(pd.Timestamp(p) for p in part.loc[part["grain"] == "month", "period"].unique())
    for start, stop in _aligned_spans(weeks, months):
        in_weeks = (part["grain"] == "week") & (periods >= start) & (periods + pd.Timedelta(days=7) <= stop)
        in_months = (part["grain"] == "month") & (periods >= start) & ((periods + pd.offsets.MonthBegin(1)) <= stop)
        if in_weeks.any() and in_months.any():
            yield part[in_weeks | in_months]


def _span_rows(span: pd.DataFrame) -> list[dict[int, float]]:
    """The span's equations over frame positions: city rows (city = sum of the districts, per
    grain and period) and one month-week row per district (its weeks = its months)."""
    rows: list[dict[int, float]] = []
    for _, group in span.groupby(["grain", "period"], sort=False):
        if (group["district_id"] == TOTAL_ID).any():
            rows.append({int(i): (-1.0 if d == TOTAL_ID else 1.0)
                         for i, d in zip(group.index, group["district_id"], strict=False)})
    for _, by_district in span.groupby("district_id", sort=False):
        rows.append({int(i): (1.0 if g == "week" else -1.0)
                     for i, g in zip(by_district.index, by_district["grain"], strict=False)})
    return rows


def _protect_span(span: pd.DataFrame, rows: list[dict[int, float]], mask: np.ndarray, n_all: np.ndarray) -> None:
    """Suppress more cells of the span (in `mask`, in place) until no suppressed one is
    determined by the rows; every round withholds at least one more cell."""
    for _ in range(len(span) + 1):
        unknowns = [int(i) for i in span.index if mask[i]]
        if not unknowns:
            return
        determined = _span_determined(rows, unknowns)
        if not determined or not _complement_round(determined, rows, mask, n_all):
            return


def _span_determined(rows: list[dict[int, float]], unknowns: list[int]) -> list[int]:
    """The unknowns whose unit vector lies in the row space of the rows restricted to them."""
    col = {c: j for j, c in enumerate(unknowns)}
    a = np.zeros((len(rows), len(unknowns)))
    for r, row in enumerate(rows):
        for c, coef in row.items():
            j = col.get(c)
            if j is not None:
                a[r, j] = coef
    a = a[np.any(a != 0, axis=1)]
    if a.shape[0] == 0:
        return []
    _, sv, vh = np.linalg.svd(a, full_matrices=False)
    rank = int((sv > 1e-9 * max(1.0, sv.max())).sum())
    reach = (vh[:rank] ** 2).sum(axis=0)
    return [unknowns[j] for j in np.flatnonzero(reach > 1 - 1e-9)]


def _complement_round(determined: list[int], rows: list[dict[int, float]], mask: np.ndarray, n_all: np.ndarray) -> bool:
    """Suppress, for each determined cell whose equations did not change this round, the
    smallest published cell reachable through shared equations. Whether any was added."""
    added = False
    touched: set[int] = set()
    for target in determined:
        own = [row for row in rows if target in row]
        if any(touched & row.keys() for row in own):
            continue  # an equation of it changed this round: look again next round
        candidates = _nearest_published(target, rows, mask)
        if candidates:
            chosen = min(candidates, key=lambda c: (not n_all[c] >= 1, n_all[c] if n_all[c] == n_all[c] else 0, c))
            mask[chosen] = True
            added = True
            touched |= {c for row in rows if chosen in row for c in row}
    return added


def _nearest_published(target: int, rows: list[dict[int, float]], mask: np.ndarray) -> set[int]:
    """The published cells in the fewest equation steps from `target` (empty if none)."""
    reached, candidates = {target}, set()
    while not candidates:
        grown = reached | {c for row in rows if reached & row.keys() for c in row}
        candidates = {c for c in grown if not mask[c]}
        if grown == reached:
            break
        reached = grown
    return candidates


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
