"""Explorer callbacks: validate → repository → figures.

- ``sync_url``: a control or a click → the new canonical query string in the explorer's
  Location (a history entry); the page router renders the page again from it.
- ``update_views``: the validated state → KPI cards, map, series, ranking, table, notices.
- ``add_annotation``: an official's annotation → the ops store.

The downloads (``/explore/export.csv`` and ``.xlsx``, the outlines) are data/web/exports.py,
validated by the same :func:`data.explore.parse`.
"""
from __future__ import annotations

import threading
from datetime import datetime

import cachetools
import dash
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, ctx, html, no_update

from callbacks import common
from data import access, annotations, control_limits, explore, facts, ops_store, repository, snapshot
from data.snapshot import DataUnavailable
from data.web import guard
from layouts import components, figures, ids

EMPTY = figures.empty("No data")
EMPTY_MAP = {"figure": EMPTY.to_plotly_json(), "geometry": None}


def _click_district(data) -> str | None:
    try:
        point = data["points"][0]
    except (TypeError, KeyError, IndexError):
        return None
    value = point.get("location", point.get("customdata")) if isinstance(point, dict) else None
    return value if isinstance(value, str) and len(value) <= 20 else None


@dash.callback(
    Output(ids.EXPLORE_URL, "search"),
    Input(ids.EXPLORE_DOMAIN, "value"),
    Input(ids.EXPLORE_METRIC, "value"),
    Input(ids.EXPLORE_RANGE, "value"),
    Input(ids.EXPLORE_DATES, "start_date"),
    Input(ids.EXPLORE_DATES, "end_date"),
    Input(ids.EXPLORE_GRAIN, "value"),
    Input(ids.EXPLORE_DISTRICTS, "value"),
    Input(ids.EXPLORE_SCALE, "value"),
    Input(ids.EXPLORE_MAP, "clickData"),
    Input(ids.EXPLORE_RANKING, "clickData"),
    Input(ids.EXPLORE_CLEAR, "n_clicks"),
    State(ids.EXPLORE_STATE, "data"),
    prevent_initial_call=True,
)
@guard.requires("read")
@common.guarded(no_update)
def sync_url(domain, metric, preset, start_date, end_date, grain, districts, scale, map_click,
             ranking_click, _clear, raw):
    """A control or a click → the canonical query string of the new view (no_update when the
    view does not change, so no duplicate history entries)."""
    state, names, _districts, times = explore.context(raw)
    trigger = ctx.triggered_id if ctx.triggered_id is not None else ids.EXPLORE_METRIC
    if trigger == ids.EXPLORE_DOMAIN:
        query = explore.with_changes(state, domain=domain, metric=None)
    elif trigger == ids.EXPLORE_METRIC:
        query = explore.with_changes(state, metric=metric, domain=None)
    elif trigger == ids.EXPLORE_RANGE:
        if preset == "custom":
            query = explore.with_changes(state, range="custom", start=state.start.isoformat(),
                                         end=state.end.isoformat())
        else:
            query = explore.with_changes(state, range=preset, start=None, end=None)
    elif trigger == ids.EXPLORE_DATES:
        query = explore.with_changes(state, range="custom", start=str(start_date)[:10], end=str(end_date)[:10])
    elif trigger == ids.EXPLORE_GRAIN:
        query = explore.with_changes(state, grain=grain)
    elif trigger == ids.EXPLORE_DISTRICTS:
        chosen = [d for d in districts if isinstance(d, str)] if isinstance(districts, list) else []
        query = explore.with_changes(state, districts=",".join(chosen[:explore.MAX_DISTRICTS]) or None)
    elif trigger == ids.EXPLORE_SCALE:
        query = explore.with_changes(state, scale=scale)
    elif trigger in (ids.EXPLORE_MAP, ids.EXPLORE_RANKING):
        district = _click_district(map_click if trigger == ids.EXPLORE_MAP else ranking_click)
        if district is None or district not in names or district == "city":
            return no_update
        query = explore.toggle_district(state, district)
    elif trigger == ids.EXPLORE_CLEAR:
        query = explore.with_changes(state, districts=None)
    else:
        return no_update
    query = {k: v for k, v in query.items() if isinstance(v, str)}
    new = explore.parse(query, names=names, available=common.available_metrics() or None, times=times)
    return no_update if new.search() == state.search() else new.search()


def kpi_cards(state: explore.State, names: dict, times: dict) -> list:
    """One card per area (the city and the selected districts): the latest complete period in
    the range (zeros included) vs the one before (data.facts), with the control-limit test over
    the history before it."""
    metric = state.metric
    areas = ["city", *state.districts[:5]]
    length = common.GRAIN_LENGTH[state.grain]
    start = pd.Timestamp(state.end_ts) - length * (explore.KPI_HISTORY + 2)
    history = repository.run("ops/metric_series", metric=metric.id, grain=state.grain, districts=areas,
                             start=start.to_pydatetime(), end=state.end_ts)
    data_time, simulated = times.get(metric.table, (None, False))
    latest = facts.last_complete_period(state.grain, min(state.anchor, state.end_ts))
    if latest < state.start_ts:
        latest = None  # no complete period in the range yet
    first = facts.first_times().get(metric.table)
    now = datetime.now()
    cards = []
    for area in areas:
        part = history[history["district_id"] == area].sort_values("period") if not history.empty else history
        part = facts.filled(metric, part, grain=state.grain, last=latest) if latest is not None else part.iloc[:0]
        values = [float(v) if v == v else None for v in part["value"]]
        shown = facts.from_series(metric, part, grain=state.grain, district=area, period=latest,
                                  data_time=data_time, now=now, simulated=simulated, first_time=first)
        signal = control_limits.test(values, fmt=lambda v: metric.format_value(v))
        cards.append(components.kpi_card(shown, variant="signal", title=names.get(area, area), signal=signal))
    return cards


def _events(state: explore.State, start: datetime, end: datetime) -> pd.DataFrame:
    """Recorded incidents and officials' annotations for the domain and the shown areas."""
    incidents = repository.run("ops/incidents", start=start, end=end)
    try:
        notes = access.scope_frame(annotations.between(start, end, domain=state.domain))
    except ops_store.Busy:  # the series without officials' notes rather than no view at all
        notes = incidents.iloc[0:0]
    frames = [f for f in (incidents, notes) if not f.empty]
    if not frames:
        return incidents
    events = pd.concat(frames, ignore_index=True)
    areas = {"city", *state.districts}
    keep = events["district_id"].isna() | events["district_id"].isin(areas)
    keep &= events["domain"].isna() | (events["domain"] == state.domain)
    return events[keep].reset_index(drop=True)


def _columns(state: explore.State, metric) -> list[dict]:
    defs = []
    for col, title in explore.TABLE_COLUMNS.items():
        spec = {"field": col, "headerName": title, "sortable": True, "filter": True, "resizable": True}
        if col in ("value", "previous"):
            spec["headerName"] = f"{title} ({metric.unit})"
        if col in ("value", "previous", "change_pct", "rank", "n"):
            spec["type"] = "rightAligned"
        defs.append(spec)
    return defs


@dash.callback(
    Output(ids.EXPLORE_KPIS, "children"),
    Output(ids.EXPLORE_MAP_VALUES, "data"),
    Output(ids.EXPLORE_SERIES, "figure"),
    Output(ids.EXPLORE_RANKING, "figure"),
    Output(ids.EXPLORE_TABLE, "rowData"),
    Output(ids.EXPLORE_TABLE, "columnDefs"),
    Output(ids.EXPLORE_NOTICE, "children"),
    Output(ids.EXPLORE_ABOUT, "children"),
    Input(ids.EXPLORE_STATE, "data"),
    Input(ids.EXPLORE_NOTE_SAVED, "data"),
)
@guard.requires("read")
@common.guarded(None, EMPTY_MAP, EMPTY, EMPTY, [], no_update, "message", None)
def update_views(raw, _saved=None):
    state, names, districts, times = explore.context(raw)
    key = _views_key(state)
    with _VIEWS_LOCK:
        built = _VIEWS.get(key) if key is not None else None
    if built is None:
        built = _build_views(state, names, districts, times)
        if key is not None:
            with _VIEWS_LOCK:
                _VIEWS[key] = built
    # events (incidents and officials' annotations) change without a new data version: never cached
    series_fig = figures.with_events(built["series"], _events(state, state.start_ts, state.end_ts))
    return (built["kpis"], built["map"], series_fig, built["ranking"], built["rows"], built["columns"],
            built["notice"], built["about"])


# Built views per worker, by (data version, the caller's district scope, the canonical view and
# its notices). A minute at most: the KPI cards' freshness marks depend on the clock.
_VIEWS: cachetools.TTLCache = cachetools.TTLCache(maxsize=256, ttl=60)
_VIEWS_LOCK = threading.Lock()


def _views_key(state: explore.State) -> tuple | None:
    principal = access.current()
    if principal is None:
        return None
    scope = principal.districts if isinstance(principal.districts, str) else tuple(sorted(principal.districts))
    try:
        version = snapshot.version("ops")
    except DataUnavailable:
        return None
    return version, principal.role, scope, state.search(), tuple(state.notices)


def clear_cache() -> None:
    """Forget the built views of this worker (benchmarks' cold runs, tests)."""
    with _VIEWS_LOCK:
        _VIEWS.clear()


def colour_range(state: explore.State, districts: pd.DataFrame, table: pd.DataFrame) -> tuple:
    """(low, high, districts) of the map's colour scale: over ALL districts of the city, not
    only those the caller may see or has chosen (two chosen districts must not span the whole
    scale between them). The 5th and 95th percentiles: no one district's own figure leaves
    the server for a caller outside it; the districts beyond sit at the ends of the scale."""
    principal = access.current()
    if principal is not None and principal.districts != access.ALL:
        with access.acting_as(access.Principal("system", f"colour-scale:{principal.name}", "system", access.ALL)):
            table = explore.district_table(state, districts)
    body = table.loc[table["district_id"] != "city", "value"].dropna()
    if body.empty:
        return None, None, 0
    return float(body.quantile(0.05)), float(body.quantile(0.95)), int(len(body))


def _build_views(state: explore.State, names: dict, districts: pd.DataFrame, times: dict) -> dict:
    metric, shown = state.metric, explore.scaled_metric(state)
    table = explore.district_table(state, districts)
    rows = explore.shown_rows(state, table)
    areas = ["city", *state.districts]
    prev_start, prev_end = explore.previous_range(state)
    ly_start, ly_end = explore.last_year_range(state)
    # one query for the range, the previous period and the same period last year (three ranges
    # of the same rows), split here exactly as three queries would
    every = repository.run("ops/metric_series", metric=metric.id, grain=state.grain, districts=areas,
                           start=min(prev_start, ly_start), end=state.end_ts)

    def within(start, end) -> pd.DataFrame:
        period = every["period"]
        return every[(period >= pd.Timestamp(start)) & (period < pd.Timestamp(end))].reset_index(drop=True)
    series, previous, last_year = (within(state.start_ts, state.end_ts), within(prev_start, prev_end),
                                   within(ly_start, ly_end))
    focus = state.districts[0] if len(state.districts) == 1 else "city"
    series_fig = figures.explore_series(
        series, metric, names, previous=previous, previous_shift=pd.Timestamp(state.start_ts) - pd.Timestamp(prev_start),
        last_year=last_year, last_year_shift=pd.DateOffset(years=1), focus=focus)
    values = table[table["district_id"] != "city"][["district_id", "value"]]
    low, high, count = colour_range(state, districts, table)
    map_fig = {"figure": figures.map_values(districts, values, shown, state.districts,
                                            scale_range=None if low is None else (low, high),
                                            scale_note=f"scale: all {count} districts" if count else ""),
               "geometry": geometry_url(districts)}
    city = table.loc[table["district_id"] == "city", "value"]
    city_value = float(city.iloc[0]) if len(city) and (state.scale != "abs" or metric.aggregate != "sum") else None
    ranking_fig = figures.ranking(table, shown, state.districts, city_value=city_value)
    version = table.attrs.get("version", "")
    about = html.Div([
        html.H2(metric.label, className="h5"), html.P(metric.description),
        html.P(["Method: ", metric.method], className="small text-muted"),
        html.P(f"{explore.PRESETS[state.range]}: {state.start:%d %b %Y} – {state.end:%d %b %Y}, by {state.grain}; "
               f"map, ranking and table: {explore.SCALES[state.scale].lower()} over the period; "
               f"data version {version}.", className="small text-muted explore-caption"),
    ])
    notice = [components.notice(n) for n in state.notices] or None
    return {"kpis": kpi_cards(state, names, times), "map": map_fig, "series": series_fig, "ranking": ranking_fig,
            "rows": components.grid_rows(rows, list(explore.TABLE_COLUMNS)), "columns": _columns(state, shown),
            "notice": notice, "about": about}


@dash.callback(
    Output(ids.EXPLORE_NOTE_RESULT, "children"),
    Output(ids.EXPLORE_NOTE_SAVED, "data"),
    Input(ids.EXPLORE_NOTE_ADD, "n_clicks"),
    State(ids.EXPLORE_NOTE_TITLE, "value"),
    State(ids.EXPLORE_NOTE_KIND, "value"),
    State(ids.EXPLORE_NOTE_START, "value"),
    State(ids.EXPLORE_NOTE_END, "value"),
    State(ids.EXPLORE_NOTE_DISTRICT, "value"),
    State(ids.EXPLORE_STATE, "data"),
    State(ids.EXPLORE_NOTE_SAVED, "data"),
    prevent_initial_call=True,
)
@guard.requires("annotate")
@common.guarded("message", no_update)
def add_annotation(n_clicks, title, kind, start, end, district, raw, saved):
    principal = access.current()
    state, names, _districts, _times = explore.context(raw)
    if district == "city":
        district = None  # the city as a whole: a city-wide annotation
    if isinstance(district, str) and district and not principal.sees(district):
        return components.notice("You may annotate only your own districts."), no_update
    if not (isinstance(district, str) and district) and principal.districts != access.ALL:
        return components.notice("A city-wide annotation needs an account for all districts; "
                                 "pick one of your districts."), no_update
    end_text = end if isinstance(end, str) else start
    try:
        annotations.add(created_by=principal.name, title=title, kind=kind,
                        starts_at=start if isinstance(start, str) else None,
                        ends_at=(end_text + " 23:59:59") if isinstance(end_text, str) and len(end_text) == 10 else end_text,
                        district_id=district, domain=state.domain,
                        known_districts={d for d in names if d != "city"}, scope=principal.districts)
    except annotations.InvalidAnnotation as exc:
        return components.notice(f"Not saved: {exc}."), no_update
    except ops_store.Busy:
        return components.notice(f"The annotation was not saved: {ops_store.BUSY_MESSAGE}.", color="danger"), no_update
    count = saved + 1 if isinstance(saved, int) else 1
    return components.notice("Annotation saved; it is shown on the time series.", color="success"), count


# --- map: outlines once per version ------------------------------------------------------

# The map's values reach the graph through EXPLORE_MAP_VALUES; assets/explore.js fetches the
# outlines named there once (browser-cached) and merges them in.
dash.clientside_callback(ClientsideFunction(namespace="cityopsExplore", function_name="map"),
                         Output(ids.EXPLORE_MAP, "figure"), Input(ids.EXPLORE_MAP_VALUES, "data"))


def geometry_url(districts: pd.DataFrame) -> str:
    key, _body = figures.geometry_json(districts)
    return f"{explore.GEOMETRY}?v={key}"
