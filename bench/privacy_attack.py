"""An outsider's attack on the public releases (issue 13), written from the issue text alone.

    python -m bench.privacy_attack [--city demo|nyc|both] [--milp-seconds 60] [--k 10]

It reads nothing but what the public site serves (the public snapshot files: the same rows as
the API and the downloads) and, to score the attack, the unsuppressed figures of the ops
snapshot. It shares no code with ``data.privacy`` or ``data.publish``: the equations are the
ones an outsider can write down from the methodology page and the issue:

* city = the sum of the districts, for every count (``n``) of every (metric, week or month);
* weeks and months through their day-level overlaps: every published cell is a sum of
  *segments* (the days between two consecutive week or month starts), so weeks that straddle
  two months tie both months together;
* identities between metrics: the "closed within SLA" n is the "median hours to close" n,
  the citations n is the fine revenue n, and backlog(end) = backlog(start) + opened − closed;
* row presence: a withheld row is at least 1, and a district without a row has 0;
* every earlier release still online: late data only adds records, so a later release's
  figure is an upper bound of the earlier one's and the earlier one a lower bound of the later;
* attack 5 (revisions differenced), 6 (late requests = denominator − numerator, 0 % / 100 %),
  7 (a score histogram from n, the mean and the confidence interval), 8 (record counts of
  exempt metrics) and 9 (data times at one record's minute) are counted directly.

Each withheld count gets its feasible interval from two linear programs (scipy.optimize.linprog,
HiGHS); cells whose LP interval is narrower than the protection width are tightened with the
integer program (scipy.optimize.milp) while the time budget lasts. Equations are solved per
window (a calendar month with the weeks and months that overlap it, all districts, all linked
metrics at once): any subset of the true equations gives a sound attack.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

CITY = "city"
CAP = 1e8  # a bound far above any count, so that no program is unbounded
# quantity each metric's n counts, from the issue: equal counts share one quantity
MERGED = {"sr_closed_within_sla_pct": "closed", "sr_median_hours_to_close": "closed",
          "parking_citations": "citations", "parking_fine_revenue": "citations",
          "sr_opened": "opened", "sr_open_backlog": "open"}
STOCK = ("open", "opened", "closed")  # backlog(end) = backlog(start) + opened - closed


@dataclass
class Report:
    city: str
    cells: int = 0                  # cells of metrics that suppress anything
    withheld: int = 0
    exact: int = 0                  # withheld counts the solver pins to one integer
    primary: int = 0                # withheld counts that are truly in [1, k-1] (from the ops snapshot)
    primary_narrow: int = 0         # ... whose interval is narrower than the protection width
    wrong: int = 0                  # intervals missing the true value (the attack's own sanity check)
    milp_tightened: int = 0
    revised_small: int = 0          # attack 5: published twice, changed by 1..k-1
    derived_small: int = 0          # attack 6: late = denominator - numerator in [1, k-1]
    derived_all_or_none: int = 0    # attack 6: 0 % or 100 % of n >= 1 requests
    histogram_pinned: int = 0       # attack 7: one histogram fits n, mean and the CI
    exempt_small_n: int = 0         # attack 8: published n in [1, k-1] of metrics that withhold nothing
    record_times: int = 0           # attack 9: data times at a record's own minute
    infeasible_windows: int = 0
    seconds: float = 0.0
    examples: list = field(default_factory=list)

    @property
    def information_loss(self) -> float:
        return self.withheld / self.cells if self.cells else 0.0

    def line(self) -> str:
        return (f"{self.city:<14} cells {self.cells:>7,}  withheld {self.withheld:>6,} ({100 * self.information_loss:4.1f} %)  "
                f"exact {self.exact:>5,}  primary narrower than width {self.primary_narrow:>5,} of {self.primary:>5,}  "
                f"revised by 1..k-1 {self.revised_small:>4,}  late 1..k-1 {self.derived_small:>5,}  0/100 % {self.derived_all_or_none:>5,}  "
                f"histogram pinned {self.histogram_pinned:>4,}  exempt n 1..k-1 {self.exempt_small_n:>6,}  "
                f"record times {self.record_times}  (wrong {self.wrong}, infeasible windows {self.infeasible_windows}, "
                f"{self.seconds:.1f} s)")


# --------------------------------------------------------------------------- reading
def read_release(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        values = con.execute("SELECT * FROM metric_values").df()
        metrics = con.execute("SELECT metric_id, aggregate FROM metrics").df()
        times = con.execute("SELECT * FROM source_times").df()
    finally:
        con.close()
    values["period"] = pd.to_datetime(values["period"])
    return {"values": values, "aggregate": dict(zip(metrics["metric_id"], metrics["aggregate"], strict=False)), "times": times}


def _period_end(period: pd.Timestamp, grain: str) -> pd.Timestamp:
    return period + (pd.Timedelta(days=7) if grain == "week" else pd.offsets.MonthBegin(1))


def _quantity(metric_id: str) -> str:
    return MERGED.get(metric_id, metric_id)


# --------------------------------------------------------------------------- the linear system
class Window:
    """Variables and equations of one window: segments x districts per quantity (and backlog
    levels at segment ends)."""

    def __init__(self, start: pd.Timestamp, stop: pd.Timestamp, quantities: dict[str, list[str]]):
        self.bounds = []
        day = start
        while day <= stop:
            if day.weekday() == 0 or day.day == 1 or day in (start, stop):
                self.bounds.append(day)
            day += timedelta(days=1)
        self.pos = {b: i for i, b in enumerate(self.bounds)}
        self.var: dict[tuple, int] = {}
        self.quantities = quantities
        self.rows: list[tuple[dict[int, float], float, float]] = []  # (coefs, low, high)

    def v(self, *key) -> int:
        if key not in self.var:
            self.var[key] = len(self.var)
        return self.var[key]

    def cell_coefs(self, q: str, level: bool, district: str, period: pd.Timestamp, end: pd.Timestamp) -> dict[int, float]:
        ds = [d for d in self.quantities[q] if d != CITY] if district == CITY else [district]
        coefs: dict[int, float] = {}
        if level:  # the backlog at the end of the period
            b = self.pos[end]
            for d in ds:
                coefs[self.v("L", q, d, b)] = 1.0
            return coefs
        i, j = self.pos[period], self.pos[end]
        for d in ds:
            for s in range(i, j):
                coefs[self.v("S", q, d, s)] = 1.0
        return coefs


def _window_cells(values: pd.DataFrame, start, stop) -> pd.DataFrame:
    ends = [_period_end(p, g) for p, g in zip(values["period"], values["grain"], strict=False)]
    values = values.assign(end=ends)
    return values[(values["period"] >= start) & (values["end"] <= stop)]


def _intervals(window: Window, targets: list[tuple], milp_budget: list[float], width: float):
    """LP (and, where narrow, MILP) interval of every target's coefficient row."""
    nvar = len(window.var)
    if nvar == 0:
        return {}, True
    a, lo, hi, kw = _program(window)
    probe = linprog(np.zeros(nvar), **kw)
    if probe.status != 0:
        return {}, False
    cvecs = []
    for _key, coefs in targets:
        c = np.zeros(nvar)
        for j, v in coefs.items():
            c[j] = v
        cvecs.append(c)
    # feasible points found on the way: a target that already differs by `width` between two of
    # them is not narrow, and its own programs are skipped (it cannot be recovered)
    points = [probe.x]
    if cvecs:
        total = np.sum(cvecs, axis=0)
        for sign in (1, -1):
            r = linprog(sign * total, **kw)
            if r.status == 0:
                points.append(r.x)
    out = {}
    for (key, _coefs), c in zip(targets, cvecs, strict=False):
        seen = [float(c @ x) for x in points]
        if max(seen) - min(seen) >= width:
            out[key] = (-math.inf, math.inf, False)  # wide: at least `width` apart
            continue
        out[key] = _target_interval(c, kw, points, (a, lo, hi), width, milp_budget)
    return out, True


def _program(window: Window):
    """The window's rows as a sparse matrix with row bounds, and linprog's keyword arguments
    (equalities where the bounds meet, inequalities on the finite side otherwise)."""
    nvar = len(window.var)
    rows, cols, data, lo, hi = [], [], [], [], []
    for r, (coefs, low, high) in enumerate(window.rows):
        for c, a in coefs.items():
            rows.append(r)
            cols.append(c)
            data.append(a)
        lo.append(low)
        hi.append(high)
    a = sparse.csr_matrix((data, (rows, cols)), shape=(len(window.rows), nvar))
    lo, hi = np.array(lo), np.array(hi)
    eq = lo == hi
    a_eq, b_eq = a[eq], lo[eq]
    ineq = ~eq
    a_ub = sparse.vstack([a[ineq & np.isfinite(hi)], -a[ineq & np.isfinite(lo)]]).tocsr()
    b_ub = np.concatenate([hi[ineq & np.isfinite(hi)], -lo[ineq & np.isfinite(lo)]])
    kw = dict(A_eq=a_eq if a_eq.shape[0] else None, b_eq=b_eq if a_eq.shape[0] else None,
              A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
              bounds=(0, CAP), method="highs")
    return a, lo, hi, kw


def _target_interval(c, kw: dict, points: list, system: tuple, width: float, milp_budget: list[float]):
    """(low, high, tightened) of one target: its LP bounds (the optima join `points`), then,
    when narrower than `width` and the budget allows, the integer programs' bounds."""
    low = linprog(c, **kw)
    high = linprog(-c, **kw)
    for r in (low, high):
        if r.status == 0:
            points.append(r.x)
    lo_v = low.fun if low.status == 0 else -math.inf
    hi_v = -high.fun if high.status == 0 else math.inf
    if hi_v >= CAP / 2:
        hi_v = math.inf
    tightened = False
    if hi_v - lo_v < width and milp_budget[0] > 0:
        t0 = time.perf_counter()
        a, lo, hi = system
        cons = [LinearConstraint(a, lo, hi)]
        integral = np.ones(len(c))
        opts = {"time_limit": max(1.0, min(10.0, milp_budget[0]))}
        m_lo = milp(c, constraints=cons, integrality=integral, bounds=Bounds(0, CAP), options=opts)
        m_hi = milp(-c, constraints=cons, integrality=integral, bounds=Bounds(0, CAP), options=opts)
        if m_lo.status == 0 and m_hi.status == 0:
            tightened = (m_lo.fun > lo_v + 1e-6) or (-m_hi.fun < hi_v - 1e-6)
            lo_v, hi_v = max(lo_v, m_lo.fun), min(hi_v, -m_hi.fun)
        milp_budget[0] -= time.perf_counter() - t0
    return lo_v, hi_v, tightened


def attack(releases: list[Path], truth: pd.DataFrame | None = None, *, k: int = 10, width: float | None = None,
           milp_seconds: float = 30.0, city: str = "city", max_windows: int | None = None,
           metrics: set[str] | None = None) -> Report:
    """Attack the last release of `releases` (earlier ones: still online). `truth`: the
    unsuppressed cells (metric_id, grain, period, district_id, n) to score the attack."""
    width = (k - 1) if width is None else width
    started = time.perf_counter()
    report = Report(city)
    data = [read_release(Path(p)) for p in releases]
    last = data[-1]
    values = last["values"]
    aggregate = last["aggregate"]
    suppressing = set(values.loc[values["suppressed"], "metric_id"])
    report.cells = int(values["metric_id"].isin(suppressing).sum())
    report.withheld = int(values["suppressed"].sum())
    _direct_attacks(report, data, k)

    counted = values[values["metric_id"].isin(suppressing if metrics is None else suppressing & set(metrics))].copy()
    counted["q"] = counted["metric_id"].map(_quantity)
    quantities = {q: sorted(set(part["district_id"])) for q, part in counted.groupby("q")}
    earlier = _earlier_figures(data[:-1])
    truth_n = _truth_counts(truth)
    months = sorted({p for p, g in zip(counted["period"], counted["grain"], strict=False) if g == "month"}
                    | {p.replace(day=1) for p in counted["period"]})
    milp_budget = [milp_seconds]
    families = _families(set(quantities))
    done = set()
    for n_window, month in enumerate(months):
        if max_windows is not None and n_window >= max_windows:
            break
        start = month - pd.Timedelta(days=7)
        stop = month + pd.offsets.MonthBegin(1) + pd.Timedelta(days=7)
        cells = _window_cells(counted, start, stop)
        if cells.empty:
            continue
        for family in families:
            part = cells[cells["q"].isin(family)]
            if not part["suppressed"].any():
                continue
            result = _attack_window(start, stop, month, quantities, part, aggregate, earlier, done, milp_budget, width)
            if result is None:
                report.infeasible_windows += 1
                continue
            _score(report, result, truth_n, done, k=k, width=width)
    report.seconds = time.perf_counter() - started
    return report


def _earlier_figures(older: list[dict]) -> dict:
    """Earlier releases: the same cell's figure bounds this one's from below (late data only adds)."""
    earlier = {}
    for old in older:
        ov = old["values"]
        for row in ov.loc[~ov["suppressed"] & ov["n"].notna()].itertuples():  # exempt metrics publish no n
            earlier[(_quantity(row.metric_id), row.grain, row.period, row.district_id)] = float(row.n)
    return earlier


def _truth_counts(truth: pd.DataFrame | None) -> dict:
    """(metric, grain, period, district) -> true n, to score the attack (empty without truth)."""
    if truth is None:
        return {}
    t = truth.copy()
    t["period"] = pd.to_datetime(t["period"])
    return {(m, g, p, d): n for m, g, p, d, n in zip(t["metric_id"], t["grain"], t["period"], t["district_id"], t["n"],
                                                     strict=False)}


def _attack_window(start, stop, month, quantities, part, aggregate, earlier, done, milp_budget, width):
    """The intervals of one family's withheld cells of `month` in its window, with the
    identities between quantities and, if that system is infeasible, without them (None: both
    infeasible)."""
    for identities in (True, False):
        window = Window(start.normalize(), stop.normalize(), quantities)
        targets = _equations(window, part, aggregate, earlier, identities)
        own = [(key, coefs) for key, coefs in targets
               if key[2] >= month and key[2] < month + pd.offsets.MonthBegin(1) and key not in done]
        result, ok = _intervals(window, own, milp_budget, width)
        if ok:
            return result
    return None


def _score(report: Report, result: dict, truth_n: dict, done: set, *, k: int, width: float) -> None:
    """Count the window's intervals: exact recoveries, wrong intervals and narrow primary cells."""
    for key, (lo_v, hi_v, tightened) in result.items():
        done.add(key)
        low_i = math.ceil(lo_v - 1e-6) if math.isfinite(lo_v) else 0
        high_i = math.floor(hi_v + 1e-6) if math.isfinite(hi_v) else 10**12
        report.milp_tightened += int(tightened)
        if low_i >= high_i:
            report.exact += 1
            if len(report.examples) < 5:
                report.examples.append((key, low_i))
        true = truth_n.get((key[0], key[1], key[2], key[3]))
        if true is not None and not pd.isna(true):
            if not (low_i - 1e-6 <= true <= high_i + 1e-6):
                report.wrong += 1
            if 1 <= true <= k - 1:
                report.primary += 1
                if high_i - low_i < width:
                    report.primary_narrow += 1


def _families(qs: set[str]) -> list[set[str]]:
    stock = {q for q in STOCK if q in qs}
    out = [stock] if stock else []
    return out + [{q} for q in sorted(qs - stock)]


def _equations(window: Window, part: pd.DataFrame, aggregate: dict, earlier: dict, identities: bool):
    targets = []
    levels = set()
    present: dict[tuple, set] = {}
    for row in part.itertuples():
        level = aggregate.get(row.metric_id) == "level"
        if level:
            levels.add(row.q)
        coefs = window.cell_coefs(row.q, level, row.district_id, row.period, row.end)
        present.setdefault((row.metric_id, row.q, level, row.grain, row.period, row.end), set()).add(row.district_id)
        if row.suppressed:
            low = max(1.0, earlier.get((row.q, row.grain, row.period, row.district_id), 1.0))
            window.rows.append((coefs, low, math.inf))  # a withheld row is at least 1
            targets.append(((row.metric_id, row.grain, row.period, row.district_id), coefs))
        else:
            window.rows.append((coefs, float(row.n), float(row.n)))
    for (_metric_id, q, level, _grain, period, end), have in present.items():  # no row: 0
        for d in window.quantities[q]:
            if d != CITY and d not in have:
                window.rows.append((window.cell_coefs(q, level, d, period, end), 0.0, 0.0))
    if identities and {"open", "opened", "closed"} <= (levels | set(part["q"])) and "open" in levels:
        for d in window.quantities["open"]:
            if d == CITY:
                continue
            for s in range(len(window.bounds) - 1):
                coefs = {window.v("L", "open", d, s + 1): 1.0, window.v("L", "open", d, s): -1.0}
                if d in window.quantities.get("opened", []):
                    coefs[window.v("S", "opened", d, s)] = -1.0
                if d in window.quantities.get("closed", []):
                    coefs[window.v("S", "closed", d, s)] = 1.0
                window.rows.append((coefs, 0.0, 0.0))
    return targets


# --------------------------------------------------------------------------- direct attacks
def _histograms(n: int, total: float, squares: tuple[float, float]) -> int:
    """How many score histograms (counts of 1..5) have n answers, this score sum and a sum of
    squares in `squares`."""
    count = 0
    s = int(round(total))
    for c5 in range(n + 1):
        for c4 in range(n - c5 + 1):
            for c3 in range(n - c5 - c4 + 1):
                rest = n - c5 - c4 - c3
                # c1 + c2 = rest, c1 + 2 c2 = s - 5c5 - 4c4 - 3c3
                c2 = s - 5 * c5 - 4 * c4 - 3 * c3 - rest
                c1 = rest - c2
                if c2 < 0 or c1 < 0:
                    continue
                sq = 25 * c5 + 16 * c4 + 9 * c3 + 4 * c2 + c1
                if squares[0] - 1e-6 <= sq <= squares[1] + 1e-6:
                    count += 1
                    if count > 1:
                        return count
    return count


def _t975(df: float) -> float:
    from scipy.stats import t
    return float(t.ppf(0.975, df))


def _decimals(x: float) -> int:
    for d in range(0, 7):
        if abs(round(x, d) - x) < 1e-9:
            return d
    return 9


def _direct_attacks(report: Report, data: list[dict], k: int) -> None:
    last = data[-1]["values"]
    pub = last[~last["suppressed"]]
    # 5: a cell published in two releases with a change of 1..k-1
    if len(data) > 1:
        old = data[-2]["values"]
        old = old[~old["suppressed"]]
        both = pub.merge(old, on=["metric_id", "grain", "period", "district_id"], suffixes=("", "_old"))
        diff = (both["n"].astype(float) - both["n_old"].astype(float)).abs()
        report.revised_small = int(((diff >= 1) & (diff <= k - 1)).sum())
    # 6: count-valued numerators: late = denominator - numerator (SLA: both count requests)
    sla = pub[pub["metric_id"] == "sr_closed_within_sla_pct"].dropna(subset=["numerator", "denominator"])
    late = sla["denominator"] - sla["numerator"]
    report.derived_small = int((((late >= 1) & (late <= k - 1)) | ((sla["numerator"] >= 1) & (sla["numerator"] <= k - 1))).sum())
    report.derived_all_or_none = int(((sla["denominator"] >= 1) & ((late == 0) | (sla["numerator"] == 0))).sum())
    # 7: the score histogram from n, the mean and the CI
    score = pub[(pub["metric_id"] == "satisfaction_score") & pub["n"].notna() & pub["value"].notna()]
    for row in score.itertuples():
        n = int(row.n)
        if n < 2 or n > 60:
            continue
        total = row.value * n if pd.isna(row.numerator) else row.numerator
        if abs(total - round(total)) > 1e-6:
            continue  # the mean is rounded: the sum is not known exactly
        if pd.isna(row.ci_low) or pd.isna(row.ci_high):
            halves = (0.0, 4.0)
        else:
            step = max(10.0 ** -min(_decimals(row.ci_low), _decimals(row.ci_high)), 1e-9)
            tol = step if step > 1e-6 else 1e-6
            options = []
            if row.ci_low > 1 + tol:
                options.append(row.value - row.ci_low)
            if row.ci_high < 5 - tol:
                options.append(row.ci_high - row.value)
            if not options:
                halves = (0.0, 4.0)
            else:
                half = min(options)
                halves = (max(0.0, half - tol), half + tol)
        t = _t975(n - 1)
        sds = [h * math.sqrt(n) / t for h in halves]
        squares = tuple((n - 1) * sd ** 2 + total ** 2 / n for sd in sds)
        if _histograms(n, total, squares) == 1:
            report.histogram_pinned += 1
    # 8: exempt metrics (nothing withheld) with record counts in [1, k-1]
    nothing_withheld = set(last["metric_id"]) - set(last.loc[last["suppressed"], "metric_id"])
    ex = pub[pub["metric_id"].isin(nothing_withheld) & pub["n"].notna()]
    report.exempt_small_n = int(((ex["n"] >= 1) & (ex["n"] <= k - 1)).sum())
    # 9: a data time to the minute or second is one record's own time
    times = pd.to_datetime(data[-1]["times"]["data_time"])
    report.record_times = int(((times.dt.hour != 0) | (times.dt.minute != 0) | (times.dt.second != 0)).sum())


# --------------------------------------------------------------------------- cities
def _truth(ops_path: Path) -> pd.DataFrame:
    con = duckdb.connect(str(ops_path), read_only=True)
    try:
        return con.execute("SELECT metric_id, grain, period, district_id, n FROM metric_values "
                           "WHERE grain IN ('week', 'month')").df()
    finally:
        con.close()


def _late_data(con, when) -> None:
    """Late records for periods already published: a few 311 requests and bike trips."""
    from data import warehouse

    rows = con.execute("SELECT district_id FROM districts WHERE NOT is_joint_area ORDER BY district_id LIMIT 6").fetchall()
    for i, (district,) in enumerate(rows):
        t = when + timedelta(hours=i)
        con.execute("INSERT INTO bike_trips VALUES ($t, $t + INTERVAL 10 MINUTE, 'late', $d, 'member', "
                    "'demo_bikeshare', NULL)", {"t": t, "d": district})
    warehouse.mark_dirty(con, when)


def run_city(name: str, milp_seconds: float, k: int) -> list[Report]:
    import os
    import tempfile
    from datetime import datetime

    var = tempfile.mkdtemp(prefix=f"cityops-attack-{name}-")
    os.environ["CITYOPS_VAR_DIR"] = var
    from data import demo, publish, settings, snapshot, warehouse

    snapshot.reset()
    end = datetime(2026, 11, 1, 12)
    if name == "demo":  # built before the writer opens the warehouse (the build writes the file)
        demo.build(warehouse.path(), seed=7, days=60, end=end, scale=0.2, progress=False)
    con = warehouse.connect(warehouse.path())
    try:
        if name == "demo":
            # two releases across a month boundary: September first (data clock 2 October), then
            # October, whose first week (28 September - 4 October) holds the last days of
            # September; late data for released September and for that week between them
            first = publish.publish(con, now=datetime(2026, 10, 2, 12))
            _late_data(con, datetime(2026, 9, 14, 9))
            _late_data(con, datetime(2026, 9, 29, 9))
            second = publish.publish(con, now=end)
        else:
            from data.ingest import load

            load(con, "nyc", settings.ROOT / "data" / "samples" / "nyc")
            first = publish.publish(con)
            con.execute("INSERT INTO bike_trips SELECT started_at + INTERVAL 1 MINUTE, ended_at + INTERVAL 1 MINUTE, "
                        "'late', district_id, member_type, source_id, NULL FROM bike_trips "
                        "WHERE started_at >= TIMESTAMP '2024-09-10' LIMIT 5")
            warehouse.mark_dirty(con, datetime(2024, 9, 10))
            second = publish.publish(con)
    finally:
        con.close()
    truth = _truth(second.ops_path)
    reports = [attack([first.public_path], _truth(first.ops_path), k=k, milp_seconds=milp_seconds, city=f"{name} r1"),
               attack([first.public_path, second.public_path], truth, k=k, milp_seconds=milp_seconds,
                      city=f"{name} r1+r2")]
    return reports


def scale_bench(warehouse_path: Path, sizes=(71, 300), seed: int = 1) -> list[dict]:
    """Release-auditor time on synthetic cities of N districts: the fixture's district series
    of every suppressible public metric resampled (with replacement) into N districts, the
    city recomputed as their sum; a full release, then the same release again (blocks reused)."""
    from data import privacy, registry

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        cells = con.execute("SELECT metric_id, grain, period, district_id, value, numerator, denominator, n "
                            "FROM metric_values WHERE grain IN ('week', 'month') AND district_id <> 'city' "
                            "AND period >= TIMESTAMP '2026-09-07' AND period < TIMESTAMP '2026-11-01'").df()
    finally:
        con.close()
    metrics = {m.id: m for m in registry.public_metrics() if m.suppress}
    cells = cells[cells["metric_id"].isin(metrics)]
    source = sorted(cells["district_id"].unique())
    rng = np.random.default_rng(seed)
    out = []
    for size in sizes:
        picks = rng.choice(source, size=size, replace=True)
        parts = [cells[cells["district_id"] == d].assign(district_id=f"s{i:04d}") for i, d in enumerate(picks)]
        frame = pd.concat(parts, ignore_index=True)
        city = frame.groupby(["metric_id", "grain", "period"], as_index=False)[["value", "numerator", "denominator", "n"]].sum()
        frame = pd.concat([frame, city.assign(district_id=CITY)], ignore_index=True)
        privacy._BLOCKS.clear()
        t0 = time.perf_counter()
        released, failures = privacy.protect(frame, metrics, 10)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        privacy.protect(frame, metrics, 10)
        again = time.perf_counter() - t0
        out.append({"districts": size, "cells": len(frame), "withheld": int(released["suppressed"].sum()),
                    "audit_s": full, "audit_again_s": again, "held_blocks": len(failures)})
        print(f"{size:>5} districts  {len(frame):>7,} cells  withheld {released['suppressed'].mean():5.1%}  "
              f"audit {full:7.2f} s  again (blocks reused) {again:6.2f} s  held blocks {len(failures)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.privacy_attack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--city", default="both", choices=["demo", "nyc", "both"])
    parser.add_argument("--milp-seconds", type=float, default=60.0, help="time budget of the integer programs per attack")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--snapshots", nargs="*", help="attack these public snapshot files instead (oldest first)")
    parser.add_argument("--truth", help="ops snapshot with the unsuppressed figures (to score --snapshots)")
    parser.add_argument("--scale", help="warehouse of the fixture city: time the auditor at 71 and 300 districts")
    args = parser.parse_args(argv)
    if args.scale:
        scale_bench(Path(args.scale))
        return
    if args.snapshots:
        truth = _truth(Path(args.truth)) if args.truth else None
        print(attack([Path(p) for p in args.snapshots], truth, k=args.k, milp_seconds=args.milp_seconds,
                     city=Path(args.snapshots[-1]).stem[:14]).line())
        return
    for name in (["demo", "nyc"] if args.city == "both" else [args.city]):
        print(f"attacking the {name} city ...", file=sys.stderr, flush=True)
        for report in run_city(name, args.milp_seconds, args.k):
            print(report.line(), flush=True)


if __name__ == "__main__":
    main()
