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
from dataclasses import dataclass

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
            bad.append((*key, [d for d, h in zip(ids, hit, strict=False) if h]))
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


# =========================================================================== release auditor
# The suppression above protects one group's equation at a time. An outsider uses all of them
# at once: city = sum of districts, weeks and months through their day-level overlaps, the
# identities between metrics (one count published by two metrics, backlog(end) =
# backlog(start) + opened - closed), "a withheld row is at least 1", and every release still
# online. The auditor below builds that joint system per *block* and computes each withheld
# count's feasible interval with a linear-programming solver (HiGHS, through highspy); it adds
# complementary suppression until every withheld count's interval is at least `width` wide
# (primary cells) and no withheld count is pinned to one value (every cell).
#
# Blocks. A block is one calendar month of one *family* of linked quantities: the month's cells
# and the cells of every week that ends (its Sunday) in that month, all districts and the city.
# Cells outside the block are treated as known to the attacker at their true values (stricter
# than the truth: an outsider knows only what is published), so each equation that reaches
# outside the block keeps its exact constant, e.g. month = weeks of the block - the days of the
# first week before the 1st + the days after the last Sunday. A block protected under that
# assumption stays protected whatever is published in other blocks, which is what lets blocks be
# solved one at a time, in parallel with nothing, and kept between publishes (releases are final):
# in memory, and in the var dir (``data.audit_cache``) so that a new publish process answers an
# unchanged block (a closed month, a held-back one) without solving it again.
#
# Cost. Within a block, city = sum of districts links every withheld cell into a few components
# whose size grows with the number of districts, and so would each program solved on them; the
# cells are therefore decided on small sub-systems first (``LOCAL_PARTNERS``), and only the
# undecided ones on their whole component. The decisions, hence the withheld cells, are the same.
AUDIT_EPS = 1e-6
BIG = 1e9


@dataclass
class Quantity:
    """One counted quantity of a metric cell: what it counts (shared names are one figure)."""
    name: str
    column: str          # n, numerator, denominator or complement (= denominator - numerator)
    part: bool = False   # a part of a whole (on time / late): may be 0, and 0 or all is telling


@dataclass
class BlockResult:
    withheld: np.ndarray
    ok: bool
    reason: str = ""
    lps: int = 0
    failing: tuple = ()


def _highs():
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h, highspy


def _highs_model(equations: list[tuple], lower: np.ndarray, upper: np.ndarray):
    """A HiGHS instance holding the equations and bounds of ``feasible_intervals`` (no costs)."""
    h, highspy = _highs()
    h.setOptionValue("presolve", "off")
    nvar = len(lower)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = nvar
    lp.num_row_ = len(equations)
    lp.col_cost_ = np.zeros(nvar)
    lp.col_lower_ = np.asarray(lower, float)
    # a finite cap instead of infinity: no program is unbounded (simplex statuses after an
    # unbounded solve proved unreliable), and a cap far above any count changes no check
    lp.col_upper_ = np.where(np.isfinite(upper), upper, BIG)
    starts, index, value = [0], [], []
    rhs = np.array([e[1] for e in equations], float)
    ge = np.array([len(e) > 2 and e[2] == "ge" for e in equations], bool)
    by_col: list[list[tuple[int, float]]] = [[] for _ in range(nvar)]
    for r, eq in enumerate(equations):
        for c, a in eq[0].items():
            by_col[c].append((r, a))
    for col in by_col:
        for r, a in col:
            index.append(r)
            value.append(a)
        starts.append(len(index))
    lp.row_lower_ = rhs
    lp.row_upper_ = np.where(ge, inf, rhs)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, np.int32)
    lp.a_matrix_.index_ = np.array(index, np.int32)
    lp.a_matrix_.value_ = np.array(value, float)
    h.passModel(lp)
    return h, highspy


def feasible_intervals(equations: list[tuple], lower: np.ndarray, upper: np.ndarray,
                       targets: list[int], needed: np.ndarray | None = None,
                       record=None, spread: bool = True) -> dict[int, tuple[float, float]]:
    """Min and max of each target variable subject to ``sum coef * x = rhs`` for every equation
    ``(coefs, rhs)`` (``sum coef * x >= rhs`` for ``(coefs, rhs, "ge")``) and ``lower <= x <= upper`` (HiGHS dual simplex: one model, re-solved with changed costs
    from the last basis).

    With `needed` (a width per variable), a variable is certified as soon as two feasible points
    found on the way (every solve's optimum is one) differ in it by that much; its own two
    programs are then skipped and its interval is reported as those points' span (a lower bound
    of the true width, which is all the check needs; `spread`: look for such points first, see
    ``_spread_points``). `record`, if given, is called with every optimum found (a feasible
    point of the system)."""
    h, highspy = _highs_model(equations, lower, upper)
    nvar = len(lower)
    seen_lo = np.full(nvar, np.inf)
    seen_hi = np.full(nvar, -np.inf)
    optimal = highspy.HighsModelStatus.kOptimal

    def solve(cost: np.ndarray):
        h.changeColsCost(nvar, np.arange(nvar, dtype=np.int32), cost)
        h.run()
        status = h.getModelStatus()
        if status == optimal:
            x = np.asarray(h.getSolution().col_value)
            np.minimum(seen_lo, x, out=seen_lo)
            np.maximum(seen_hi, x, out=seen_hi)
            if record is not None:
                record(x)
            return status, float(cost @ x)
        return status, None

    if needed is not None and spread:  # spread-out points first: most variables move between them
        _spread_points(solve, nvar, lambda: int((seen_hi - seen_lo >= needed - AUDIT_EPS).sum()), len(targets))
    out = {}
    for j in targets:
        if needed is not None and seen_hi[j] - seen_lo[j] >= needed[j] - AUDIT_EPS:
            out[j] = (seen_lo[j], seen_hi[j])
            continue
        bounds = []
        for sign in (1.0, -1.0):
            cost = np.zeros(nvar)
            cost[j] = sign
            status, value_ = solve(cost)
            if status == optimal:
                bounds.append(sign * value_)
            elif status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
                bounds.append(-sign * math.inf)  # the truth is feasible, so "or infeasible" is unbounded
            else:  # cannot happen with true constants; count the cell as pinned (fail safe)
                bounds.append(float(lower[j]))
            if needed is not None and seen_hi[j] - seen_lo[j] >= needed[j] - AUDIT_EPS:
                break
        if len(bounds) == 1:
            out[j] = (seen_lo[j], seen_hi[j])
        else:
            out[j] = (bounds[0], bounds[1])
    return out


def _spread_points(solve, nvar: int, certified, targets: int, extra: int = 16) -> None:
    """Solve with all-ones costs both ways, then with a few random-sign costs (fixed seed: the
    same block gives the same answer) while each still certifies enough variables. Every optimum
    is an ordinary feasible point, so this only skips programs whose answer is known to pass."""
    solve(np.ones(nvar))
    solve(-np.ones(nvar))
    rng = np.random.default_rng(0)
    for _ in range(extra):
        before = certified()
        solve(rng.choice([-1.0, 1.0], nvar))
        if certified() - before < max(2, targets // 50):
            break


def audit_block(truth: np.ndarray, equations: list[dict[int, float]], start: np.ndarray, *,
                primary: np.ndarray, count: np.ndarray, frozen: np.ndarray, k: int, width: float,
                max_rounds: int = 60, floor: np.ndarray | None = None, groups: np.ndarray | None = None) -> BlockResult:
    """Withhold more cells of one block until it is protected.

    `truth`: the true value of every cell (quantity) in the block; `equations`: coefficient rows
    that hold for the truth (their constants are recomputed from it); `start`: cells withheld
    already (primary, and those withheld by earlier releases); `primary`: cells that must be
    protected by `width`; `count`: cells that count records (a withheld one is at least 1, so
    only cells with records are chosen as complements); `frozen`: cells released before, whose
    status must not change. `floor`: a known lower bound per cell (NaN: none), e.g. a straddling
    week holds at least its days of the month before. `groups`: the district of every cell, if
    known (only to choose the small sub-systems tried first, see ``LOCAL_PARTNERS``). Returns
    the withheld mask, whether every check passed, and why not.
    """
    n = len(truth)
    floor = np.full(n, np.nan) if floor is None else np.asarray(floor, float)
    withheld = np.asarray(start, bool).copy()
    eqs, member = _with_constants(truth, equations)
    audit = _BlockAudit(truth, eqs, member, primary, count, floor, width, groups)
    failing: list[int] = []
    for _round in range(max_rounds):
        root_of, comps = _components(n, eqs, withheld)
        failing = [c for cells in comps.values() for c in audit.failing(cells)]
        if not failing:
            return BlockResult(withheld, True, lps=audit.lps)
        if not _add_complements(failing, root_of, comps, withheld, audit, frozen):
            break
    # fall back: every cell that may still change
    fallback = withheld | (~frozen & ((truth >= 1) | ~np.asarray(count, bool)))
    if (fallback != withheld).any():
        again = audit_block(truth, equations, fallback, primary=primary, count=count, frozen=np.ones(n, bool),
                            k=k, width=width, max_rounds=1, floor=floor, groups=groups)
        return BlockResult(again.withheld, again.ok, again.reason or "", audit.lps + again.lps, again.failing)
    return BlockResult(withheld, False, f"{len(failing)} withheld cells stay narrower than the protection width",
                       audit.lps, tuple(failing))


def _with_constants(truth: np.ndarray, equations: list) -> tuple[list[tuple], list[list[int]]]:
    """The non-empty equations as (row, constant from the truth, kind), and per cell the
    equations it appears in."""
    eqs = []
    for eq in equations:
        row, kind = (eq, "eq") if isinstance(eq, dict) else eq
        if row:
            eqs.append((row, float(sum(a * truth[c] for c, a in row.items())), kind))
    member: list[list[int]] = [[] for _ in range(len(truth))]
    for r, eq in enumerate(eqs):
        for c in eq[0]:
            member[c].append(r)
    return eqs, member


def _components(n: int, eqs: list[tuple], withheld: np.ndarray) -> tuple[dict[int, int], dict[int, list[int]]]:
    """The withheld cells linked by shared equations: each cell's root, and each root's cells."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for eq in eqs:
        cells = [c for c in eq[0] if withheld[c]]
        for c in cells[1:]:
            parent[find(c)] = find(cells[0])
    root_of: dict[int, int] = {}
    comps: dict[int, list[int]] = {}
    for c in np.flatnonzero(withheld):
        root = root_of[int(c)] = find(int(c))
        comps.setdefault(root, []).append(int(c))
    return root_of, comps


# A component's cells are certified first on small sub-systems: the withheld cells of one
# district, of the city and of the few (``LOCAL_PARTNERS``) districts sharing the most (by true value)
# equations with them, every other cell fixed at its true value. Every point feasible there is
# feasible in the whole system (the equations not touching the sub-system hold at the truth), so
# a cell's interval there lies inside its true one: a cell wide enough there is wide enough, and
# one that is not is solved on its whole component as before. The verdicts are those of the
# whole-component programs; only their cost changes: the small programs do not grow with the
# number of districts, while a component (linked by city = sum of districts) grows with it.
LOCAL_PARTNERS = (4, 16)  # partner districts tried, fewer first
SPREAD_MIN = 8  # fewer targets than this: their own programs at once, no spread-out points first


class _BlockAudit:
    """The intervals an outsider can derive for the withheld cells of one block, solved once
    per component. Withholding more cells only widens every interval (fewer fixed values), so a
    cell that passed once passes for good and is not solved again; for the same reason every
    feasible point found stays feasible, and the span of those seen certifies cells outright."""

    def __init__(self, truth, eqs, member, primary, count, floor, width, groups=None):
        self.truth, self.eqs, self.member = truth, eqs, member
        self.primary, self.count, self.floor, self.width = primary, count, floor, width
        self.groups = groups
        self.passed = np.zeros(len(truth), bool)
        self.cache: dict[tuple, dict[int, tuple[float, float]]] = {}
        self.lps = 0
        self.seen_lo = np.asarray(truth, float).copy()  # the truth is a feasible point
        self.seen_hi = self.seen_lo.copy()
        # each cell's lower bound: 1 for a count with records (a withheld row is at least 1), 0
        # (or its value, if negative) otherwise, and at least its floor
        values = np.asarray(truth, float)
        self.lower = np.fmax(np.where(np.asarray(count, bool) & (values >= 1), 1.0, np.where(values < 0, values, 0.0)),
                             np.asarray(floor, float))

    def failing(self, cells: list[int]) -> list[int]:
        """The cells of one component not yet passed whose interval is narrower than they need
        (one record, or the width for a primary cell); the others pass."""
        todo = [c for c in cells if not self.passed[c]]
        if not todo:
            return []
        key = tuple(cells)
        result = self.cache.get(key)
        if result is None:
            result = self.cache[key] = self._intervals(cells, todo)
        out = []
        for c in todo:
            if self._wide(c, *result[c]):
                self.passed[c] = True
            else:
                out.append(c)
        return out

    def _wide(self, c: int, lo: float, hi: float) -> bool:
        """Whether an interval [lo, hi] of cell `c` is wide enough (in whole records)."""
        lo_i = math.ceil(lo - AUDIT_EPS)
        hi_i = math.floor(hi + AUDIT_EPS) if math.isfinite(hi) and hi < BIG / 2 else math.inf
        return not (hi_i - lo_i < 1 or (self.primary[c] and hi_i - lo_i < self.width))

    def _seen_wide(self, c: int) -> bool:
        return self._wide(c, self.seen_lo[c], self.seen_hi[c])

    def _intervals(self, cells: list[int], todo: list[int]) -> dict[int, tuple[float, float]]:
        """The feasible interval of each cell in `todo`, or a part of it wide enough, or a
        superset of it too narrow: from small sub-systems (``LOCAL_PARTNERS``), else from the
        whole component."""
        narrow = self._local(cells, todo) if self.groups is not None and len(cells) > 1 else {}
        out, rest = {}, []
        for c in todo:
            if self._seen_wide(c):
                out[c] = (self.seen_lo[c], self.seen_hi[c])
            elif c in narrow:
                out[c] = narrow[c]
            else:
                rest.append(c)
        if rest:
            out.update(self._solve(cells, rest))
        return out

    def _local(self, cells: list[int], todo: list[int]) -> dict[int, tuple[float, float]]:
        """Per district of `todo`: its cells on the sub-system of that district, the city and its
        partners, every other cell fixed (the points found are recorded: they are feasible); then
        those not wide enough there on the relaxation made of the same equations alone, every
        withheld cell in them free (a superset of the feasible set: an interval too narrow there
        is too narrow). Returns the cells found too narrow, with their interval there."""
        groups = self.groups
        by_group: dict[object, list[int]] = {}
        for c in cells:
            by_group.setdefault(groups[c], []).append(c)
        members = set(cells)
        narrow = {}
        for group in dict.fromkeys(groups[c] for c in todo):
            targets = [c for c in by_group[group] if not self.passed[c] and not self._seen_wide(c)]
            if not targets:
                continue
            weight: dict[object, float] = {}
            for r in {r for c in by_group[group] for r in self.member[c]}:
                for y in self.eqs[r][0]:
                    if y in members and groups[y] != group:
                        weight[groups[y]] = weight.get(groups[y], 0.0) + max(float(self.truth[y]), 0.0)
            ranked = sorted(weight, key=lambda g: (g != TOTAL_ID, -weight[g], str(g)))
            for size in LOCAL_PARTNERS:
                chosen = by_group[group] + [c for g in ranked[:size + 1] for c in by_group[g]]
                if len(chosen) == len(cells):
                    break
                self._solve(chosen, targets)
                targets = [c for c in targets if not self._seen_wide(c)]
                if targets:
                    relaxed = self._relaxed(chosen, targets, members)
                    narrow.update((c, got) for c, got in relaxed.items() if not self._wide(c, *got))
                    targets = [c for c in targets if c not in narrow]
                if not targets or size + 1 >= len(ranked):
                    break
        return narrow

    def _relaxed(self, chosen: list[int], todo: list[int], members: set[int]) -> dict[int, tuple[float, float]]:
        """The intervals of `todo` under the equations touching `chosen` alone: every withheld
        cell in them free within its bounds (a relaxation: the true intervals lie inside). A
        cell met by one of those equations only enters it through one variable per equation and
        sign, their sum (the same relaxation, projected: a sum of cells >= their lower bounds
        takes any value from the sum of those bounds up)."""
        truth = self.truth
        rows = sorted({r for c in chosen for r in self.member[c]})
        inside = set(chosen)
        seen_in: dict[int, int] = {}
        for r in rows:
            for y in self.eqs[r][0]:
                if y in members and y not in inside:
                    seen_in[y] = seen_in.get(y, 0) + 1
        kept = list(chosen) + sorted(y for y, times in seen_in.items() if times > 1)
        local = {c: i for i, c in enumerate(kept)}
        lower = list(self.lower[kept])
        sub = []
        for r in rows:
            row, rhs, kind = self.eqs[r]
            coefs, const, sums = {}, rhs, {}
            for c, a in row.items():
                if c in local:
                    coefs[local[c]] = a
                elif c in members:  # met here only: into the sum of its sign
                    sign = math.copysign(1.0, a)
                    sums[sign] = sums.get(sign, 0.0) + abs(a) * self.lower[c]
                else:
                    const -= a * truth[c]
            for sign in (1.0, -1.0):
                if sign in sums:
                    coefs[len(lower)] = sign
                    lower.append(sums[sign])
            sub.append((coefs, const, kind))
        lower = np.array(lower)
        upper = np.full(len(lower), math.inf)
        width = np.full(len(lower), 1.0)
        width[:len(kept)] = [self.width if self.primary[c] else 1.0 for c in kept]
        got = feasible_intervals(sub, lower, upper, [local[c] for c in todo], width, spread=len(todo) > SPREAD_MIN)
        self.lps += 2 * len(todo)
        return {c: got[local[c]] for c in todo}

    def _solve(self, cells: list[int], todo: list[int]) -> dict[int, tuple[float, float]]:
        """The feasible interval of each cell in `todo` (or a part of it wide enough): the
        equations touching `cells`, every other cell moved into the constants at its true value
        (the points found are feasible in the whole system: recorded)."""
        truth = self.truth
        rows = sorted({r for c in cells for r in self.member[c]})
        local = {c: i for i, c in enumerate(cells)}
        sub = []
        for r in rows:
            row, rhs, kind = self.eqs[r]
            coefs, const = {}, rhs
            for c, a in row.items():
                if c in local:
                    coefs[local[c]] = a
                else:
                    const -= a * truth[c]
            sub.append((coefs, const, kind))
        lower = self.lower[cells]
        upper = np.full(len(cells), math.inf)
        width = np.array([self.width if self.primary[c] else 1.0 for c in cells])
        index = np.asarray(cells)

        def record(x):
            np.minimum.at(self.seen_lo, index, x)
            np.maximum.at(self.seen_hi, index, x)

        got = feasible_intervals(sub, lower, upper, [local[c] for c in todo], width,
                                 record=record, spread=len(todo) > SPREAD_MIN)
        self.lps += 2 * len(todo)
        return {c: got[local[c]] for c in todo}


def _add_complements(failing, root_of, comps, withheld, audit: _BlockAudit, frozen) -> bool:
    """One more withheld cell next to each failing one (see ``_add_complement``); whether any was."""
    n = len(withheld)
    member = audit.member
    added = False
    comp_rows: dict[int, set] = {}  # a component's equations, once per round (its cells are fixed)
    for c in failing:
        root = root_of[c]
        if root not in comp_rows:
            comp_rows[root] = {r for x in comps.get(root, ()) for r in member[x]} if n < 4000 else set(member[c])
        if withheld[c] and _add_complement(c, withheld, audit.eqs, member, audit.truth, audit.count, frozen, audit.width,
                                           comp_rows[root] if n < 4000 else set(member[c])):
            added = True
    return added


def _add_complement(target, withheld, eqs, member, truth, count, frozen, width, comp_rows) -> bool:
    """Withhold one more published cell next to `target` (sharing an equation with it or with
    its component, whose equations are `comp_rows`): the smallest one with more than `width`
    records, else the largest."""
    rows = list(member[target]) + [r for r in comp_rows if r not in member[target]]
    for group in (list(member[target]), rows):
        candidates = {c for r in group for c in eqs[r][0]
                      if not withheld[c] and not frozen[c] and count[c] and truth[c] >= 1}
        if candidates:
            wide = [c for c in candidates if truth[c] >= width + 1]
            chosen = min(wide, key=lambda c: (truth[c], c)) if wide else max(candidates, key=lambda c: (truth[c], -c))
            withheld[chosen] = True
            return True
    return False


# --------------------------------------------------------------------------- blocks of a release
def block_month(period: pd.Series, grain: pd.Series) -> pd.Series:
    """The month a cell's block belongs to: a month's own; a week's is the month of its Sunday."""
    period = pd.to_datetime(period)
    sunday = period + pd.Timedelta(days=6)
    return pd.Series(np.where(grain == "week", sunday.dt.to_period("M").dt.to_timestamp(),
                              period.dt.to_period("M").dt.to_timestamp()), index=period.index)


def quantity_cells(cells: pd.DataFrame, metrics: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per counted figure (quantity, grain, period, district) with its true value, and
    the link table (metric cell row -> quantity row). `metrics`: id -> registry.Metric."""
    parts = []
    for metric_id, frame in cells.groupby("metric_id", sort=False):
        m = metrics[metric_id]
        counted = m.counted()
        for column, quantity in counted.items():
            if column == "complement":
                value = pd.to_numeric(frame["denominator"], errors="coerce") - pd.to_numeric(frame["numerator"], errors="coerce")
            else:
                value = pd.to_numeric(frame[column], errors="coerce")
            # the straddling week's days in the month of its Monday (see ``week_floors``)
            if column == "complement" and {"head_denominator", "head_numerator"} <= set(frame.columns):
                head = pd.to_numeric(frame["head_denominator"], errors="coerce") - pd.to_numeric(frame["head_numerator"], errors="coerce")
            elif f"head_{column}" in frame.columns:
                head = pd.to_numeric(frame[f"head_{column}"], errors="coerce")
            else:
                head = pd.Series(np.nan, index=frame.index)
            parts.append(pd.DataFrame({
                "row": frame.index, "q": quantity, "grain": frame["grain"], "period": frame["period"],
                "district_id": frame["district_id"], "truth": value.to_numpy(float), "head": head.to_numpy(float),
                "part": column in ("numerator", "complement") and "complement" in counted,
                "level": m.aggregate == "level", "metric_id": metric_id, "column": column,
            }))
    links = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["row", "q", "grain", "period", "district_id", "truth", "head", "part", "level", "metric_id", "column"])
    links = links[links["truth"].notna()]
    qcells = links.drop_duplicates(["q", "grain", "period", "district_id"]).reset_index(drop=True)
    qcells = qcells.drop(columns=["row", "metric_id", "column"])
    qcells["qid"] = np.arange(len(qcells))
    links = links.merge(qcells[["q", "grain", "period", "district_id", "qid"]], on=["q", "grain", "period", "district_id"])
    return qcells, links[["row", "qid"]]


def families(metrics: dict) -> dict[str, int]:
    """Quantity -> family number: quantities linked by an identity (parts of a whole, a stock)
    are audited together."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for m in metrics.values():
        counted = m.counted()
        names = list(counted.values()) + [q for _, q in m.stock]
        for q in names:
            find(q)
        for q in names[1:]:
            parent[find(q)] = find(names[0])
    roots = sorted({find(q) for q in parent})
    return {q: roots.index(find(q)) for q in parent}


def block_equations(block: pd.DataFrame, metrics: dict) -> list[dict[int, float]]:
    """Coefficient rows (over positions in `block`) an outsider can write down, plus the ones
    that reach outside the block (kept with their exact constants; see the section comment)."""
    pos = {key: i for i, key in enumerate(zip(block["q"], block["grain"], block["period"], block["district_id"], strict=False))}
    rows: list = [*_city_rows(block, pos), *_month_week_rows(block, pos)]  # a dict (equality) or (dict, "eq" | "ge")
    for m in metrics.values():
        counted = m.counted()
        if "complement" in counted:
            rows.extend(_complement_rows(block, pos, counted))
        if m.stock:
            rows.extend(_stock_rows(block, pos, dict(m.stock), counted["n"]))
            rows.extend(_stock_month_end_rows(block, pos, counted["n"]))
    return rows


def _city_rows(block: pd.DataFrame, pos: dict) -> list[dict[int, float]]:
    """city = sum of the districts, per quantity, grain and period."""
    rows = []
    for (q, grain, period), group in block.groupby(["q", "grain", "period"], sort=False):
        ids = list(group["district_id"])
        if TOTAL_ID in ids and len(ids) > 1:
            rows.append({pos[(q, grain, period, d)]: (-1.0 if d == TOTAL_ID else 1.0) for d in ids})
    return rows


def _month_week_rows(block: pd.DataFrame, pos: dict) -> list[tuple[dict[int, float], str]]:
    """The month = its weeks, give or take the straddling days, per additive quantity and
    district (and block month)."""
    rows = []
    additive = block[~block["level"].to_numpy(bool)]
    by = ["q", "district_id"] + (["_bm"] if "_bm" in block else [])
    # a cell's key is unique in a block (``quantity_cells``), so its position is pos[its key]
    position = np.array([pos[key] for key in zip(additive["q"], additive["grain"], additive["period"],
                                                  additive["district_id"], strict=False)], dtype=np.int64)
    group_of = additive.groupby(by, sort=False).ngroup().to_numpy()
    grain = additive["grain"].to_numpy()
    order = np.argsort(group_of, kind="stable")
    order = order[group_of[order] >= 0]
    starts = np.flatnonzero(np.r_[True, np.diff(group_of[order]) != 0])
    for members in np.split(order, starts[1:]) if len(order) else []:
        is_month = grain[members] == "month"
        is_week = grain[members] == "week"
        if is_month.any() and is_week.any():
            row = dict.fromkeys(position[members[is_month]].tolist(), 1.0)
            row.update(dict.fromkeys(position[members[is_week]].tolist(), -1.0))
            # exact, with the true constant: month - its weeks = (the days of the next block's
            # straddling week that fall in this month) - (the days of this block's first week
            # that fall in the month before). The attacker is assumed to know how every
            # straddling week splits between its two months (stricter than the truth: the split
            # is published nowhere), so a block protected under it stays protected whatever a
            # later release publishes of the next month; the first week's own floor (it holds at
            # least its days of the month before) is a bound (``week_floors``).
            rows.append((row, "eq"))
    return rows


def _complement_rows(block: pd.DataFrame, pos: dict, counted: dict) -> list[dict[int, float]]:
    """whole = part + other part, wherever the block holds all three."""
    rows = []
    whole, a, b = counted["denominator"], counted["numerator"], counted["complement"]
    sub = block[block["q"] == whole]
    for grain, period, d in zip(sub["grain"], sub["period"], sub["district_id"], strict=False):
        ka, kb = (a, grain, period, d), (b, grain, period, d)
        if ka in pos and kb in pos:
            rows.append({pos[(whole, grain, period, d)]: 1.0, pos[ka]: -1.0, pos[kb]: -1.0})
    return rows


def _stock_rows(block: pd.DataFrame, pos: dict, flow: dict, level: str) -> list[dict[int, float]]:
    """level(end) = level(start) + in - out, per grain and district, over every period of the
    block in calendar order (a level with no row is 0, known)."""
    rows = []
    sub = block[block["q"] == level]
    if "_context" in block:
        ctx = block[block["_context"].eq(True)]
        context = set(zip(ctx["q"], ctx["grain"], ctx["period"], strict=False))
    else:
        context = set()
    grains_periods = {g: sorted(set(block.loc[block["grain"] == g, "period"])) for g in set(block["grain"])}
    for (grain, d), _group in sub.groupby(["grain", "district_id"], sort=False):
        previous = None
        for p in grains_periods[grain]:
            if (level, grain, p) in context:  # the last level of the block before: a start only
                previous = p
                continue
            if previous is None:  # nothing known before the first period: no equation
                previous = p
                continue
            row = {}
            if (level, grain, p, d) in pos:
                row[pos[(level, grain, p, d)]] = 1.0
            if (level, grain, previous, d) in pos:
                row[pos[(level, grain, previous, d)]] = -1.0
            for role, sign in (("in", -1.0), ("out", 1.0)):
                key = (flow[role], grain, p, d)
                if key in pos:
                    row[pos[key]] = row.get(pos[key], 0.0) + sign
            if row:
                rows.append(row)
            previous = p
    return rows


def _stock_month_end_rows(block: pd.DataFrame, pos: dict, level: str) -> list[dict[int, float]]:
    """A month's end level = its last week's, per district (and block month), context left out."""
    rows = []
    sub = block[block["q"] == level]
    live = sub[~sub["_context"].astype(bool)] if "_context" in sub else sub
    for _key, group in live.groupby(["district_id"] + (["_bm"] if "_bm" in live else []), sort=False):
        d = _key[0] if isinstance(_key, tuple) else _key
        months = group[group["grain"] == "month"]["period"]
        weeks = sorted(group[group["grain"] == "week"]["period"])
        if len(months) and weeks:
            rows.append({pos[(level, "month", months.iloc[0], d)]: 1.0, pos[(level, "week", weeks[-1], d)]: -1.0})
    return rows


_BLOCKS: "OrderedDict[str, np.ndarray]" = OrderedDict()
_FAILED: dict[str, list] = {}


def audit_release(qcells: pd.DataFrame, metrics: dict, *, k: int, width: float, primary: np.ndarray,
                  start: np.ndarray, frozen: np.ndarray, deadline: float | None = None,
                  store=None) -> tuple[np.ndarray, list[dict]]:
    """Audit every (family, month) block of `qcells` (see ``quantity_cells``); returns the
    withheld mask over `qcells` and one report per block that could not be protected.

    A block answered before (same cells, flags, metric definitions, k and width) takes its
    answer from this process's memory or from `store` (a ``data.audit_cache.Store``: answers
    kept between publishes in the var dir), and a block solved here is kept in both."""
    import time

    fam = families(metrics)
    qcells = qcells.assign(_family=qcells["q"].map(fam).fillna(-1).astype(int),
                           _block=block_month(qcells["period"], qcells["grain"]))
    withheld = np.asarray(start, bool).copy()
    failures = []
    salt = _audit_salt(metrics, k, width)
    cells = {"truth": qcells["truth"].to_numpy(float), "count": (~qcells["part"].to_numpy(bool)),
             "primary": primary, "frozen": frozen, "floor": week_floors(qcells)}
    levels = qcells["level"].to_numpy(bool)
    stock_families = {fam[q] for m in metrics.values() if m.stock for q in [m.counted()["n"]] if q in fam}
    for (family, month), block in qcells.groupby(["_family", "_block"], sort=True):
        block = block.assign(_context=False, _prev=False, _bm=month)
        if family in stock_families and not frozen[block.index.to_numpy()].all():
            block = _with_block_before(block, qcells, family, month, levels)
        own_block = ~(block["_context"].to_numpy(bool) | block["_prev"].to_numpy(bool))
        idx = block.index.to_numpy()
        own_idx = idx[own_block]
        if frozen[own_idx].all():
            continue  # released before, audited then (and with the block after it, above)
        if not withheld[idx].any():
            continue
        key = _block_key(block, withheld[idx], primary[idx], frozen[idx], salt=salt)
        known = _known(key, store, len(own_idx))
        if known is not None:  # the same block as in an earlier publish: the same answer
            withheld[own_idx], block_failures = known
            failures.extend(block_failures)
            continue
        if deadline is not None and time.perf_counter() > deadline:
            failures.append({"block": f"{month:%Y-%m}", "quantities": sorted(set(block["q"])),
                             "metrics": sorted(m for m, x in metrics.items() if set(x.counted().values()) & set(block["q"])),
                             "reason": "not audited in time"})
            withheld[own_idx] = True
            continue
        block_failures = _protect_block(block, f"{month:%Y-%m}", metrics, withheld, cells, k=k, width=width)
        failures.extend(block_failures)
        _keep(key, store, withheld[own_idx].copy(), block_failures)
    return withheld, failures


def _audit_salt(metrics: dict, k: int, width: float) -> bytes:
    """What writes a block's equations and checks besides its cells: the metric definitions
    (what each counts, its stock identity, level or not), k, the width and the auditor version."""
    from data.audit_cache import AUDIT_VERSION

    spec = sorted((mid, sorted(m.counted().items()), sorted(m.stock), m.aggregate) for mid, m in metrics.items())
    return repr((AUDIT_VERSION, k, float(width), spec)).encode()


def _known(key: str, store, size: int) -> tuple[np.ndarray, list[dict]] | None:
    """A kept answer for `key` (memory first, then `store`), if its mask fits the block."""
    if key in _BLOCKS:
        return _BLOCKS[key], list(_FAILED.get(key, []))
    kept = store.get(key) if store is not None else None
    if kept is None or kept[0].shape != (size,):
        return None
    _remember_block(key, *kept)
    return kept[0], list(kept[1])


def _keep(key: str, store, mask: np.ndarray, failures: list[dict]) -> None:
    _remember_block(key, mask, failures)
    if store is not None:
        store.put(key, mask, failures)


def _remember_block(key: str, mask: np.ndarray, failures: list[dict]) -> None:
    _BLOCKS[key] = mask
    if failures:
        _FAILED[key] = failures
    while len(_BLOCKS) > 20_000:
        old, _ = _BLOCKS.popitem(last=False)
        _FAILED.pop(old, None)


def _with_block_before(block: pd.DataFrame, qcells: pd.DataFrame, family: int, month, levels: np.ndarray) -> pd.DataFrame:
    """A stock's block with the block before it. A stock chains the months: the level at the
    end of the month before is the start of this one, so this block's figures narrow the
    withheld cells of the block before. That block takes part whole, as released (frozen; its
    withheld cells must stay protected, primary ones by the width), and the chain starts at the
    last level of the block before it, taken as known (its true figure: stricter than the truth)."""
    previous = month - pd.offsets.MonthBegin(1)
    prev = qcells[(qcells["_family"] == family) & (qcells["_block"] == previous)]
    before = qcells[levels & (qcells["_family"] == family) & (qcells["_block"] < previous)]
    parts = [block, prev.assign(_context=False, _prev=True, _bm=previous)]
    if len(before):
        last = before.groupby(["q", "grain"])["period"].transform("max") == before["period"]
        parts.append(before[last.to_numpy()].assign(_context=True, _prev=False, _bm=previous))
    return pd.concat(parts)


def _protect_block(block: pd.DataFrame, label: str, metrics: dict, withheld: np.ndarray, cells: dict, *,
                   k: int, width: float) -> list[dict]:
    """Audit one block (updating `withheld` in place for its own cells). A metric whose cells
    cannot be protected is held (all its cells withheld) and the rest audited again, up to four
    times. Returns a report per held group of metrics."""
    truth = cells["truth"]
    failures = []
    members = dict(metrics)
    original = withheld.copy()
    for _attempt in range(4):
        part_block = block[block["q"].isin({q for m in members.values() for q in m.counted().values()})]
        if part_block.empty:
            break
        pidx = part_block.index.to_numpy()
        saved = original[pidx].copy()
        equations = block_equations(part_block.reset_index(drop=True), members)
        context = part_block["_context"].to_numpy(bool)
        prev = part_block["_prev"].to_numpy(bool)
        # the block before: its withheld small counts keep their protection width
        small = (truth[pidx] >= 1) & (truth[pidx] <= k - 1) & saved
        result = audit_block(truth[pidx], equations, saved & ~context,
                             primary=(cells["primary"][pidx] & ~context) | (prev & small),
                             count=cells["count"][pidx], frozen=cells["frozen"][pidx] | context | prev, k=k, width=width,
                             floor=cells["floor"][pidx], groups=part_block["district_id"].to_numpy())
        own = ~context & ~prev
        withheld[pidx[own]] = result.withheld[own]
        if result.ok:
            break
        bad = part_block.iloc[list(result.failing)]
        first = bad.iloc[:3]
        examples = ", ".join(f"{q} {g} {p:%Y-%m-%d} {d}" for q, g, p, d in
                             zip(first["q"], first["grain"], first["period"], first["district_id"], strict=False))
        failing_q = set(bad["q"])
        held = {mid for mid, m in members.items() if set(m.counted().values()) & failing_q}
        failures.append({"block": label, "quantities": sorted(failing_q), "metrics": sorted(held),
                         "reason": result.reason + (f" (e.g. {examples})" if examples else "")})
        withheld[pidx[own]] = True
        for mid in held:
            members.pop(mid, None)
        if not held:
            break
    return failures


def week_floors(qcells: pd.DataFrame) -> np.ndarray:
    """A lower bound per quantity cell (NaN: none): a week that straddles two months holds at
    least its days of the month of its Monday (``head``, from the day figures). Where that split
    is not known the week's own figure is the bound (stricter: it can then only be larger)."""
    period = pd.to_datetime(qcells["period"])
    straddles = ((qcells["grain"] == "week") & ~qcells["level"].astype(bool)
                 & (period.dt.month != (period + pd.Timedelta(days=6)).dt.month)).to_numpy(bool)
    truth = qcells["truth"].to_numpy(float)
    head = qcells["head"].to_numpy(float) if "head" in qcells else np.full(len(qcells), np.nan)
    # late data can make today's head larger than the week as released: the smaller of the two
    # is still at least the head as it was then
    bound = np.where(np.isfinite(head), np.fmin(head, truth), truth)
    return np.where(straddles, bound, np.nan)


def _block_key(block: pd.DataFrame, withheld, primary, frozen, salt: bytes = b"") -> str:
    columns = ["q", "grain", "period", "district_id", "truth"] + [c for c in ("head", "_context", "_prev") if c in block]
    cells = pd.util.hash_pandas_object(block[columns], index=False).to_numpy()
    digest = hashlib.blake2b(cells.tobytes(), digest_size=16)
    digest.update(salt)
    for flags_ in (withheld, primary, frozen):
        digest.update(np.asarray(flags_, bool).tobytes())
    return digest.hexdigest()


def primary_quantities(qcells: pd.DataFrame, k: int) -> np.ndarray:
    """Counts in [1, k-1], parts of a whole (on time / late) included."""
    truth = qcells["truth"].to_numpy(float)
    qcells["part"].to_numpy(bool)
    return (truth >= 1) & (truth <= k - 1)


# --------------------------------------------------------------------------- score histograms
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


def protect(cells: pd.DataFrame, metrics: dict, k: int = 10, *, width: float | None = None,
            released: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """`cells` (metric_id, grain, period, district_id, value, numerator, denominator, n) with a
    ``suppressed`` flag set by the release auditor; `metrics`: id -> registry.Metric of every
    metric in `cells` (all suppressible). `released`: cells of earlier releases (with their
    ``suppressed``), which take part unchanged. Returns the new cells and the blocks that could
    not be protected (their cells are still in the frame, all flagged; the caller holds them)."""
    width = (k - 1) if width is None else width
    new = cells.copy()
    new["period"] = pd.to_datetime(new["period"])
    old = released.copy() if released is not None else new.iloc[0:0].assign(suppressed=False)
    old["period"] = pd.to_datetime(old["period"])
    both = pd.concat([old.assign(_new=False), new.assign(_new=True, suppressed=False)], ignore_index=True)
    qcells, links = quantity_cells(both, metrics)
    is_new = both["_new"].to_numpy(bool)
    rows, qids = links["row"].to_numpy(), links["qid"].to_numpy()
    q_new = np.zeros(len(qcells), bool)
    q_new[qids[is_new[rows]]] = True
    q_old = np.zeros(len(qcells), bool)
    q_old[qids[(~is_new & both["suppressed"].to_numpy(bool))[rows]]] = True
    primary = primary_quantities(qcells, k) & q_new
    withheld, failures = audit_release(qcells, metrics, k=k, width=width, primary=primary,
                                       start=primary | q_old, frozen=~q_new)
    flagged = np.zeros(len(both), bool)
    np.logical_or.at(flagged, rows, withheld[qids])
    both["suppressed"] = flagged
    out = both[both["_new"]].drop(columns="_new").reset_index(drop=True)
    return out, failures
