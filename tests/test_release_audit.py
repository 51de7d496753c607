"""The public release withstands a solver (issue 13). Each minimal case is attacked here with
the outsider's own linear program (scipy's HiGHS through ``linprog``, written in this file from
the issue text, sharing nothing with data.privacy): every equation at once, not one group at a
time. Each case recovers a withheld count on the old suppression (``privacy.suppress``)."""
from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from data import privacy, registry

K = 10
WIDTH = K - 1


def _metric(metric_id, **kw):
    base = registry.metrics()["sr_opened"]
    return replace(base, id=metric_id, aggregate=kw.pop("aggregate", "sum"), **kw)


def _cells(rows):
    frame = pd.DataFrame(rows, columns=["metric_id", "grain", "period", "district_id", "n"])
    frame["period"] = pd.to_datetime(frame["period"])
    return frame.assign(value=frame["n"].astype(float), numerator=np.nan, denominator=np.nan)


def _intervals(published: pd.DataFrame, equations) -> dict:
    """Outsider's LP: one variable per cell; `equations(published, var)` yields (coefs, rhs, kind);
    published cells are fixed, withheld ones are >= 1 (a withheld row is at least 1)."""
    keys = list(zip(published["metric_id"], published["grain"], published["period"], published["district_id"], strict=False))
    var = {key: i for i, key in enumerate(keys)}
    bounds = [(float(n), float(n)) if not s else (1.0, None)
              for n, s in zip(published["n_true"], published["suppressed"], strict=False)]
    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for coefs, rhs, kind in equations(published, var):
        row = np.zeros(len(keys))
        for j, c in coefs.items():
            row[j] = c
        if kind == "eq":
            a_eq.append(row)
            b_eq.append(rhs)
        else:  # ">=": -row <= -rhs
            a_ub.append(-row)
            b_ub.append(-rhs)
    kw = dict(A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None, A_ub=np.array(a_ub) if a_ub else None,
              b_ub=b_ub or None, bounds=bounds, method="highs")
    out = {}
    for key, j, s in zip(keys, range(len(keys)), published["suppressed"], strict=False):
        if not s:
            continue
        c = np.zeros(len(keys))
        c[j] = 1
        lo, hi = linprog(c, **kw), linprog(-c, **kw)
        out[key] = (lo.fun if lo.status == 0 else -math.inf, -hi.fun if hi.status == 0 else math.inf)
    return out


def _sums(published, var):
    """city = sum of districts for every (metric, grain, period)."""
    for (m, g, p), group in published.groupby(["metric_id", "grain", "period"]):
        if "city" in set(group["district_id"]):
            yield {var[(m, g, p, d)]: (-1.0 if d == "city" else 1.0) for d in group["district_id"]}, 0.0, "eq"


def _worst(intervals, truth) -> tuple[int, int]:
    """(withheld cells pinned to one integer, primary cells narrower than the width)."""
    exact = narrow = 0
    for key, (lo, hi) in intervals.items():
        width = math.floor(hi + 1e-6) - math.ceil(lo - 1e-6) if math.isfinite(hi) else math.inf
        exact += width < 1
        narrow += 1 <= truth[key] <= K - 1 and width < WIDTH
    return exact, narrow


def _attack(out: pd.DataFrame, cells: pd.DataFrame, equations=_sums):
    published = out.assign(n_true=cells["n"].to_numpy())
    truth = dict(zip(zip(cells["metric_id"], cells["grain"], pd.to_datetime(cells["period"]), cells["district_id"], strict=False),
                     cells["n"], strict=False))
    return _worst(_intervals(published, equations), truth)


def test_a_withheld_row_is_at_least_one():
    """Attack 1: city n = 15 over 15 withheld districts of 1 each: all exactly 1."""
    rows = [("m", "week", "2026-03-02", f"d{i}", 1) for i in range(15)]
    rows += [("m", "week", "2026-03-02", "big", 400), ("m", "week", "2026-03-02", "city", 415)]
    cells = _cells(rows)
    old = privacy.suppress(cells, K)
    assert _attack(old, cells)[0] > 0  # the old rule publishes every district but the small ones
    out, failures = privacy.protect(cells, {"m": _metric("m")}, K)
    assert failures == []
    assert _attack(out, cells) == (0, 0)


def test_backlog_identity_is_audited():
    """Attack 2: backlog(end) = backlog(start) + opened - closed gives a withheld backlog back
    (12 + 39 - 43 = 8), one equation across three metrics."""
    metrics = {"opened": _metric("opened", counts=(("n", "opened_q"),)),
               "closed": _metric("closed", counts=(("n", "closed_q"),)),
               "backlog": _metric("backlog", aggregate="level", counts=(("n", "open_q"),),
                                  stock=(("in", "opened_q"), ("out", "closed_q")))}
    w1, w2 = "2026-03-02", "2026-03-09"
    rows = [("backlog", "week", w1, "a", 12), ("backlog", "week", w1, "b", 30), ("backlog", "week", w1, "city", 42),
            ("backlog", "week", w2, "a", 8), ("backlog", "week", w2, "b", 25), ("backlog", "week", w2, "city", 33),
            ("opened", "week", w2, "a", 39), ("opened", "week", w2, "b", 20), ("opened", "week", w2, "city", 59),
            ("closed", "week", w2, "a", 43), ("closed", "week", w2, "b", 25), ("closed", "week", w2, "city", 68)]
    cells = _cells(rows)

    def equations(published, var):
        yield from _sums(published, var)
        for d in ("a", "b", "city"):  # the outsider writes the identity down
            p1, p2 = pd.Timestamp(w1), pd.Timestamp(w2)
            yield ({var[("backlog", "week", p2, d)]: 1.0, var[("backlog", "week", p1, d)]: -1.0,
                    var[("opened", "week", p2, d)]: -1.0, var[("closed", "week", p2, d)]: 1.0}, 0.0, "eq")

    old = privacy.suppress(cells, K)
    assert _attack(old, cells, equations)[0] > 0
    out, failures = privacy.protect(cells, metrics, K)
    assert failures == []
    assert _attack(out, cells, equations) == (0, 0)


def test_weeks_straddling_months_are_audited():
    """Attack 3: a month and the weeks inside it: a withheld week x <= month - other weeks."""
    # March 2027: Mon 1 Mar .. Wed 31 Mar; weeks starting 1, 8, 15, 22 lie inside, 29 straddles
    weeks = [datetime(2027, 3, 1) + timedelta(days=7 * i) for i in range(4)]
    rows = []
    counts = {"a": [30, 30, 1, 30], "b": [40, 40, 12, 40], "c": [50, 50, 50, 50]}
    for d, series in counts.items():
        for w, n in zip(weeks, series, strict=False):
            rows.append(("m", "week", w, d, n))
        rows.append(("m", "month", datetime(2027, 3, 1), d, sum(series)))  # nothing in the last days
    for w_i, w in enumerate(weeks):
        rows.append(("m", "week", w, "city", sum(s[w_i] for s in counts.values())))
    rows.append(("m", "month", datetime(2027, 3, 1), "city", sum(map(sum, counts.values()))))
    cells = _cells(rows)

    def equations(published, var):
        yield from _sums(published, var)
        for d in list(counts) + ["city"]:  # month >= the weeks inside it (the straddling one adds more)
            coefs = {var[("m", "month", pd.Timestamp(2027, 3, 1), d)]: 1.0}
            coefs.update({var[("m", "week", pd.Timestamp(w), d)]: -1.0 for w in weeks})
            yield coefs, 0.0, "ge"

    old = privacy.suppress(cells, K)
    assert _attack(old, cells, equations)[1] > 0
    out, failures = privacy.protect(cells, {"m": _metric("m")}, K)
    assert failures == []
    assert _attack(out, cells, equations) == (0, 0)


def test_late_requests_are_a_count_too():
    """Attack 6: late = denominator - numerator is a count of requests."""
    sla = registry.metrics()["sr_closed_within_sla_pct"]
    rows = []
    for d, (on_time, closed) in {"a": (40, 43), "b": (30, 60), "c": (50, 80)}.items():
        rows.append(("sr_closed_within_sla_pct", "week", "2026-03-02", d, closed, on_time))
    rows.append(("sr_closed_within_sla_pct", "week", "2026-03-02", "city", 183, 120))
    cells = pd.DataFrame(rows, columns=["metric_id", "grain", "period", "district_id", "n", "numerator"])
    cells["period"] = pd.to_datetime(cells["period"])
    cells = cells.assign(denominator=cells["n"].astype(float), value=100 * cells["numerator"] / cells["n"])
    old = privacy.suppress(cells, K)
    late = (old["denominator"] - old["numerator"])[~old["suppressed"]]
    assert ((late >= 1) & (late <= K - 1)).any()  # the old rule publishes a: 3 late requests
    out, _ = privacy.protect(cells, {sla.id: sla}, K)
    assert out.set_index("district_id").loc["a", "suppressed"]
    # and no withheld part can be worked out from the city: a's and another district's are withheld
    assert out["suppressed"].sum() >= 2


def test_a_mean_score_that_leaves_one_histogram_is_flagged():
    """Attack 7: the mean alone pins a histogram at the ends; the rounded CI does not elsewhere."""
    assert privacy.score_pinned([4.9], [10]).tolist() == [True]     # nine 5s and one 4
    assert privacy.score_pinned([4.0], [10]).tolist() == [False]
    low, high = privacy.mean_ci([3.3], [1.2], [12], 1, 5)
    r_low, r_high = privacy.protect_ci([3.3], [12], low, high)
    assert r_low[0] <= low[0] and r_high[0] >= high[0]
    assert all(abs(v * 10 - round(v * 10)) < 1e-9 for v in (r_low[0], r_high[0]) if v == v)


@pytest.mark.parametrize("n", [1, 3])
def test_the_auditor_says_why_it_cannot_protect(n):
    """A lone district equal to the city: nothing to hide behind, and the city is small too."""
    cells = _cells([("m", "week", "2026-03-02", "a", n), ("m", "week", "2026-03-02", "city", n)])
    out, failures = privacy.protect(cells, {"m": _metric("m")}, K)
    # both withheld: a is >= 1 and the city = a, but nothing bounds them above
    assert out["suppressed"].all() and failures == []


# --------------------------------------------------------------------------- the fixture city
def _public(kind_table="metric_values"):
    from data import snapshot

    with snapshot.cursor("public") as (cur, _version):
        return cur.execute(f"SELECT * FROM {kind_table}").df()


def test_the_solver_attack_recovers_nothing_on_the_fixture_city(published, var_dir):
    """The independent attacker (bench/privacy_attack.py: LP over every equation at once, MILP
    where an interval is narrow) on the published fixture: no withheld count pinned, no primary
    count narrower than the protection width, and every interval holds the truth."""
    from bench import privacy_attack
    from data import publish, snapshot

    snapshot.reset()  # the web side's read-only connections have their own configuration
    pointer = publish.read_pointer()
    truth = privacy_attack._truth(var_dir / pointer["ops"])
    report = privacy_attack.attack([var_dir / pointer["public"]], truth, k=K, milp_seconds=5.0, city="fixture")
    print(report.line())
    assert report.withheld > 0 and report.wrong == 0
    assert report.exact == 0 and report.primary_narrow == 0
    assert report.derived_small == 0 and report.exempt_small_n == 0 and report.record_times == 0


def test_releases_are_final_across_two_publishes_with_late_data(writer, published):
    """Attack 5: late data for a released week used to change its figures by 1..k-1 at the next
    publish; now the released figures stay, and the late data is counted on the release log."""
    from data import publish, snapshot, warehouse
    from tests.conftest import FIXTURE_END

    before = _public()
    district = writer.execute("SELECT min(district_id) FROM districts WHERE NOT is_joint_area").fetchall()[0][0]
    for i in range(3):
        t = datetime(2026, 10, 13, 9) + timedelta(minutes=i)
        writer.execute("INSERT INTO bike_trips VALUES ($t, $t + INTERVAL 10 MINUTE, 'late', $d, 'member', "
                       "'demo_bikeshare', NULL)", {"t": t, "d": district})
    warehouse.mark_dirty(writer, datetime(2026, 10, 13, 9))
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()
    after = _public()
    key = ["metric_id", "grain", "period", "district_id"]
    both = before.merge(after, on=key, suffixes=("", "_after"))
    assert len(both) == len(before)
    for column in ("value", "n", "suppressed"):
        same = (both[column] == both[column + "_after"]) | (both[column].isna() & both[column + "_after"].isna())
        assert same.all(), both.loc[~same, key + [column, column + "_after"]].head().to_string()
    late = writer.execute("SELECT late_cells FROM public_release_log ORDER BY published_at DESC LIMIT 1").fetchall()[0][0]
    assert late > 0


def test_public_data_times_are_period_ends_not_record_times(published):
    """Attack 9: the newest record's minute was the public data time."""
    times = pd.to_datetime(_public("source_times")["data_time"])
    assert len(times) and ((times.dt.hour == 0) & (times.dt.minute == 0) & (times.dt.second == 0)).all()


def test_exempt_metrics_publish_their_figure_not_their_record_count(published):
    """Attack 8: tonnage cells published n in [1, 9] (weigh records)."""
    frame = _public()
    open_ids = [m.id for m in registry.public_metrics() if not m.suppress]
    exempt = frame[frame["metric_id"].isin(open_ids)]
    assert len(exempt) and exempt["n"].isna().all() and exempt["value"].notna().any()


# --------------------------------------------------------------------------- two releases
def _day_city(seed: int, start="2027-02-22", stop="2027-05-02", districts=None) -> pd.DataFrame:
    """Day-level counts of a small city: each district's rate changes every three days (often
    0), so weeks that straddle two months split unevenly between them."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, stop)
    rows = []
    for i in range(districts or int(rng.integers(2, 5))):
        level = rng.choice([0, 0, 0.2, 1, 3, 8], size=len(days) // 3 + 1)[(days - days[0]).days // 3]
        rows += [(day, f"d{i}", int(rng.poisson(lam))) for day, lam in zip(days, level, strict=False)]
    return pd.DataFrame(rows, columns=["day", "district_id", "n"])


def _block_cells(days: pd.DataFrame, month: str) -> pd.DataFrame:
    """The cells a release of `month` publishes: the month and every week whose Sunday is in it,
    per district and the city, with the head of a straddling week (its days in the month of its
    Monday, from the day figures, as the publisher has them)."""
    month = pd.Timestamp(month)
    following = month + pd.offsets.MonthBegin(1)
    periods = [("month", month, following)]
    week = month + pd.Timedelta(days=(6 - month.weekday()) % 7) - pd.Timedelta(days=6)
    while week + pd.Timedelta(days=6) < following:
        periods.append(("week", week, week + pd.Timedelta(days=7)))
        week += pd.Timedelta(days=7)
    rows = []
    for grain, start, stop in periods:
        inside = days[(days["day"] >= start) & (days["day"] < stop)]
        cut = start + pd.offsets.MonthBegin(1) if grain == "week" and start.month != (start + pd.Timedelta(days=6)).month else None
        for d, part in list(inside.groupby("district_id")) + [("city", inside)]:
            head = part.loc[part["day"] < cut, "n"].sum() if cut is not None else np.nan
            rows.append(("m", grain, start, d, int(part["n"].sum()), head))
    frame = pd.DataFrame(rows, columns=["metric_id", "grain", "period", "district_id", "n", "head_n"])
    return frame.assign(value=frame["n"].astype(float), numerator=np.nan, denominator=np.nan)


def _segment_attack(releases: list[pd.DataFrame]) -> tuple[int, int, list]:
    """The outsider's LP over every equation of every release at once. Unknowns: each district's
    count on each *segment* (the days between two consecutive week or month starts), >= 0; every
    published cell is the sum of its segments (the city: of every district's), every withheld
    one at least 1. Returns (withheld cells pinned, primary cells narrower than the width, ...)."""
    cells = pd.concat(releases, ignore_index=True)
    end = [p + (pd.Timedelta(days=7) if g == "week" else pd.offsets.MonthBegin(1)) for g, p in zip(cells["grain"], cells["period"], strict=False)]
    cells = cells.assign(end=end)
    first, last = cells["period"].min(), max(end)
    bounds = [d for d in pd.date_range(first, last) if d.weekday() == 0 or d.day == 1 or d in (first, last)]
    at = {b: i for i, b in enumerate(bounds)}
    districts = sorted(set(cells["district_id"]) - {"city"})
    nseg = len(bounds) - 1
    a_eq, b_eq, a_ub, b_ub, targets = [], [], [], [], []
    for row in cells.itertuples():
        coefs = np.zeros(len(districts) * nseg)
        for d in (districts if row.district_id == "city" else [row.district_id]):
            coefs[districts.index(d) * nseg + at[row.period]: districts.index(d) * nseg + at[row.end]] = 1.0
        if row.suppressed:
            a_ub.append(-coefs)
            b_ub.append(-1.0)
            targets.append((row, coefs))
        else:
            a_eq.append(coefs)
            b_eq.append(float(row.n))
    kw = dict(A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None, A_ub=np.array(a_ub) if a_ub else None,
              b_ub=b_ub or None, bounds=(0, None), method="highs")
    exact = narrow = 0
    bad = []
    for row, coefs in targets:
        lo, hi = linprog(coefs, **kw), linprog(-coefs, **kw)
        assert lo.status == 0 and hi.status in (0, 3)
        width = math.floor(-hi.fun + 1e-6) - math.ceil(lo.fun - 1e-6) if hi.status == 0 else math.inf
        exact += width < 1
        if 1 <= row.n_true <= K - 1 and width < WIDTH:
            narrow += 1
            bad.append((row.grain, f"{row.period:%Y-%m-%d}", row.district_id, row.n_true, lo.fun, -hi.fun))
    return exact, narrow, bad


@pytest.mark.parametrize("seed", [2, 5, 11])
def test_two_releases_across_a_month_boundary_recover_nothing(seed):
    """Attack 3 across releases: March is released, then April with the week of 29 March -
    4 April, which holds the last days of March. The attacker writes every equation of both
    releases at once (segments of days, so the straddling week ties both months). Old auditor:
    seed 2's April week of 5 April (2 requests) fell in [1, 7] (the week of 29 March holds its
    March days, which the block's "month >= its weeks" relation let go below)."""
    days = _day_city(seed)
    march, april = _block_cells(days, "2027-03-01"), _block_cells(days, "2027-04-01")
    metrics = {"m": _metric("m")}
    first, failures = privacy.protect(march, metrics, K)
    second, failures_2 = privacy.protect(april, metrics, K, released=first)
    assert failures == [] and failures_2 == []
    releases = [first.assign(n_true=march["n"].to_numpy()), second.assign(n_true=april["n"].to_numpy())]
    exact, narrow, bad = _segment_attack(releases)
    assert (exact, narrow) == (0, 0), bad


def test_a_backlog_withheld_in_one_release_stays_protected_by_the_next():
    """Attack 2 across releases: March's backlog of district a (5) is withheld; April's release
    publishes the April backlog, opened and closed, so backlog(March) = backlog(April) - opened
    + closed. The attacker uses both releases at once. (A guard for the auditor's joint audit of
    a stock's block with the block before it; the old auditor also passes this case.)"""
    metrics = {"opened": _metric("opened", counts=(("n", "opened_q"),)),
               "closed": _metric("closed", counts=(("n", "closed_q"),)),
               "backlog": _metric("backlog", aggregate="level", counts=(("n", "open_q"),),
                                  stock=(("in", "opened_q"), ("out", "closed_q")))}
    mar, apr = "2027-03-01", "2027-04-01"
    figures = {  # (backlog, opened, closed) per district and month
        mar: {"a": (5, 40, 40), "b": (60, 200, 210), "c": (70, 220, 200)},
        apr: {"a": (12, 33, 26), "b": (55, 180, 185), "c": (64, 230, 236)},
    }
    releases = []
    for month in (mar, apr):
        rows = []
        for metric, i in (("backlog", 0), ("opened", 1), ("closed", 2)):
            for d, values in figures[month].items():
                rows.append((metric, "month", month, d, values[i]))
            rows.append((metric, "month", month, "city", sum(v[i] for v in figures[month].values())))
        releases.append(_cells(rows))
    first, failures = privacy.protect(releases[0], metrics, K)
    assert failures == []
    second, failures = privacy.protect(releases[1], metrics, K, released=first)
    assert failures == []
    published = pd.concat([first.assign(n_true=releases[0]["n"].to_numpy()),
                           second.assign(n_true=releases[1]["n"].to_numpy())], ignore_index=True)
    cells = pd.concat(releases, ignore_index=True)

    def equations(published, var):
        yield from _sums(published, var)
        p1, p2 = pd.Timestamp(mar), pd.Timestamp(apr)
        for d in ("a", "b", "c", "city"):
            yield ({var[("backlog", "month", p2, d)]: 1.0, var[("backlog", "month", p1, d)]: -1.0,
                    var[("opened", "month", p2, d)]: -1.0, var[("closed", "month", p2, d)]: 1.0}, 0.0, "eq")

    truth = dict(zip(zip(cells["metric_id"], cells["grain"], pd.to_datetime(cells["period"]), cells["district_id"], strict=False),
                     cells["n"], strict=False))
    assert _worst(_intervals(published, equations), truth) == (0, 0)


def test_all_or_none_shares_are_published_only_over_k_or_more_records():
    """Attack 6, 0 % and 100 %: "every request was on time" tells the late count (0) and the
    on-time count (n). Published only where n >= k, so neither is a small count; where a part
    (on time or late) is small the share is withheld, and the withheld parts cannot be worked
    out from the city's."""
    sla = registry.metrics()["sr_closed_within_sla_pct"]
    parts = {"a": (12, 12), "b": (0, 15), "c": (3, 3), "d": (40, 43), "e": (30, 60), "f": (0, 4)}
    rows = [("sr_closed_within_sla_pct", "week", "2026-03-02", d, closed, on_time) for d, (on_time, closed) in parts.items()]
    rows.append(("sr_closed_within_sla_pct", "week", "2026-03-02", "city", sum(c for _, c in parts.values()),
                 sum(o for o, _ in parts.values())))
    cells = pd.DataFrame(rows, columns=["metric_id", "grain", "period", "district_id", "n", "numerator"])
    cells["period"] = pd.to_datetime(cells["period"])
    cells = cells.assign(denominator=cells["n"].astype(float), value=100 * cells["numerator"] / cells["n"])
    out, failures = privacy.protect(cells, {sla.id: sla}, K)
    assert failures == []
    shown = out[~out["suppressed"]].set_index("district_id")
    ends = shown[shown["value"].isin([0.0, 100.0])]
    assert (ends["n"] >= K).all()
    assert {"c", "d", "f"} <= set(out.loc[out["suppressed"], "district_id"])  # 3 closed; 3 late; 4 closed
    late = shown["denominator"] - shown["numerator"]
    assert not ((late >= 1) & (late <= K - 1)).any() and not ((shown["numerator"] >= 1) & (shown["numerator"] <= K - 1)).any()
