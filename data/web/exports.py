"""The downloads of the ops site: the explorer's table and series (CSV, Excel) and its
district outlines, a district's service requests and trend series, and the weekly district
briefing (page and PDF). Each view authorizes on the server (data.web.guard.check) and stamps
what it sends with the data version; data.web.router gives them their routes."""
from __future__ import annotations

import csv
import functools
import gzip
import io
import itertools
from datetime import datetime

import flask
import pandas as pd

from data import access, briefing, district_profile, explore, export_safety, lookups, repository
from data.snapshot import DataUnavailable
from data.web import compression, guard


def _text(message: str, status: int) -> flask.Response:
    return flask.Response(message, status=status, mimetype="text/plain")


def _unavailable(exc) -> flask.Response:
    return _text(f"Data unavailable: {exc}", 503)


def _open_district(district_id, permission: str) -> tuple[dict | None, flask.Response | None]:
    """(district names, None) when a caller with `permission` may open `district_id`; else
    (None, the refusal): 404 for an unknown district, 403 for one outside their districts."""
    guard.check(permission)
    names = lookups.district_names()
    if not district_profile.is_district(district_id, names):
        return None, _text("Unknown district.", 404)
    if not access.current().sees(district_id):
        return None, _text("This district is outside your account's districts.", 403)
    return names, None


# --- explorer -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _gzip_once(body: bytes) -> bytes:
    """The outlines gzipped once per process and outline version (bytes cache their hash)."""
    return gzip.compress(body, 6, mtime=0)


def explore_geometry(outlines):
    """Every district outline (reference data) as GeoJSON. ``?v=`` the outline key from the
    map payload: that URL is immutable (cached by the browser for a year); any other ``v``
    gets the current outlines, not cached. Gzipped once per outline version: the body holds
    no secret and nothing of the request."""
    guard.check("read")
    try:
        key, body = outlines(lookups.districts())
    except DataUnavailable as exc:
        return _unavailable(exc)
    immutable = flask.request.args.get("v") == key
    headers = {"Cache-Control": "private, max-age=31536000, immutable" if immutable else "no-cache",
               "ETag": f'"{key}"', "Vary": "Accept-Encoding"}
    if flask.request.if_none_match.contains(key):
        return flask.Response(status=304, headers=headers)
    if compression.accepts_gzip(flask.request):
        return flask.Response(_gzip_once(body), mimetype="application/geo+json",
                              headers={**headers, "Content-Encoding": "gzip"})
    return flask.Response(body, mimetype="application/geo+json", headers=headers)


def _export_state() -> tuple[explore.State, pd.DataFrame, str]:
    """(state, table rows, data version) of the explorer view the request's URL describes,
    for a caller who may read it."""
    guard.check("read")
    raw = explore.raw_params({k: flask.request.args.get(k) for k in explore.PARAMS})
    state, _names, districts, _times = explore.context(raw)
    rows = explore.shown_rows(state, explore.district_table(state, districts))
    return state, rows, rows.attrs.get("version", "")


EXPLORE_SERIES_COLUMNS = {"district_id": "District id", "name": "Area", "period": "Period", "value": "Value", "n": "Records"}


def _export_series(state: explore.State) -> pd.DataFrame:
    """The time series on screen: the city and the chosen districts over the range, by the
    chosen grain (what the series chart draws)."""
    names = lookups.district_names()
    series = repository.run("ops/metric_series", metric=state.metric.id, grain=state.grain,
                            districts=["city", *state.districts], start=state.start_ts, end=state.end_ts)
    series = series.assign(name=series["district_id"].map(names).fillna(series["district_id"]))
    order = {d: i for i, d in enumerate(["city", *state.districts])}
    series = series.assign(_o=series["district_id"].map(order)).sort_values(["_o", "period"])
    return series[list(EXPLORE_SERIES_COLUMNS)].reset_index(drop=True)


def _cells(record) -> list:
    return [None if v is None or (not isinstance(v, str) and pd.isna(v)) else
            (pd.Timestamp(v).to_pydatetime() if isinstance(v, pd.Timestamp) else
             float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for v in record]


def _header(state: explore.State, version: str) -> list[tuple[str, str]]:
    return [("CityOps explorer export", ""), *state.describe(), ("data version", version),
            ("exported at", datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
            ("link", "/explore" + state.search()), *(("notice", n) for n in state.notices)]


def _filename(state: explore.State, ext: str) -> str:
    return f"cityops-{state.metric.id}-{state.start:%Y%m%d}-{state.end:%Y%m%d}.{ext}"


def explore_csv():
    """The table and the series on screen as CSV: '#'-prefixed lines with the filters and the
    data version, a header row and one row per table row; then a '# series' line, its header
    and one row per area and period. Streamed row by row."""
    try:
        state, rows, version = _export_state()
    except DataUnavailable as exc:
        return _unavailable(exc)
    columns = list(explore.TABLE_COLUMNS)
    # read now, as the caller: the body is generated after the request's principal is gone
    try:
        series = _export_series(state)
    except DataUnavailable as exc:
        return _unavailable(exc)

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for key, value in _header(state, version):
            writer.writerow([f"# {key}", export_safety.cell(value)] if value else [f"# {key}"])
        writer.writerow([explore.TABLE_COLUMNS[c] for c in columns])
        yield buffer.getvalue()
        for record in rows[columns].itertuples(index=False):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else export_safety.cell(v)
                             for v in record])
            yield buffer.getvalue()
        # then the series the chart draws (the city and the chosen districts, by period)
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([])
        writer.writerow([f"# series: {state.metric.label} by {state.grain} ({state.metric.unit})"])
        writer.writerow(list(EXPLORE_SERIES_COLUMNS.values()))
        for record in series.itertuples(index=False):
            writer.writerow(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else
                             export_safety.cell(f"{v:%Y-%m-%d %H:%M}" if isinstance(v, pd.Timestamp) else v)
                             for v in record])
        yield buffer.getvalue()

    return flask.Response(generate(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_filename(state, "csv")}"',
        "X-Data-Version": version, "Cache-Control": "no-store"})


def explore_xlsx():
    """The table and the series on screen as an Excel workbook (sheets: table, series,
    filters); small by design (one row per district, one per area and period), built in memory."""
    from openpyxl import Workbook

    try:
        state, rows, version = _export_state()
    except DataUnavailable as exc:
        return _unavailable(exc)
    book = Workbook()
    sheet = book.active
    sheet.title = "table"
    columns = list(explore.TABLE_COLUMNS)
    sheet.append([explore.TABLE_COLUMNS[c] for c in columns])
    for record in rows[columns].itertuples(index=False):
        sheet.append([None if v is None or (not isinstance(v, str) and pd.isna(v)) else
                      (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for v in record])
    series = book.create_sheet("series")  # the chart's series, as on screen
    series.append(list(EXPLORE_SERIES_COLUMNS.values()))
    for record in _export_series(state).itertuples(index=False):
        series.append(_cells(record))
    info = book.create_sheet("filters")
    for key, value in _header(state, version):
        info.append([key, value])
    for part in (sheet, series, info):  # text is text: no cell becomes a live formula
        export_safety.inert_sheet(part)
    out = io.BytesIO()
    book.save(out)
    return flask.Response(out.getvalue(), headers={
        "Content-Disposition": f'attachment; filename="{_filename(state, "xlsx")}"',
        "X-Data-Version": version, "Cache-Control": "no-store"},
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- district profile -----------------------------------------------------------------------

def district_requests(district_id: str):
    """Every service request of one district in the published window (``?category=``: of that
    category only, the filter on the page), as CSV streamed in chunks from the snapshot (never
    built in memory), stamped with the filter and the data version; each row with its overdue
    flag."""
    try:
        names, refused = _open_district(district_id, "records")
        if refused is not None:
            return refused
        category = flask.request.args.get("category") or None
        if category is not None:
            known = set(repository.run("ops/district_categories", district=district_id)["category"])
            if category not in known:
                return _text("Unknown category for this district.", 400)
        chunks = repository.stream("ops/district_requests_all", district=district_id, category=category)
        first = next(chunks, None)
    except DataUnavailable as exc:
        return _unavailable(exc)
    version = "" if first is None else first.attrs.get("version", "")
    columns = ["request_id", "district_id", "created_at", "closed_at", "due_at", "category", "channel", "status",
               "overdue"]

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for key, value in (("CityOps service requests", ""), ("district", f"{district_id} {names[district_id]}"),
                           ("category", category or "all categories"),
                           ("overdue", "closed after the due time, or open past it at the data's time"),
                           ("data version", version), ("exported at", f"{datetime.now():%Y-%m-%d %H:%M:%S}")):
            writer.writerow([f"# {key}", export_safety.cell(value)] if value else [f"# {key}"])
        writer.writerow(columns)
        for frame in itertools.chain([] if first is None else [first], chunks):  # one chunk at a time
            export_safety.frame(frame[columns]).to_csv(buffer, header=False, index=False,
                                                       date_format="%Y-%m-%d %H:%M:%S")
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return flask.Response(generate(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="service-requests-{district_id}-{version}.csv"',
        "X-Data-Version": version, "Cache-Control": "no-store"})


DISTRICT_SERIES_COLUMNS = {"area": "Area", "district_id": "District id", "period": "Period", "value": "Value", "n": "Records"}


def _district_series(district_id: str, fmt: str):
    """The trend on the district page (the district's and the city's series of one metric, the
    metric's grain and window) as CSV or Excel, with the filters and the data version in the
    file; every text cell neutralised (data.export_safety)."""
    try:
        names, refused = _open_district(district_id, "read")
        if refused is not None:
            return refused
        metric = lookups.valid_metric(flask.request.args.get("metric", "")[:64])
        if metric is None or metric.id not in {m.id for m in lookups.available_metrics()}:
            return _text("Unknown metric.", 400)
        frame, grain, start, end = district_profile.series_frame(metric, district_id)
    except DataUnavailable as exc:
        return _unavailable(exc)
    version = frame.attrs.get("version", "")
    frame = frame.assign(area=frame["district_id"].map(names))[list(DISTRICT_SERIES_COLUMNS)]
    last = frame["period"].max() if not frame.empty else None
    header = [("CityOps district series", ""), ("district", f"{district_id} {names[district_id]}"),
              ("metric", f"{metric.id} ({metric.label}, {metric.unit})"), ("grain", grain),
              ("from", f"{pd.Timestamp(frame['period'].min()):%Y-%m-%d}" if last is not None else ""),
              ("to (last complete period)", f"{pd.Timestamp(last):%Y-%m-%d}" if last is not None else ""),
              ("a period with no record", "0 for a count, empty for a ratio"),
              ("data version", version), ("exported at", f"{datetime.now():%Y-%m-%d %H:%M:%S}"),
              ("link", f"/district/{district_id}?metric={metric.id}")]
    name = f"cityops-{district_id}-{metric.id}-{grain}"
    headers = {"X-Data-Version": version, "Cache-Control": "no-store"}
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for key, value in header:
            writer.writerow([f"# {key}", export_safety.cell(value)] if value else [f"# {key}"])
        writer.writerow(list(DISTRICT_SERIES_COLUMNS.values()))
        export_safety.frame(frame).to_csv(buffer, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S")
        return flask.Response(buffer.getvalue(), mimetype="text/csv", headers={
            **headers, "Content-Disposition": f'attachment; filename="{name}.csv"'})
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "series"
    sheet.append(list(DISTRICT_SERIES_COLUMNS.values()))
    for record in frame.itertuples(index=False):
        sheet.append(_cells(record))
    info = book.create_sheet("filters")
    for key, value in header:
        info.append([key, value])
    for part in (sheet, info):
        export_safety.inert_sheet(part)
    out = io.BytesIO()
    book.save(out)
    return flask.Response(out.getvalue(), headers={**headers, "Content-Disposition": f'attachment; filename="{name}.xlsx"'},
                          mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def district_series_csv(district_id: str):
    return _district_series(district_id, "csv")


def district_series_xlsx(district_id: str):
    return _district_series(district_id, "xlsx")


# --- weekly briefing --------------------------------------------------------------------------
# A signed-out caller is sent to sign in (data.web.hooks), a caller without 'read' (a wall
# screen) gets 403, and an official gets 403 for a district outside their districts: the same
# answer for the page and the PDF.

def _made(district_id: str):
    """The briefing of the request's district and week, or the refusal."""
    try:
        _names, refused = _open_district(district_id, "read")
        if refused is not None:
            return refused
        try:
            week = briefing.parse_week(flask.request.args.get("week"))
        except ValueError:
            return _text("week must be a date YYYY-MM-DD.", 400)
        return briefing.build(district_id, week)
    except briefing.NotAWeek as exc:
        return _text(str(exc), 404)
    except DataUnavailable as exc:
        return _unavailable(exc)


def briefing_page(district_id: str):
    made = _made(district_id)
    if isinstance(made, flask.Response):
        return made
    return flask.Response(briefing.as_html(made), mimetype="text/html", headers={
        "Cache-Control": "no-store", "X-Data-Version": made.version})


def briefing_pdf(district_id: str):
    made = _made(district_id)
    if isinstance(made, flask.Response):
        return made
    name = f"cityops-briefing-{made.district_id}-{made.week:%Y-%m-%d}.pdf"
    return flask.Response(briefing.as_pdf(made), mimetype="application/pdf", headers={
        "Cache-Control": "no-store", "X-Data-Version": made.version,
        "Content-Disposition": f'inline; filename="{name}"'})
