"""District profile callbacks: KPI cards against the city median and peers, and the records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, dcc, html, no_update

from callbacks import common
from data import access, annotations, control_limits, facts, ops_store, registry, repository
from data import district_profile as page
from data.publish import END_OF_TIME
from data.web import guard
from layouts import components, figures, ids

HISTORY_DAYS = 42
RECORDS_LIMIT = 2000




def out_of_scope(district_id, names) -> list | None:
    """The notice for a district the caller may not open (None: they may): a known district
    outside their districts is named as such, an unknown id said to be unknown; then the list
    of the caller's own districts."""
    principal = access.current()
    if page.is_district(district_id, names) and principal is not None and principal.sees(district_id):
        return None
    visible = [d for d in names if d != "city" and principal is not None and principal.sees(d)]
    choices = html.Ul([html.Li(dcc.Link(names[d], href=f"/district/{d}")) for d in visible],
                      className="district-list")
    if page.is_district(district_id, names):
        text = (f"{names[district_id]} is outside your districts: your account may not see its figures or "
                "records. Your districts:")
    elif isinstance(district_id, str) and district_id and district_id != "city":
        text = f"There is no district with the id {district_id[:40]!r}. Your districts:"
    else:
        text = "No district chosen. Your districts:"
    return [components.notice(text), choices]


@dash.callback(
    Output(ids.DISTRICT_NOTICE, "children"),
    Output(ids.DISTRICT_KPIS, "children"),
    Output(ids.DISTRICT_SUMMARY, "children"),
    Input(ids.DISTRICT_ID, "data"),
)
@guard.requires("read")
@common.guarded("District profile", "message", None)
def district_profile(district_id):
    names = common.district_names()
    refused = out_of_scope(district_id, names)
    if refused is not None:
        title = f"{names[district_id]}: outside your districts" if page.is_district(district_id, names) else "District profile"
        return title, refused, None
    info = common.districts().set_index("district_id").loc[district_id]
    times = common.table_times()
    metrics = common.available_metrics()
    windows = _windows(metrics, times)
    principal = access.current()
    # the borough median of a few districts is a peer's own figure (of three, always one of them):
    # a caller who may not see every peer gets the district's rank among them instead
    exact_peers = principal is not None and principal.districts == access.ALL
    history, medians, ranks = _history_and_peers(district_id, windows, principal, exact_peers)
    # the period each card shows (the latest complete period of its own data, zeros included)
    shown_at = {}
    for metric in metrics:
        grain, _start, end = windows[metric.id]
        data_time = times.get(metric.table, (None, False))[0]
        shown_at[metric.id] = facts.last_complete_period(grain, min(end, data_time or end))
    spread = _spread(district_id, metrics, windows, shown_at)
    city_median = medians[medians["borough"].isna()].set_index("metric_id")["median_value"]
    # a metric with no district figure anywhere (citywide-only sources: MTA, DOT counts) has no place here
    metrics = [m for m in metrics if m.id in city_median.index]
    peers = medians[medians["borough"] == info["borough"]].set_index("metric_id") if exact_peers else None
    context = _CardContext(district_id, info["borough"], times, facts.first_times(), datetime.now(), history,
                           spread, city_median, peers, ranks)
    cards = [_card(metric, windows[metric.id][0], shown_at[metric.id], context) for metric in metrics]
    return names[district_id], cards, _summary(district_id, info)


def _windows(metrics, times: dict) -> dict[str, tuple[str, datetime, datetime]]:
    """(grain, start, end) per metric. Each metric by day up to the latest complete day of its
    own data (a city's sources end at different times); a metric published by month only
    (monthly tonnage) by month, whose loaded months are complete: the last two years of them."""
    windows = {}
    for metric in metrics:
        grain = common.valid_grain("day", metric)
        newest = times.get(metric.table, (None, False))[0] or datetime.now()
        if grain == "day":
            end = datetime.combine(newest.date(), datetime.min.time())
            windows[metric.id] = (grain, end - timedelta(days=HISTORY_DAYS), end)
        else:
            windows[metric.id] = (grain, newest - timedelta(days=2 * 366), END_OF_TIME)
    return windows


def _history_and_peers(district_id: str, windows: dict, principal, exact_peers: bool):
    """The district's history, the city and borough medians, and (for a caller who may not
    see every peer) its rank among its borough's districts, one query per distinct window."""
    history, medians, ranks = [], [], []
    for grain, start, end in sorted(set(windows.values())):
        ids_at = [m for m, w in windows.items() if w == (grain, start, end)]
        history.append(repository.run("ops/metric_history", metrics=ids_at, grain=grain, district=district_id,
                                      start=start, end=end))
        at = repository.run("ops/district_medians", grain=grain, before=end)
        medians.append(at[at["metric_id"].isin(ids_at)])
        if not exact_peers and principal is not None and principal.sees(district_id):
            rank = repository.run("ops/district_peer_rank", grain=grain, before=end, district=district_id)
            ranks.append(rank[rank["metric_id"].isin(ids_at)])
    ranks = (pd.concat(ranks, ignore_index=True) if ranks else pd.DataFrame(columns=["metric_id"])).set_index("metric_id")
    return pd.concat(history, ignore_index=True), pd.concat(medians, ignore_index=True), ranks


def _spread(district_id: str, metrics, windows: dict, shown_at: dict) -> pd.DataFrame:
    """Rank and spread among ALL districts at exactly the period each card shows (aggregates,
    no peer's row), indexed by metric_id."""
    spread = []
    for grain in sorted({w[0] for w in windows.values()}):
        at = [m for m in metrics if windows[m.id][0] == grain and shown_at[m.id] is not None]
        if at:
            spread.append(repository.run(
                "ops/district_rank_all", grain=grain, metrics=[m.id for m in at],
                periods=[shown_at[m.id] for m in at], district=district_id,
                zero_metrics=[m.id for m in at if facts.zero_or_none(m) == 0]))
    return (pd.concat(spread, ignore_index=True) if spread else pd.DataFrame(columns=["metric_id"])) \
        .set_index("metric_id")


@dataclass(frozen=True)
class _CardContext:
    """What every card of one district profile reads: the district, the data times and the
    figures fetched once for all cards. `peers`: borough medians (None: use `ranks`)."""

    district_id: str
    borough: str
    times: dict
    first: dict
    now: datetime
    history: pd.DataFrame
    spread: pd.DataFrame
    city_median: pd.Series
    peers: pd.DataFrame | None
    ranks: pd.DataFrame


def _card(metric, grain: str, latest, c: _CardContext):
    """One metric's card: the latest complete period of the metric's own data, zeros included
    (a quiet day is the latest day, not skipped), against the period before it (data.facts),
    with its comparisons, control-chart signal and sparkline."""
    data_time, simulated = c.times.get(metric.table, (None, False))
    part = facts.filled(metric, c.history[c.history["metric_id"] == metric.id].sort_values("period"),
                        grain=grain, last=latest)
    shown = facts.from_series(metric, part, grain=grain, district=c.district_id, period=latest,
                              data_time=data_time, now=c.now, simulated=simulated,
                              first_time=c.first.get(metric.table))
    values = [float(v) if v == v else None for v in part["value"]]
    href = "/explore?" + urlencode({"metric": metric.id, "districts": c.district_id, "range": "30d",
                                     "grain": grain}, safe=",")
    return components.kpi_card(
        shown, variant="signal", title=registry.DOMAIN_LABELS[metric.domain],
        signal=control_limits.test(values, fmt=metric.format_value),
        comparisons=_comparisons(metric, shown, latest, c), sparkline=figures.sparkline_svg(values[-30:], colour="#0b5cad"),
        href=href,
    )


def _comparisons(metric, shown, latest, c: _CardContext) -> list[tuple]:
    """Rank and spread among all districts (only of the card's own period), the city median,
    and the borough median or rank."""
    row = c.spread.loc[metric.id].to_dict() if metric.id in c.spread.index else None
    if row is not None and row.get("period") is not None and latest is not None \
            and pd.Timestamp(row["period"]) != pd.Timestamp(latest):
        row = None  # never a rank of another period than the card's
    rank, why_not = page.rank_text(metric, shown, row)
    comparisons = [("Among all districts", html.Span(rank or why_not, className="district-rank"
                                                      + ("" if rank else " district-rank--none")))]
    if row is not None:
        picture = figures.spread_svg(row["p10"], row["p25"], row["p50"], row["p75"], row["p90"], shown.value)
        if picture:
            comparisons.append(("Where we sit", html.Img(
                src=picture, className="district-spread",
                alt=(f"10th–90th percentile of all districts {metric.format_value(row['p10'])}–"
                     f"{metric.format_value(row['p90'])}, median {metric.format_value(row['p50'])}, "
                     f"this district {metric.format_value(shown.value)}"))))
    comparisons.append(("City median", metric.format_value(c.city_median.get(metric.id))))
    if c.peers is not None and metric.id in c.peers.index:
        peer = c.peers.loc[metric.id]
        comparisons.append((f"{c.borough} median ({int(peer['districts'])} districts)",
                            metric.format_value(peer["median_value"])))
    elif metric.id in c.ranks.index:
        peer = c.ranks.loc[metric.id]
        comparisons.append((f"Among {int(peer['districts'])} {c.borough} districts", page.place(peer)))
    return comparisons


def _summary(district_id: str, info: pd.Series):
    """Borough, residents and area, with links to the explorer and the briefing."""
    population = "–" if pd.isna(info["population"]) else f"{int(info['population']):,}"
    return html.P([f"{info['borough']} · {population} residents · {float(info['area_km2']):,.1f} km² · ",
                   dcc.Link("open in the explorer", href=f"/explore?districts={district_id}"), " · ",
                   html.A("weekly briefing (print, PDF)", href=f"/district/{district_id}/briefing")],
                  className="text-muted")


def district_events(district_id: str, domain: str | None, start: datetime, end: datetime) -> pd.DataFrame:
    """Recorded incidents and officials' annotations overlapping [start, end) for the district
    (or city-wide) and the domain (or every domain); scoped to the caller."""
    incidents = repository.run("ops/incidents", start=start, end=end)
    try:
        notes = access.scope_frame(annotations.between(start, end, domain=domain))
    except ops_store.Busy:
        notes = incidents.iloc[0:0]
    frames = [f for f in (incidents, notes) if not f.empty]
    if not frames:
        return incidents
    events = pd.concat(frames, ignore_index=True)
    keep = (events["district_id"].isna() | (events["district_id"] == district_id)) & \
        (events["domain"].isna() | (events["domain"] == domain))
    return events[keep].sort_values("starts_at").reset_index(drop=True)


@dash.callback(
    Output(ids.DISTRICT_TREND, "figure"),
    Output(ids.DISTRICT_EVENTS, "children"),
    Output(ids.DISTRICT_SERIES_EXPORT, "children"),
    Input(ids.DISTRICT_ID, "data"),
    Input(ids.DISTRICT_TREND_METRIC, "value"),
)
@guard.requires("read")
@common.guarded(figures.empty("No data"), "message", None)
def district_trend(district_id, metric_id):
    names = common.district_names()
    if out_of_scope(district_id, names) is not None:
        return figures.empty("Outside your districts" if page.is_district(district_id, names) else "No district"), None, None
    metric = common.valid_metric(metric_id) if isinstance(metric_id, str) else None
    if metric is None or metric.id not in {m.id for m in common.available_metrics()}:
        return figures.empty("Pick a metric"), None, None
    frame, grain, start, _end = page.series_frame(metric, district_id)
    if frame.empty:
        return figures.empty("No complete period yet"), None, None
    span_end = facts.period_end(frame["period"].max(), grain)
    events = district_events(district_id, metric.domain, start, span_end)
    fig = figures.district_trend(frame[frame["district_id"] == "city"], frame[frame["district_id"] == district_id],
                                 metric, district_name=names[district_id], events=events)
    if events.empty:
        listed = html.P("No recorded incident or annotation in this period for this district or the whole city.",
                        className="text-muted")
    else:
        listed = html.Div([html.Strong(f"{len(events)} incidents and annotations in this period: "), html.Ul([
            html.Li(f"{r.starts_at:%d %b %Y}–{r.ends_at:%d %b %Y} · {r.kind} · {r.title}"
                    + (" (whole city)" if r.district_id is None or r.district_id != r.district_id else ""))
            for r in events.itertuples()])])
    query = urlencode({"metric": metric.id, "grain": grain})
    base = page.SERIES_EXPORT.replace("<district_id>", district_id)
    links = [html.Span(f"{metric.label} by {grain}, {names[district_id]} and the whole city. Download this series: ",
                       className="text-muted"),
             html.A("CSV", href=f"{base}.csv?{query}", className="btn btn-outline-primary btn-sm me-1", download=""),
             html.A("Excel", href=f"{base}.xlsx?{query}", className="btn btn-outline-primary btn-sm", download="")]
    return fig, listed, links


@dash.callback(
    Output(ids.DISTRICT_RECORDS_GRID, "rowData"),
    Output(ids.DISTRICT_RECORDS, "children"),
    Output(ids.DISTRICT_RECORDS_CATEGORY, "options"),
    Input(ids.DISTRICT_ID, "data"),
    Input(ids.DISTRICT_RECORDS_CATEGORY, "value"),
)
@guard.requires("read")
@common.guarded([], "message", no_update)
def district_records(district_id, category):
    # Record-level data needs the "records" permission (checked again by the data layer: the
    # queries are `-- access: records`). Without it the page says so instead of failing with a
    # 403 the browser logs as an error.
    if not access.current().can("records"):
        return [], components.notice("Your account does not include record-level data (individual service "
                                     "requests); the figures above are all it shows.", color="secondary"), []
    names = common.district_names()
    if not page.is_district(district_id, names) or not access.current().sees(district_id):
        return [], None, []
    categories = repository.run("ops/district_categories", district=district_id)
    known = set(categories["category"])
    chosen = category if isinstance(category, str) and category in known else None
    records = repository.run("ops/district_requests_page", district=district_id, category=chosen,
                             limit=RECORDS_LIMIT)
    total = int(categories["requests"].sum()) if chosen is None else \
        int(categories.loc[categories["category"] == chosen, "requests"].sum())
    shown = len(records)
    caption = (f"{shown:,} service requests" + (f" of {total:,} (the newest)" if total > shown else "")
               + f" in the published window{'' if chosen is None else f', category {chosen}'}; "
               "sort or filter any column, 25 per page.")
    options = [{"label": f"{r.category} ({r.requests:,})", "value": r.category} for r in categories.itertuples()]
    # the download follows the filter on screen: the chosen category, or every request
    href = page.RECORDS_EXPORT.replace("<district_id>", district_id) + ("" if chosen is None else
                                                                       "?" + urlencode({"category": chosen}))
    everything = html.A(f"download all {total:,}" + ("" if chosen is None else f" of category {chosen}") + " as CSV",
                        href=href, id=ids.DISTRICT_RECORDS_EXPORT)
    return components.grid_rows(records, list(page.RECORD_COLUMNS)), [caption, " · ", everything], options


@dash.callback(
    Output(ids.DISTRICT_FACILITIES_GRID, "rowData"),
    Output(ids.DISTRICT_FACILITIES, "children"),
    Input(ids.DISTRICT_ID, "data"),
)
@guard.requires("read")
@common.guarded([], "message")
def district_facilities(district_id):
    names = common.district_names()
    if not page.is_district(district_id, names) or not access.current().sees(district_id):
        return [], None
    facilities = repository.run("ops/district_facilities", district=district_id)
    if facilities.empty:
        return [], "No parking facility in this district publishes occupancy."
    newest = facilities["last_reading"].max()
    caption = (f"{len(facilities):,} {'facility' if len(facilities) == 1 else 'facilities'}; occupancy at each one's latest reading"
               + ("" if pd.isna(newest) else f" (newest {newest:%d %b %H:%M})") + ", fullest first.")
    return components.grid_rows(facilities, [*page.FACILITY_COLUMNS, "district_id"]), caption
