"""Data-health callbacks."""
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import PurePath

import dash
import pandas as pd
from dash import Input, Output, html

from callbacks import common
from data import access, faults, publish, registry, repository, snapshot
from data.snapshot import DataUnavailable
from data.web import guard
from layouts import components, figures, ids

TREND_SPAN = timedelta(days=30)


def _trend(trends: pd.DataFrame, source_id: str, now: datetime):
    """Rows loaded per day over the last 30 days (a sparkline, days without a load as zero),
    with the total and the quarantined rows."""
    part = trends[trends["source_id"] == source_id]
    if part.empty:
        return html.Span("no load in 30 days", className="text-muted small")
    days = pd.date_range((now - TREND_SPAN).date(), now.date(), freq="D")
    daily = part.set_index("day")["rows_loaded"].reindex(days, fill_value=0)
    loaded, quarantined = int(part["rows_loaded"].sum()), int(part["rows_quarantined"].sum())
    label = f"{loaded:,} rows in {len(part)} day(s)" + (f", {quarantined:,} quarantined" if quarantined else "")
    image = figures.sparkline_svg(daily.tolist(), width=120, height=28, colour="#0b5cad")
    return html.Span([html.Img(src=image, alt="", width=120, height=28, className="me-2") if image else None,
                      html.Span(label, className="small")], title=label)


def _alerts() -> list:
    """What operators must know first: a damaged current release (and what is served instead),
    and a publish that failed since the last one that worked."""
    out = [components.notice(line, color="danger") for line in snapshot.health()]
    mine = snapshot.status("ops")
    if mine is not None and not out:
        out.append(components.notice(f"This worker serves release {mine['serving']}: {mine['reason']}.", color="danger"))
    ok = faults.last_publish_ok()
    failed = [f for f in faults.recent(20) if f.get("what") == "publish"]
    if failed and (ok is None or str(failed[0].get("at", "")) > str(ok.get("at", ""))):
        out.append(components.notice(f"The last publish failed at {str(failed[0].get('at', '?'))[:19].replace('T', ' ')}: "
                                     f"{failed[0].get('message', '')}. The previous release is still served.",
                                     color="danger"))
    return out


def _failures():
    """The recent publish and ingest failures, newest first, each in one plain line."""
    recent = faults.recent(10)
    if not recent:
        return None
    return html.Div([html.H3("Recent failures", className="h6"),
                     html.Ul([html.Li(f"{str(f.get('at', '?'))[:19].replace('T', ' ')} — {f.get('what', '?')}: "
                                      f"{f.get('message', '')}", className="small") for f in recent])],
                    className="mb-3")


def _batch_status(row) -> str:
    message = getattr(row, "message", None)
    return row.status if not isinstance(message, str) or not message else f"{row.status}: {message}"


@dash.callback(
    Output(ids.DATA_SOURCES, "children"),
    Output(ids.DATA_QUARANTINE, "children"),
    Output(ids.DATA_BATCHES, "children"),
    Input(ids.DATA_TICK, "n_intervals"),
)
@guard.requires("read")
@common.guarded("message", None, None)
def data_health(_n):
    alerts = _alerts()
    try:
        return _data_health(alerts)
    except DataUnavailable as exc:
        message = components.data_unavailable(str(exc))
        return [*alerts, message], None, _failures()


def _data_health(alerts: list):
    sources = repository.run("ops/source_times")
    now = datetime.now()
    trends = repository.run("ops/load_trend", since=now - TREND_SPAN)
    cadence = {}
    for metric in registry.metrics().values():  # the tightest cadence a table must meet
        cadence[metric.table] = min(cadence.get(metric.table, metric), metric, key=lambda m: m.cadence)
    states = []
    for row in sources.itertuples():
        metric = cadence.get(row.table_name)
        data_time = None if pd.isna(row.data_time) else row.data_time.to_pydatetime()
        if metric is not None:  # a monthly source is due once a month, not every day
            metric = replace(metric, cadence=publish.due_every(metric, row.grain))
        states.append(metric.freshness(data_time, now) if metric else "unused")
    sources = sources.assign(
        trend=[_trend(trends, row.source_id, now) for row in sources.itertuples()],
        freshness=states,
        data_time=[components.when(None if pd.isna(t) else t) for t in sources["data_time"]],
        simulated=["simulated" if s else "real" for s in sources["simulated"]],
    )
    source_table = components.table(
        sources, {"name": "Source", "domain": "Domain", "simulated": "Kind", "table_name": "Table",
                  "data_time": "Newest data", "freshness": "Freshness", "row_count": "Rows loaded",
                  "trend": f"Rows loaded per day, last {TREND_SPAN.days} days"})
    is_admin = access.current() is not None and access.current().can("admin")
    quarantine = components.table(*_quarantine(is_admin), empty="No rows quarantined. ✓")
    recent = repository.run("ops/load_batches", limit=30)
    recent = recent.assign(status=[_batch_status(row) for row in recent.itertuples()])
    if not is_admin:  # server file paths are for admins: others see the file's name
        recent = recent.assign(file=[None if pd.isna(f) else PurePath(str(f)).name for f in recent["file"]])
    batches = components.table(
        recent,
        {"batch_id": "Batch", "source_id": "Source", "file": "File", "finished_at": "Finished",
         "rows_loaded": "Loaded", "rows_quarantined": "Quarantined", "status": "Status"})
    return [*alerts, source_table], quarantine, [_failures(), batches]


def _quarantine(is_admin: bool):
    """The quarantine table: for admins every group with its file, district, first line and an
    example (the judged values only); for everyone else counts by source and reason of the rows
    in their districts (and of rows whose district is unknown), nothing from the rows themselves."""
    if is_admin:
        return repository.run("ops/quarantine_rows"), {
            "source_id": "Source", "file": "File", "reason": "Reason", "district_id": "District", "rows": "Rows",
            "first_line": "First line", "example": "Example (judged values)"}
    counts = repository.run("ops/quarantine_summary")  # scoped in the data layer
    counts = (counts.groupby(["source_id", "reason"], as_index=False)["rows"].sum()
              .sort_values("rows", ascending=False, kind="stable"))
    return counts, {"source_id": "Source", "reason": "Reason", "rows": "Rows"}


@dash.callback(Output(ids.DATA_RELEASES, "children"), Input(ids.DATA_TICK, "n_intervals"))
@guard.requires("read")
@common.guarded("message")
def release_log(_n):
    """What each publish added to the public site, and the months the release auditor held back
    (not protected, or not in time) with the reason."""
    return components.table(
        repository.run("ops/release_log", limit=20),
        {"version": "Version", "published_at": "Published", "new_cells": "New figures",
         "new_withheld": "Withheld", "held_blocks": "Months held back", "late_cells": "Late data (not republished)",
         "reason": "Why held back", "seconds": "Audit s"},
        empty="No public release yet.")
