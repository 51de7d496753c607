"""Data-health callbacks."""
from datetime import datetime

import dash
import pandas as pd
from dash import Input, Output

from callbacks import auth, common
from data import registry, repository
from layouts import components, ids


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
    cadence = {}
    for metric in registry.metrics().values():  # the tightest cadence a table must meet
        cadence[metric.table] = min(cadence.get(metric.table, metric), metric, key=lambda m: m.cadence)
    states = []
    for row in sources.itertuples():
        metric = cadence.get(row.table_name)
        data_time = None if pd.isna(row.data_time) else row.data_time.to_pydatetime()
        states.append(metric.freshness(data_time, now) if metric else "unused")
    sources = sources.assign(
        freshness=states,
        data_time=[components.when(None if pd.isna(t) else t) for t in sources["data_time"]],
        simulated=["simulated" if s else "real" for s in sources["simulated"]],
    )
    source_table = components.table(
        sources, {"name": "Source", "domain": "Domain", "simulated": "Kind", "table_name": "Table",
                  "data_time": "Newest data", "freshness": "Freshness", "row_count": "Rows loaded"})
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
