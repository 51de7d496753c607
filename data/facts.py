"""The facts of a number, computed in one place for every page.

A KPI on screen is more than a value: how many records it rests on (``n``), which period it
describes and how much of that period its data covers (``through``), what it is compared with
(the *reference*: kind, period, value, n and a label such as "vs Tue 24 Nov, to 06:00"), the
change — or ``None`` with the reason it is not shown — the status against the target — or
``None`` (no colour) with the reason — and the data time with its freshness. The ops overview,
the wall, the explorer, the district profile and the public overview all take their numbers
from here, so two pages can never show two different changes for the same number.

Rules (see the README, *How a number is compared*):

* **Latest** means the latest period of the metric's data, zeros included: a day with no
  record of a count is a 0 for that day, not a reason to show an older day.
* **Like with like**: a partial period is compared with the *same elapsed part* of its
  reference (today to 06:00 vs the same weekday last week to 06:00), a complete period with a
  complete one. The reference of the latest period is computed at publish time by the metric's
  own SQL over the cut reference window (``queries/publish/reference_values.sql``), because
  medians and ratios cannot be added up from hourly rollups. A level (the open backlog) is
  compared with its value at the end of the previous period.
* **Enough records**: no change and no status colour when ``n`` is below the metric's
  ``min_n`` (registry header); a reference below ``min_n``, or one whose period the data does
  not cover, is "no comparable data", never a percentage.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from data.registry import Metric

GRAINS_WITH_WEEK_REFERENCE = ("hour", "day", "week")
_TICK = timedelta(microseconds=1)
GRAIN_LENGTH = {"hour": pd.DateOffset(hours=1), "day": pd.DateOffset(days=1), "week": pd.DateOffset(days=7),
                "month": pd.DateOffset(months=1)}


def known(value) -> bool:
    """Whether a figure is there: not None and not NaN (NaN is the one value not equal to
    itself; a missing figure from a DataFrame or an ops-store row arrives as either)."""
    return value is not None and value == value


# --------------------------------------------------------------------------- periods
def align(ts: datetime, grain: str) -> datetime:
    """The start of the period of `grain` that holds `ts` (weeks start on Monday)."""
    if grain == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown grain {grain!r}")


def period_end(period, grain: str) -> datetime:
    """Where a period of `grain` starting at `period` ends (a month is a calendar month)."""
    return (pd.Timestamp(period) + GRAIN_LENGTH[grain]).to_pydatetime()


def previous_period(period, grain: str) -> datetime:
    return (pd.Timestamp(period) - GRAIN_LENGTH[grain]).to_pydatetime()


@dataclass(frozen=True)
class Window:
    """The latest period of a metric at a grain and the window of its reference."""
    period: datetime
    through: datetime      # the period's data reaches this time (>= its end: complete)
    kind: str              # same_elapsed | whole | previous_end
    ref_period: datetime
    ref_end: datetime      # the reference is made of the records of [ref_period, ref_end)


def reference_window(metric: Metric, grain: str, through: datetime, latest: datetime | None = None) -> Window:
    """Where the latest period of `metric` at `grain` is and what it is compared with, given
    how far its data reaches (`through`) and the newest period with a row (`latest`).

    The reference period is the same period a week earlier (an hour, a day: the same weekday
    last week; a week: the week before) or the month before; a partial period is compared
    with the same elapsed part of it. A level is compared with its value at the end of the
    previous period (a stock has no 'so far')."""
    period = align(through - _TICK, grain)
    if latest is not None and period < latest <= through:
        period = latest  # a reading exactly at a period's start opens that period
    end = period_end(period, grain)
    if metric.aggregate == "level":
        ref = previous_period(period, grain)
        return Window(period, through, "previous_end", ref, period)
    ref = period - timedelta(days=7) if grain in GRAINS_WITH_WEEK_REFERENCE else previous_period(period, grain)
    ref_full_end = period_end(ref, grain)
    if through >= end:
        return Window(period, through, "whole", ref, ref_full_end)
    cut = min(ref + (through - period) + _TICK, ref_full_end)  # `through` itself is included
    return Window(period, through, "same_elapsed", ref, cut)


# --------------------------------------------------------------------------- labels
def _day(ts: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now()
    return f"{ts:%a} {ts.day} {ts:%b}" + ("" if ts.year == now.year else f" {ts.year}")


def period_text(grain: str, period: datetime | None, through: datetime | None = None) -> str:
    """'Tue 1 Dec, to 06:00' for a partial day; 'week of 23 Nov'; 'November 2026'."""
    if period is None:
        return "no data"
    period = pd.Timestamp(period).to_pydatetime()
    partial = through is not None and through < period_end(period, grain)
    if grain == "hour":
        return f"{_day(period)} {period:%H}:00" + (f", to {through:%H:%M}" if partial else "")
    if grain == "day":
        return _day(period) + (f", to {through:%H:%M}" if partial else "")
    if grain == "week":
        return f"week of {period.day} {period:%b}" + (f", to {_day(through)} {through:%H:%M}" if partial else "")
    return f"{period:%B %Y}" + (f", to {through.day} {through:%b} {through:%H:%M}" if partial else "")


def reference_label(grain: str, kind: str, ref_period: datetime, ref_end: datetime | None = None) -> str:
    """'vs Tue 24 Nov, to 06:00', 'vs Mon 23 Nov', 'vs week of 16 Nov', 'vs end of Mon 30 Nov'."""
    ref_period = pd.Timestamp(ref_period).to_pydatetime()
    if grain == "hour":
        name = f"{_day(ref_period)} {ref_period:%H}:00"
    elif grain == "day":
        name = _day(ref_period)
    elif grain == "week":
        name = f"week of {ref_period.day} {ref_period:%b}"
    else:
        name = f"{ref_period:%B %Y}"
    if kind == "previous_end":
        return f"vs end of {name}"
    if kind == "same_elapsed" and ref_end is not None:
        cut = pd.Timestamp(ref_end).to_pydatetime() - _TICK
        to = f"{cut:%H:%M}" if grain in ("hour", "day") else f"{_day(cut)} {cut:%H:%M}"
        return f"vs {name}, to {to}"
    return f"vs {name}"


# --------------------------------------------------------------------------- the facts
@dataclass(frozen=True)
class Reference:
    kind: str                 # same_elapsed | whole | previous_end | previous (the period before)
    period: datetime
    end: datetime | None      # records of [period, end); None = the whole period
    value: float | None
    n: int                    # records behind it (0: no data)
    label: str                # what the screen names it, e.g. "vs Tue 24 Nov, to 06:00"
    complete: bool = True     # the data covers the reference period (not before the data began)


@dataclass(frozen=True)
class Facts:
    metric: Metric
    district: str
    grain: str
    period: datetime | None
    through: datetime | None  # the period's data reaches this time
    value: float | None
    n: int
    reference: Reference | None
    change: float | None      # percent change vs the reference, or None (see change_reason)
    change_reason: str        # why no change is shown ('' when one is)
    status: str | None        # ok | warning | bad | none (no target); None: not rated (status_reason)
    status_reason: str
    data_time: datetime | None
    freshness: str
    simulated: bool
    suppressed: bool = False  # public site: withheld (fewer than k records)

    @property
    def partial(self) -> bool:
        return self.period is not None and self.through is not None and \
            self.through < period_end(self.period, self.grain)

    @property
    def coverage(self) -> float | None:
        """The share of the period its data covers (1.0: complete)."""
        if self.period is None or self.through is None:
            return None
        end = period_end(self.period, self.grain)
        length = (end - pd.Timestamp(self.period).to_pydatetime()).total_seconds()
        return max(0.0, min(1.0, (self.through - pd.Timestamp(self.period).to_pydatetime()).total_seconds() / length))

    @property
    def period_text(self) -> str:
        return period_text(self.grain, self.period, self.through)

    @property
    def change_text(self) -> str:
        """'▲ 12% vs Tue 24 Nov, to 06:00', or the reason there is none."""
        if self.change is None:
            return self.change_reason
        return f"{arrow(self.change)} {self.reference.label}"

    @property
    def shown_status(self) -> str:
        """The status a card shows: 'unrated' when it is not rated (no colour)."""
        return self.status if self.status is not None else "unrated"


def pct_change(value: float | None, before: float | None) -> float | None:
    """Percent change from `before` to `value`; None when either is missing or `before` is 0.
    The only percent change in the code base: every page calls this one."""
    if value is None or before is None or value != value or before != before or before == 0:
        return None
    return (float(value) - float(before)) / abs(float(before)) * 100


def arrow(pct: float) -> str:
    """'▲ 12%', '▼ 3%', or '= 0%' within half a percent."""
    return f"{'▲' if pct > 0.5 else '▼' if pct < -0.5 else '='} {abs(pct):.0f}%"


def assess(metric: Metric, *, value: float | None, n: int, partial: bool,
           reference: Reference | None) -> tuple[float | None, str, str | None, str]:
    """(change, why no change, status, why no status) of one value."""
    status, status_reason = metric.status(value), ""
    if value is None:
        status, status_reason = None, "no value"
    elif n < metric.min_n:
        status, status_reason = None, f"too few records (n={n} < {metric.min_n})"
    elif partial and metric.aggregate == "sum" and metric.target is not None:
        status, status_reason = None, "period still running: a running total is not rated against the target"
    if value is None:
        return None, "no data", status, status_reason
    if n < metric.min_n:
        return None, f"too few records (n={n} < {metric.min_n})", status, status_reason
    if reference is None:
        return None, "no comparable data", status, status_reason
    if not reference.complete:
        return None, "no comparable data (the data begins after the reference period)", status, status_reason
    if reference.value is None or reference.n <= 0:
        return None, "reference has no data", status, status_reason
    if reference.n < metric.min_n:
        return None, f"no comparable data (reference n={reference.n} < {metric.min_n})", status, status_reason
    change = pct_change(value, reference.value)
    if change is None:
        return None, "reference is 0", status, status_reason
    return change, "", status, status_reason


def make(metric: Metric, *, district: str, grain: str, period, through, value, n, reference: Reference | None,
         data_time: datetime | None, now: datetime, simulated: bool = False, suppressed: bool = False) -> Facts:
    value = None if value is None or pd.isna(value) else float(value)
    n = 0 if n is None or pd.isna(n) else int(n)
    period = None if period is None or pd.isna(period) else pd.Timestamp(period).to_pydatetime()
    through = None if through is None or pd.isna(through) else pd.Timestamp(through).to_pydatetime()
    partial = period is not None and through is not None and through < period_end(period, grain)
    change, change_reason, status, status_reason = assess(metric, value=value, n=n, partial=partial,
                                                          reference=reference)
    if suppressed:
        change, change_reason, status, status_reason = None, "withheld (few records)", None, "withheld"
    return Facts(metric=metric, district=district, grain=grain, period=period, through=through, value=value, n=n,
                 reference=reference, change=change, change_reason=change_reason, status=status,
                 status_reason=status_reason, data_time=data_time, freshness=metric.freshness(data_time, now),
                 simulated=simulated, suppressed=suppressed)


def zero_or_none(metric: Metric):
    """The value of a period with no record: 0 for a count or total, nothing for a ratio,
    median or mean (there is nothing to divide or rank)."""
    return 0.0 if metric.aggregate == "sum" else None


# --------------------------------------------------------------------------- readers
def latest(metrics: list[Metric], *, grain: str, district: str, now: datetime | None = None) -> dict[str, Facts]:
    """metric id → the Facts of its latest period at `grain` (or the metric's finest published
    grain above it: monthly tonnage by month) in one district or 'city', from the ops snapshot:
    the reference windows and values publish computed (``ops/facts_latest``)."""
    from data import lookups, repository

    now = now or datetime.now()
    times = lookups.table_times("ops")
    grains = {m.id: lookups.valid_grain(grain, m, default=grain) for m in metrics}
    frames = {g: repository.run("ops/facts_latest", grain=g, district=district).set_index("metric_id")
              for g in sorted(set(grains.values()))}
    out = {}
    for metric in metrics:
        g = grains[metric.id]
        data_time, simulated = times.get(metric.table, (None, False))
        frame = frames[g]
        if metric.id not in frame.index:
            out[metric.id] = make(metric, district=district, grain=g, period=None, through=None, value=None, n=0,
                                  reference=None, data_time=data_time, now=now, simulated=simulated)
            continue
        row = frame.loc[metric.id]
        value, n = row["value"], row["n"]
        if pd.isna(n):  # no row in the latest period: no record at all in it
            value, n = zero_or_none(metric), 0
        ref_n = 0 if pd.isna(row["ref_n"]) else int(row["ref_n"])
        ref_value = row["ref_value"] if ref_n else None
        reference = Reference(kind=row["kind"], period=row["ref_period"].to_pydatetime(),
                              end=row["ref_end"].to_pydatetime(),
                              value=None if ref_value is None or pd.isna(ref_value) else float(ref_value), n=ref_n,
                              label=reference_label(g, row["kind"], row["ref_period"], row["ref_end"]))
        out[metric.id] = make(metric, district=district, grain=g, period=row["period"], through=row["through"],
                              value=value, n=n, reference=reference, data_time=data_time, now=now,
                              simulated=simulated)
    return out


def latest_public(metrics: list[Metric], *, grain: str, district: str,
                  now: datetime | None = None) -> dict[str, Facts]:
    """metric id → the Facts of its latest published (complete) period at `grain` on the public
    site, against the period before it; a withheld cell has no change and no status."""
    from data import lookups, repository

    now = now or datetime.now()
    times = lookups.table_times("public")
    grains = {m.id: lookups.valid_grain(grain, m, default=grain) for m in metrics}
    frames = {g: repository.run("public/facts_latest", grain=g, district=district)
              for g in sorted(set(grains.values()))}
    out = {}
    for metric in metrics:
        g = grains[metric.id]
        frame = frames[g]
        part = frame[frame["metric_id"] == metric.id]
        data_time, simulated = times.get(metric.table, (None, False))
        latest_period = part["latest"].iloc[0] if not part.empty else None
        rows = part.dropna(subset=["period"])
        out[metric.id] = from_series(metric, rows, grain=g, district=district, period=latest_period,
                                     data_time=data_time, now=now, simulated=simulated)
    return out


def from_series(metric: Metric, part: pd.DataFrame, *, grain: str, district: str, period,
                data_time: datetime | None, now: datetime, simulated: bool = False,
                first_time: datetime | None = None, label=None) -> Facts:
    """Facts of the complete period `period` from a series of rows (period, value, n and
    optionally suppressed), compared with the complete period before it: the explorer, the
    district profile and the public site, which show complete periods only. A missing row is
    a period with no record (0 for a count). `first_time`: when the data begins (a reference
    period starting earlier is not covered). `label(ref_period)`: the reference's name."""
    if period is None:
        return make(metric, district=district, grain=grain, period=None, through=None, value=None, n=0,
                    reference=None, data_time=data_time, now=now, simulated=simulated)
    period = pd.Timestamp(period).to_pydatetime()
    rows = part.set_index(pd.to_datetime(part["period"])) if not part.empty else part

    def at(p):
        if not rows.empty and pd.Timestamp(p) in rows.index:
            r = rows.loc[pd.Timestamp(p)]
            r = r.iloc[-1] if isinstance(r, pd.DataFrame) else r
            suppressed = bool(r.get("suppressed", False)) if hasattr(r, "get") else False
            n = 0 if pd.isna(r["n"]) else int(r["n"])
            return (None if pd.isna(r["value"]) else float(r["value"])), n, suppressed
        return zero_or_none(metric), 0, False

    value, n, suppressed = at(period)
    ref_period = previous_period(period, grain)
    ref_value, ref_n, ref_suppressed = at(ref_period)
    reference = Reference(kind="previous", period=ref_period, end=None,
                          value=None if ref_suppressed else ref_value, n=0 if ref_suppressed else ref_n,
                          label=label(ref_period) if label else reference_label(grain, "whole", ref_period),
                          complete=first_time is None or pd.Timestamp(first_time) <= pd.Timestamp(ref_period))
    return make(metric, district=district, grain=grain, period=period, through=period_end(period, grain),
                value=value, n=n, reference=reference, data_time=data_time, now=now, simulated=simulated,
                suppressed=suppressed)


def first_times() -> dict[str, datetime]:
    """raw table → when its data begins (ops snapshot)."""
    from data import repository

    frame = repository.run("ops/table_first_times")
    return {r.table_name: r.first_time.to_pydatetime() for r in frame.itertuples() if not pd.isna(r.first_time)}


def filled(metric: Metric, part: pd.DataFrame, *, grain: str, last) -> pd.DataFrame:
    """`part` (period, value, n) with every period up to `last` present: a period with no row
    had no record (0 for a count, nothing for a ratio), so a quiet day is the latest day, not
    skipped. Periods after `last` are dropped."""
    last = pd.Timestamp(last)
    rows = part[pd.to_datetime(part["period"]) <= last] if not part.empty else part
    first = pd.Timestamp(rows["period"].min()) if not rows.empty else last
    periods = []
    p = first
    while p <= last:
        periods.append(p)
        p = p + GRAIN_LENGTH[grain]
    index = pd.DatetimeIndex(periods, name="period")
    out = rows.assign(period=pd.to_datetime(rows["period"])).set_index("period")[["value", "n"]] \
        if not rows.empty else pd.DataFrame(columns=["value", "n"], index=index[:0])
    out = out.reindex(index)
    missing = out["n"].isna()
    out.loc[missing, "n"] = 0
    out.loc[missing, "value"] = zero_or_none(metric)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    out["n"] = pd.to_numeric(out["n"], errors="coerce").fillna(0).astype(int)
    return out.reset_index()


def last_complete_period(grain: str, through: datetime | None) -> datetime | None:
    """The newest period of `grain` whose data is complete when the data reaches `through`."""
    if through is None:
        return None
    return previous_period(align(through, grain), grain)  # the period holding `through` is still open


def comparable_range(metric: Metric, *, n_now, n_before, first_time: datetime | None,
                     before_start: datetime) -> str:
    """Why a range cannot be compared with the range before it ('' when it can): the data
    begins after that range started, or either side rests on fewer than min_n records."""
    if first_time is not None and pd.Timestamp(first_time) > pd.Timestamp(before_start):
        return "no comparable data"
    for n in (n_now, n_before):
        if n is None or pd.isna(n) or int(n) < metric.min_n:
            return "no comparable data"
    return ""


# --------------------------------------------------------------------------- alerts
@dataclass(frozen=True)
class AlertFacts:
    """The facts an alert rests on, in the same words as the cards: the period judged (always
    complete: the detector never judges a running period), n against the minimum, what it was
    compared with, and why it would not be rated."""
    period_text: str     # 'Tue 24 Nov 13:00', 'week of 16 Nov'
    complete: bool
    n_text: str          # 'n = 230 (minimum 5)'
    reference_text: str  # 'vs the usual for this hour (14 days before)', 'vs target 85.0 %'
    rated: bool
    not_rated: str       # why not ('' when rated)

    @property
    def line(self) -> str:
        """One line for the queue and the ticker."""
        parts = [self.period_text + ("" if self.complete else " (running)"), self.n_text, self.reference_text]
        if not self.rated:
            parts.append("Not rated: " + self.not_rated)
        return " · ".join(p for p in parts if p)


def of_alert(ep: dict, metric: Metric | None) -> AlertFacts:
    """The facts of an alert episode (its last judged period) for every page that shows it."""
    grain = ep.get("grain") if ep.get("grain") in GRAIN_LENGTH else None
    last = ep.get("last_period")
    last = None if last is None or (not isinstance(last, str) and pd.isna(last)) else pd.Timestamp(last).to_pydatetime()
    rule = ep.get("rule")
    if metric is None or grain is None or last is None:
        return AlertFacts(period_text="", complete=True, n_text="", reference_text="", rated=True, not_rated="")
    need = max(metric.min_n, metric.alert.min_n if metric.alert is not None else 1)
    n = ep.get("n")
    n = None if n is None or n != n else int(n)
    if rule == "no_data":
        n_text = "no records"
    else:
        n_text = f"n = {n:,} (minimum {need})" if n is not None else "n unknown"
    target = ep.get("target")
    has_target = target is not None and target == target

    def fmt(v) -> str:
        return f"{metric.format_value(v)} {metric.unit}".strip()

    days = metric.alert.baseline_days if metric.alert is not None else 14
    slot = {"hour": "this hour of the day", "day": "this weekday", "week": "a week"}.get(grain, "this period")
    reference = {
        "anomaly": f"vs the usual for {slot} ({days} days before)",
        "threshold": f"vs target {fmt(target)}" if has_target else "vs target",
        "forecast": f"forecast vs target {fmt(target)}" if has_target else "forecast",
        "no_data": "vs the districts still reporting",
    }.get(rule, "")
    not_rated = ""
    if rule not in ("no_data",) and (n is None or n < need):
        not_rated = f"too few records (n={n if n is not None else 0} < {need})"
    through = period_end(last, grain)
    return AlertFacts(period_text=period_text(grain, last, through), complete=True, n_text=n_text,
                      reference_text=reference, rated=not not_rated, not_rated=not_rated)
