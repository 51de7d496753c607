"""What the district profile's page, its callbacks and its downloads share: the download
routes, the columns of its two grids, and the trend series (here in data/, so the callbacks
never import the page)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from data import facts, lookups, repository

RECORDS_EXPORT = "/district/<district_id>/requests.csv"  # the district's requests (?category=), streamed
SERIES_EXPORT = "/district/<district_id>/series"  # + .csv / .xlsx ?metric=&grain=: the trend on screen
BRIEFING_PAGE = "/district/<district_id>/briefing"  # ?week=: the weekly briefing (data.briefing), printable
BRIEFING_PDF = "/district/<district_id>/briefing.pdf"  # ?week=: the same, as PDF
FACILITY_COLUMNS = {"facility_id": "Facility", "name": "Name", "kind": "Kind", "capacity": "Capacity",
                    "occupied": "Occupied", "occupancy_pct": "Occupancy %", "last_reading": "Last reading"}
RECORD_COLUMNS = {"request_id": "Request", "created_at": "Created", "closed_at": "Closed", "due_at": "Due",
                  "category": "Category", "channel": "Channel", "status": "Status", "overdue": "Overdue"}


CHOOSER = "/district"  # the signed-in caller's districts (several, or every district)


def my_district_path(principal) -> str:
    """Where "My district" leads: an official of one district to that district's page, anyone
    else (several districts, or every district) to the chooser of their districts."""
    districts = getattr(principal, "districts", None)
    if isinstance(districts, frozenset) and len(districts) == 1:
        return f"/district/{next(iter(districts))}"
    return CHOOSER


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def rank_text(metric, shown, row) -> tuple[str | None, str]:
    """(the rank among all districts, or None, and why not) of one KPI card's number.

    `shown`: the card's facts (data.facts.Facts); `row`: the card's line of
    ``queries/ops/district_rank_all.sql`` (a mapping, or None). A rank needs a complete period,
    a value, and at least the metric's ``min_n`` records behind the district's figure."""
    if shown.period is None:
        return None, "no rank: no complete period yet"
    if shown.partial:
        return None, "no rank: the period is still running"
    if shown.value is None or row is None or row.get("value_rank") is None or row.get("value_rank") != row.get("value_rank"):
        return None, "no rank: no value for this period"
    if shown.n < metric.min_n:
        return None, f"no rank: too few records (n={shown.n:,} < {metric.min_n})"
    ranked, districts = int(row["ranked"]), int(row["districts"])
    of = f"{ranked} districts" if ranked == districts else f"{ranked} districts with a value ({districts} in all)"
    better = "higher is better" if metric.direction == "higher" else "lower is better"
    return f"{place(row, of)} · n = {shown.n:,} · {better}", ""


def place(row, of: str = "") -> str:
    """"3rd highest [of …]", or for a value several districts share, a shared place, not one of
    its own: "joint 12th highest of 59 districts, with 30 others" (thirty-one districts had no
    missed collection that day). `row` holds value_rank and value_ties."""
    ties = row.get("value_ties")
    ties = int(ties) if ties is not None and ties == ties else 1
    text = ("joint " if ties > 1 else "") + f"{ordinal(int(row['value_rank']))} highest" + (f" of {of}" if of else "")
    return text + (f", with {ties - 1:,} other{'s' if ties > 2 else ''}" if ties > 1 else "")


def is_district(district_id, names) -> bool:
    """Whether `district_id` names a district of `names` (the city is not a district)."""
    return isinstance(district_id, str) and district_id in names and district_id != "city"


TREND_DAYS = 91


def trend_window(metric) -> tuple[str, datetime, datetime]:
    """(grain, start, end) of the trend: the last 13 weeks by day up to the latest complete day
    of the metric's own data; a metric published by month only, its last two years."""
    from data.publish import END_OF_TIME  # late: the public site imports this module (its navigation), never publish

    times = lookups.table_times()
    grain = lookups.valid_grain("day", metric)
    newest = times.get(metric.table, (None, False))[0] or datetime.now()
    if grain == "day":
        end = datetime.combine(newest.date(), datetime.min.time())
        return grain, end - timedelta(days=TREND_DAYS), end
    return grain, newest - timedelta(days=2 * 366), END_OF_TIME


def series_frame(metric, district_id: str) -> tuple[pd.DataFrame, str, datetime, datetime]:
    """The city's and the district's series of `metric` over the trend window, zeros filled up
    to the latest complete period (what the chart shows and the series export writes)."""
    grain, start, end = trend_window(metric)
    rows = repository.run("ops/metric_series", metric=metric.id, grain=grain, districts=["city", district_id],
                          start=start, end=end)
    times = lookups.table_times()
    data_time = times.get(metric.table, (None, False))[0]
    latest = facts.last_complete_period(grain, min(end, data_time or end))
    parts = []
    for area in ("city", district_id):
        part = rows[rows["district_id"] == area].sort_values("period")
        part = facts.filled(metric, part, grain=grain, last=latest) if latest is not None else part.iloc[:0]
        parts.append(part.assign(district_id=area)[["district_id", "period", "value", "n"]])
    out = pd.concat(parts, ignore_index=True)
    out.attrs["version"] = rows.attrs.get("version", "")
    return out, grain, start, end
