"""The explorer's view state: parsed from a URL query string (or a callback POST), validated
against allow-lists, turned back into a canonical query string, and the small data frames the
explorer and its exports show. The page layout, its callbacks and the CSV/Excel export all
go through :func:`parse`, so a link, a callback and a download validate the same way.

Dates: a range is half-open ``[start, end)`` on period starts. Relative presets (last 7
days, last month, ...) end at the newest data of the metric's source table, not at the wall
clock, so that a snapshot that is a few hours behind still shows full periods. A custom range
is written in the URL as ``start=YYYY-MM-DD&end=YYYY-MM-DD`` (both days included).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd

from data import facts, lookups, registry, repository
from data.registry import Metric

PRESETS = {
    "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days",
    "mtd": "This month", "month": "Last month", "qtd": "This quarter", "quarter": "Last quarter",
    "ytd": "This year", "year": "Last year", "custom": "Custom",
}
SCALES = {"abs": "Absolute", "per1k": "Per 1,000 residents", "perkm2": "Per km²"}
DEFAULT = {"metric": "bike_trips", "range": "90d", "grain": "day", "scale": "abs"}
MAX_DISTRICTS = 12
MAX_SPAN_DAYS = 3660
MAX_HOURLY_DAYS = 31
EARLIEST = date(2000, 1, 1)
KPI_HISTORY = 30  # periods of history behind each control-limit test
PARAMS = ("domain", "metric", "range", "start", "end", "grain", "districts", "district", "scale")
EXPORT_CSV = "/explore/export.csv"
EXPORT_XLSX = "/explore/export.xlsx"
GEOMETRY = "/explore/geometry.json"  # district outlines, fetched once per outline version


def raw_params(kwargs: dict) -> dict:
    """The explorer's URL parameters as received (bounded), for the callbacks to validate."""
    out = {}
    for key in PARAMS:
        value = kwargs.get(key)
        if isinstance(value, str):
            out[key] = value[:400]
    return out


@dataclass(frozen=True)
class State:
    domain: str
    metric: Metric
    range: str
    start: date          # first day shown
    end: date            # last day shown (included)
    grain: str
    districts: tuple[str, ...]
    scale: str
    anchor: datetime     # the data time the presets end at
    notices: tuple[str, ...] = field(default=())

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    @property
    def end_ts(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time())

    @property
    def span(self) -> timedelta:
        return self.end_ts - self.start_ts

    def query(self) -> dict[str, str]:
        """Canonical URL parameters of this view."""
        out = {"domain": self.domain, "metric": self.metric.id, "range": self.range}
        if self.range == "custom":
            out.update(start=self.start.isoformat(), end=self.end.isoformat())
        out["grain"] = self.grain
        if self.districts:
            out["districts"] = ",".join(self.districts)
        out["scale"] = self.scale
        return out

    def search(self) -> str:
        return "?" + urlencode(self.query(), safe=",")

    def describe(self) -> list[tuple[str, str]]:
        """Human-readable filters, for exports and captions."""
        return [("domain", registry.DOMAIN_LABELS[self.domain]), ("metric", f"{self.metric.label} ({self.metric.id})"),
                ("period", f"{PRESETS[self.range]}: {self.start.isoformat()} to {self.end.isoformat()}"),
                ("granularity", self.grain), ("districts", ",".join(self.districts) or "all"),
                ("scale", SCALES[self.scale])]


def scales_for(metric: Metric) -> list[str]:
    """Per-1,000 only for per-capita metrics; per km² only for counts and levels."""
    out = ["abs"]
    if metric.per_capita:
        out.append("per1k")
    if metric.aggregate in ("sum", "level"):
        out.append("perkm2")
    return out


def _first(value):
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _text(value, limit: int = 64) -> str | None:
    value = _first(value)
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _date(value) -> date | None:
    text = _text(value, 10)
    if text is None or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _month_start(d: date, back: int = 0) -> date:
    index = d.year * 12 + d.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def preset_range(preset: str, anchor: date) -> tuple[date, date]:
    """(first day, last day) of a preset ending at the anchor day."""
    if preset in ("7d", "30d", "90d"):
        return anchor - timedelta(days=int(preset[:-1]) - 1), anchor
    if preset == "mtd":
        return _month_start(anchor), anchor
    if preset == "month":
        first = _month_start(anchor, 1)
        return first, _month_start(anchor) - timedelta(days=1)
    quarter_start = date(anchor.year, 3 * ((anchor.month - 1) // 3) + 1, 1)
    if preset == "qtd":
        return quarter_start, anchor
    if preset == "quarter":
        return _month_start(quarter_start, 3), quarter_start - timedelta(days=1)
    if preset == "ytd":
        return date(anchor.year, 1, 1), anchor
    if preset == "year":
        return date(anchor.year - 1, 1, 1), date(anchor.year - 1, 12, 31)
    raise ValueError(preset)


def anchor_time(metric: Metric, times: dict | None = None) -> datetime:
    """Newest data time of the metric's table (the end of every relative preset)."""
    times = lookups.table_times() if times is None else times
    data_time = times.get(metric.table, (None, False))[0]
    return data_time or datetime.now()


def parse(params: dict, *, names: dict[str, str] | None = None, available: list[Metric] | None = None,
          times: dict | None = None) -> State:
    """A validated State from URL/POST parameters; every unknown or out-of-range value falls
    back to a default and adds a notice. Never raises on input."""
    params = params if isinstance(params, dict) else {}
    notices: list[str] = []
    available = available if available is not None else (lookups.available_metrics() or list(registry.metrics().values()))
    names = names if names is not None else lookups.district_names()
    metric = _metric(params, available, notices)
    anchor = anchor_time(metric, lookups.table_times() if times is None else times)
    preset, start, end = _date_range(params, anchor, notices)
    grain = _grain(params, metric, (end - start).days, notices)
    districts = _districts(params, names, notices)
    scale = _scale(params, metric, notices)
    return State(domain=metric.domain, metric=metric, range=preset, start=start, end=end, grain=grain,
                 districts=tuple(districts), scale=scale, anchor=anchor, notices=tuple(notices))


def _metric(params: dict, available: list[Metric], notices: list[str]) -> Metric:
    """The metric asked for if available, else the domain's first (the default metric first);
    a domain change without a metric of it shows that domain's first."""
    domain = _text(params.get("domain"), 20)
    if domain is not None and domain not in registry.DOMAINS:
        notices.append("Unknown domain; showing all domains.")
        domain = None
    metric = lookups.valid_metric(_text(params.get("metric")))
    if params.get("metric") not in (None, "") and (metric is None or metric.id not in {m.id for m in available}):
        notices.append("Unknown metric; showing the default.")
        metric = None
    if metric is not None and domain is not None and metric.domain != domain:
        metric = None  # the domain was changed: its first metric
    if metric is None:
        pool = [m for m in available if domain is None or m.domain == domain] or available
        metric = next((m for m in pool if m.id == DEFAULT["metric"]), pool[0])
    return metric


def _date_range(params: dict, anchor: datetime, notices: list[str]) -> tuple[str, date, date]:
    """(preset, first day, last day): a known preset ending at the anchor, or valid custom
    dates (given dates alone mean custom), else the default range."""
    preset = _text(params.get("range"), 10)
    start, end = _date(params.get("start")), _date(params.get("end"))
    if preset is None and (start or end):
        preset = "custom"
    if preset is not None and preset not in PRESETS:
        notices.append("Unknown date range; showing the last 90 days.")
        preset = None
    if preset == "custom":
        latest = anchor.date() + timedelta(days=366)
        if (start is None or end is None or start > end or start < EARLIEST or end > latest
                or (end - start).days > MAX_SPAN_DAYS):
            notices.append("Invalid custom dates (use YYYY-MM-DD, start before end, at most 10 years); "
                           "showing the last 90 days.")
            preset = None
    if preset is None:
        preset = DEFAULT["range"]
    if preset != "custom":
        start, end = preset_range(preset, anchor.date())
    return preset, start, end


def _grain(params: dict, metric: Metric, span_days: int, notices: list[str]) -> str:
    """A grain the metric has; hourly only for short ranges."""
    raw_grain = _text(params.get("grain"), 10)
    grain = lookups.valid_grain(raw_grain, metric, default=DEFAULT["grain"])
    if raw_grain is not None and raw_grain != grain:
        notices.append(f"{metric.label} is not available by {raw_grain[:10]}; showing by {grain}.")
    if grain == "hour" and span_days >= MAX_HOURLY_DAYS:
        grain = "day"
        notices.append(f"Hourly values are kept for short ranges only (up to {MAX_HOURLY_DAYS} days); showing by day.")
    return grain


def _districts(params: dict, names: dict[str, str], notices: list[str]) -> list[str]:
    """The known districts chosen (`districts`, or one `district`), at most MAX_DISTRICTS."""
    raw = params.get("districts", params.get("district"))
    if isinstance(raw, str):
        raw = raw.split(",")[:1000]
    districts = lookups.valid_districts(raw if isinstance(raw, list) else [],
                                        {d for d in names if d != "city"}, limit=MAX_DISTRICTS)
    districts = [d for d in districts if d != "city"]
    if isinstance(raw, list) and len([r for r in raw if r not in ("", None)]) > len(districts):
        notices.append("Some districts were not recognised (or more than 12 were given) and are not shown.")
    return districts


def _scale(params: dict, metric: Metric, notices: list[str]) -> str:
    """A scale that applies to the metric, else absolute values."""
    scale = _text(params.get("scale"), 10) or DEFAULT["scale"]
    if scale in scales_for(metric):
        return scale
    if scale in SCALES:
        notices.append(f"{SCALES[scale]} does not apply to {metric.label}; showing absolute values.")
    else:
        notices.append("Unknown scale; showing absolute values.")
    return "abs"


def with_changes(state: State, **changes) -> dict[str, str]:
    """The query of `state` with some parameters changed (for links and click-to-filter)."""
    query = state.query()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query


def toggle_district(state: State, district_id) -> dict[str, str]:
    chosen = list(state.districts)
    if district_id in chosen:
        chosen.remove(district_id)
    elif isinstance(district_id, str):
        chosen = (chosen + [district_id])[-MAX_DISTRICTS:]
    return with_changes(state, districts=",".join(chosen) or None)


# --- data --------------------------------------------------------------------------------

def summarise(metric: Metric, frame: pd.DataFrame) -> pd.Series:
    """One value per district over a range, by the metric's aggregate: sums add up, ratios are
    denominator-weighted, levels take the last period, medians and means the mean of periods."""
    if frame.empty:
        return pd.Series(dtype=float)
    if metric.aggregate == "sum":
        return frame.set_index("district_id")["total"]
    if metric.aggregate == "ratio":
        return frame.set_index("district_id")["weighted"].fillna(frame.set_index("district_id")["mean_value"])
    if metric.aggregate == "level":
        return frame.set_index("district_id")["last_value"]
    return frame.set_index("district_id")["mean_value"]


def scaled(state: State, values: pd.Series, districts: pd.DataFrame) -> pd.Series:
    """`values` (indexed by district_id, 'city' included) in the state's scale."""
    if state.scale == "abs" or values.empty:
        return values
    info = districts.set_index("district_id")
    column = "population" if state.scale == "per1k" else "area_km2"
    base = info[column].astype(float).where(lambda s: s > 0)
    base.loc["city"] = base.sum(skipna=True)
    factor = 1000.0 if state.scale == "per1k" else 1.0
    return values / base.reindex(values.index) * factor


def scaled_metric(state: State) -> Metric:
    """The metric with the unit and format of the chosen scale (for axes, hovers, colour bars)."""
    metric = state.metric
    if state.scale == "per1k":
        return replace(metric, unit=f"{metric.unit} per 1,000 residents", format=",.2f", target=None, warning=None)
    if state.scale == "perkm2":
        return replace(metric, unit=f"{metric.unit} per km²", format=",.1f", target=None, warning=None)
    return metric


def previous_range(state: State) -> tuple[datetime, datetime]:
    return state.start_ts - state.span, state.start_ts


def last_year_range(state: State) -> tuple[datetime, datetime]:
    return (state.start_ts - pd.DateOffset(years=1)).to_pydatetime(), \
        (state.end_ts - pd.DateOffset(years=1)).to_pydatetime()


def district_table(state: State, districts: pd.DataFrame) -> pd.DataFrame:
    """The ranking/table: one row per district the caller may see (and the city), with the value
    over the range in the chosen scale, the previous period's value and the change."""
    metric = state.metric
    current = repository.run("ops/explore_summary", metric=metric.id, grain=state.grain,
                             start=state.start_ts, end=state.end_ts)
    prev_start, prev_end = previous_range(state)
    previous = repository.run("ops/explore_summary", metric=metric.id, grain=state.grain,
                              start=prev_start, end=prev_end)
    now = scaled(state, summarise(metric, current), districts)
    before = scaled(state, summarise(metric, previous), districts)
    info = districts.set_index("district_id")
    rows = pd.DataFrame({"value": now})
    rows["previous"] = before.reindex(rows.index)
    rows["n"] = current.set_index("district_id")["n"].reindex(rows.index) if not current.empty else None
    n_before = previous.set_index("district_id")["n"].reindex(rows.index) if not previous.empty else None
    # a change only against a range the data covers and with enough records on both sides
    # (data.facts): "last year" against a year with a few weeks of data is no comparison
    first = facts.first_times().get(metric.table)
    reasons = pd.Series([facts.comparable_range(metric, n_now=rows["n"].get(d) if rows["n"] is not None else None,
                                                n_before=None if n_before is None else n_before.get(d),
                                                first_time=first, before_start=prev_start)
                         for d in rows.index], index=rows.index, dtype=object)
    rows["change_pct"] = [facts.pct_change(v, p) if not r else None
                          for v, p, r in zip(rows["value"], rows["previous"], reasons, strict=False)]
    rows["change_pct"] = rows["change_pct"].astype(float)
    rows["comparison"] = [r or "" for r in reasons]
    rows.index.name = "district_id"
    rows = rows.reset_index()
    rows["name"] = rows["district_id"].map(info["name"]).fillna("Whole city")
    rows["borough"] = rows["district_id"].map(info["borough"]).fillna("")
    ascending = metric.direction == "lower"
    body = rows[rows["district_id"] != "city"].sort_values("value", ascending=ascending, na_position="last")
    body = body.assign(rank=range(1, len(body) + 1))
    city = rows[rows["district_id"] == "city"].assign(rank=None)
    out = pd.concat([city, body], ignore_index=True)
    # what the table shows is what the exports write: rounded once, here
    out[["value", "previous"]] = out[["value", "previous"]].round(3)
    out["change_pct"] = out["change_pct"].round(1)
    out.attrs["version"] = current.attrs.get("version", "")
    return out[["rank", "district_id", "name", "borough", "value", "previous", "change_pct", "comparison", "n"]]


def shown_rows(state: State, table: pd.DataFrame) -> pd.DataFrame:
    """The table rows on screen: the selected districts (and the city) when any are selected."""
    if not state.districts:
        return table
    return table[table["district_id"].isin({"city", *state.districts})].reset_index(drop=True)


TABLE_COLUMNS = {"rank": "Rank", "district_id": "District id", "name": "District", "borough": "Borough",
                 "value": "Value", "previous": "Previous period", "change_pct": "Change %",
                 "comparison": "Why no change", "n": "Records"}


def context(raw) -> tuple[State, dict, pd.DataFrame, dict]:
    """(state, district names, districts, table times) of the explorer's raw URL values: what
    its callbacks and its downloads start from."""
    names = lookups.district_names()
    available = lookups.available_metrics()
    times = lookups.table_times()
    state = parse(raw if isinstance(raw, dict) else {}, names=names, available=available or None, times=times)
    return state, names, lookups.districts(), times
