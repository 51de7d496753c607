"""Data-health callbacks."""
from dataclasses import replace
from datetime import datetime, timedelta

import dash
import pandas as pd
from dash import Input, Output, html

from callbacks import auth, common
from data import publish, registry, repository
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


@dash.callback(
    Output(ids.DATA_SOURCES, "children"),
    Output(ids.DATA_QUARANTINE, "children"),
    Output(ids.DATA_BATCHES, "children"),
    Input(ids.DATA_TICK, "n_intervals"),
)
@auth.requires("read")
@common.guarded("message", None, None)
def data_health(_n):
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
    quarantine = components.table(
        repository.run("ops/quarantine_summary"),
        {"source_id": "Source", "file": "File", "reason": "Reason", "rows": "Rows",
         "first_line": "First line", "example": "Example"},
        empty="No rows quarantined. ✓")
    batches = components.table(
        repository.run("ops/load_batches", limit=30),
        {"batch_id": "Batch", "source_id": "Source", "file": "File", "finished_at": "Finished",
         "rows_loaded": "Loaded", "rows_quarantined": "Quarantined", "status": "Status"})
    return source_table, quarantine, batches


@dash.callback(Output(ids.DATA_RELEASES, "children"), Input(ids.DATA_TICK, "n_intervals"))
@auth.requires("read")
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
