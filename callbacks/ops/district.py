"""District profile callbacks: KPI cards against the city median and peers, and the records."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, dcc, html, no_update

from callbacks import auth, common
from data import access, control_limits, facts, registry, repository
from data import district_profile as page
from data.publish import END_OF_TIME
from data.snapshot import DataUnavailable
from layouts import components, figures, ids

HISTORY_DAYS = 42
RECORDS_LIMIT = 2000


def _valid(district_id, names) -> bool:
    return isinstance(district_id, str) and district_id in names and district_id != "city"


@dash.callback(
    Output(ids.DISTRICT_NOTICE, "children"),
    Output(ids.DISTRICT_KPIS, "children"),
    Output(ids.DISTRICT_SUMMARY, "children"),
    Input(ids.DISTRICT_ID, "data"),
)
@auth.requires("read")
@common.guarded("District profile", "message", None)
def district_profile(district_id):
    names = common.district_names()
    if not _valid(district_id, names) or not access.current().sees(district_id):
        visible = [d for d in names if d != "city" and access.current().sees(d)]
        choices = html.Ul([html.Li(dcc.Link(names[d], href=f"/district/{d}")) for d in visible],
                          className="district-list")
        return ("District profile",
                [components.notice(f"Unknown district {str(district_id)[:40]!r}. Pick one below."), choices], None)
    info = common.districts().set_index("district_id").loc[district_id]
    times = common.table_times()
    first = facts.first_times()
    metrics = common.available_metrics()
    # Each metric by day up to the latest complete day of its own data (a city's sources end at
    # different times); a metric published by month only (monthly tonnage) by month, whose
    # loaded months are complete: the last two years of them.
    windows = {}
    for metric in metrics:
        grain = common.valid_grain("day", metric)
        newest = times.get(metric.table, (None, False))[0] or datetime.now()
        if grain == "day":
            end = datetime.combine(newest.date(), datetime.min.time())
            windows[metric.id] = (grain, end - timedelta(days=HISTORY_DAYS), end)
        else:
            windows[metric.id] = (grain, newest - timedelta(days=2 * 366), END_OF_TIME)
    history, medians = [], []
    for grain, start, end in sorted(set(windows.values())):
        ids_at = [m for m, w in windows.items() if w == (grain, start, end)]
        history.append(repository.run("ops/metric_history", metrics=ids_at, grain=grain, district=district_id,
                                      start=start, end=end))
        at = repository.run("ops/district_medians", grain=grain, before=end)
        medians.append(at[at["metric_id"].isin(ids_at)])
    history = pd.concat(history, ignore_index=True)
    medians = pd.concat(medians, ignore_index=True)
    city_median = medians[medians["borough"].isna()].set_index("metric_id")["median_value"]
    # a metric with no district figure anywhere (citywide-only sources: MTA, DOT counts) has no place here
    metrics = [m for m in metrics if m.id in city_median.index]
    peers = medians[medians["borough"] == info["borough"]].set_index("metric_id")
    now = datetime.now()
    cards = []
    for metric in metrics:
        grain, _start, end = windows[metric.id]
        data_time, simulated = times.get(metric.table, (None, False))
        # the latest complete period of the metric's own data, zeros included (a quiet day is
        # the latest day, not skipped), against the period before it (data.facts)
        latest = facts.last_complete_period(grain, min(end, data_time or end))
        part = facts.filled(metric, history[history["metric_id"] == metric.id].sort_values("period"),
                            grain=grain, last=latest)
        shown = facts.from_series(metric, part, grain=grain, district=district_id, period=latest,
                                  data_time=data_time, now=now, simulated=simulated,
                                  first_time=first.get(metric.table))
        values = [float(v) if v == v else None for v in part["value"]]
        comparisons = [("City median", metric.format_value(city_median.get(metric.id)))]
        if metric.id in peers.index:
            row = peers.loc[metric.id]
            comparisons.append((f"{info['borough']} median ({int(row['districts'])} districts)",
                                metric.format_value(row["median_value"])))
        href = "/explore?" + urlencode({"metric": metric.id, "districts": district_id, "range": "30d",
                                         "grain": grain}, safe=",")
        cards.append(components.kpi_card(
            shown, variant="signal", title=registry.DOMAIN_LABELS[metric.domain],
            signal=control_limits.test(values, fmt=lambda v, m=metric: m.format_value(v)),
            comparisons=comparisons, sparkline=figures.sparkline_svg(values[-30:], colour="#0b5cad"), href=href,
        ))
    population = "–" if pd.isna(info["population"]) else f"{int(info['population']):,}"
    summary = html.P([f"{info['borough']} · {population} residents · {float(info['area_km2']):,.1f} km² · ",
                      dcc.Link("open in the explorer", href=f"/explore?districts={district_id}")],
                     className="text-muted")
    return names[district_id], cards, summary


@dash.callback(
    Output(ids.DISTRICT_RECORDS_GRID, "rowData"),
    Output(ids.DISTRICT_RECORDS, "children"),
    Output(ids.DISTRICT_RECORDS_CATEGORY, "options"),
    Input(ids.DISTRICT_ID, "data"),
    Input(ids.DISTRICT_RECORDS_CATEGORY, "value"),
)
@auth.requires("read")
@common.guarded([], "message", no_update)
def district_records(district_id, category):
    # Record-level data needs the "records" permission (checked again by the data layer: the
    # queries are `-- access: records`). Without it the page says so instead of failing with a
    # 403 the browser logs as an error.
    if not access.current().can("records"):
        return [], components.notice("Your account does not include record-level data (individual service "
                                     "requests); the figures above are all it shows.", color="secondary"), []
    names = common.district_names()
    if not _valid(district_id, names) or not access.current().sees(district_id):
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
    everything = html.A(f"download all {int(categories['requests'].sum()):,} as CSV",
                        href=page.RECORDS_EXPORT.replace("<district_id>", district_id))
    return components.grid_rows(records, list(page.RECORD_COLUMNS)), [caption, " · ", everything], options


@dash.callback(
    Output(ids.DISTRICT_FACILITIES_GRID, "rowData"),
    Output(ids.DISTRICT_FACILITIES, "children"),
    Input(ids.DISTRICT_ID, "data"),
)
@auth.requires("read")
@common.guarded([], "message")
def district_facilities(district_id):
    names = common.district_names()
    if not _valid(district_id, names) or not access.current().sees(district_id):
        return [], None
    facilities = repository.run("ops/district_facilities", district=district_id)
    if facilities.empty:
        return [], "No parking facility in this district publishes occupancy."
    newest = facilities["last_reading"].max()
    caption = (f"{len(facilities):,} {'facility' if len(facilities) == 1 else 'facilities'}; occupancy at each one's latest reading"
               + ("" if pd.isna(newest) else f" (newest {newest:%d %b %H:%M})") + ", fullest first.")
    return components.grid_rows(facilities, [*page.FACILITY_COLUMNS, "district_id"]), caption


def export_requests(district_id: str):
    """Every service request of one district in the published window, as CSV streamed in
    chunks from the snapshot (never built in memory), stamped with the data version."""
    import csv
    import io
    import itertools

    import flask

    auth.check("records")
    try:
        names = common.district_names()
        if not _valid(district_id, names):
            return flask.Response("Unknown district.", status=404, mimetype="text/plain")
        if not access.current().sees(district_id):
            return flask.Response("This district is outside your account's districts.", status=403,
                                  mimetype="text/plain")
        chunks = repository.stream("ops/district_requests_all", district=district_id)
        first = next(chunks, None)
    except DataUnavailable as exc:
        return flask.Response(f"Data unavailable: {exc}", status=503, mimetype="text/plain")
    version = "" if first is None else first.attrs.get("version", "")
    columns = ["request_id", "district_id", "created_at", "closed_at", "due_at", "category", "channel", "status"]

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for key, value in (("CityOps service requests", ""), ("district", f"{district_id} {names[district_id]}"),
                           ("data version", version), ("exported at", f"{datetime.now():%Y-%m-%d %H:%M:%S}")):
            writer.writerow([f"# {key}", value] if value else [f"# {key}"])
        writer.writerow(columns)
        for frame in itertools.chain([] if first is None else [first], chunks):  # one chunk at a time
            frame[columns].to_csv(buffer, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S")
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return flask.Response(generate(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="service-requests-{district_id}-{version}.csv"',
        "X-Data-Version": version, "Cache-Control": "no-store"})


def _register_export() -> None:
    server = dash.get_app().server
    if "cityops_district_requests" not in server.view_functions:
        server.add_url_rule(page.RECORDS_EXPORT, "cityops_district_requests", export_requests, methods=["GET"])


_register_export()
