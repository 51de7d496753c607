"""Public metric page callbacks: reads only the public snapshot."""
import dash
import pandas as pd
from dash import Input, Output

from callbacks import common
from data import repository, settings
from layouts import components, figures, ids


@dash.callback(
    Output(ids.PUBLIC_METRIC_SERIES, "figure"),
    Output(ids.PUBLIC_METRIC_MAP, "figure"),
    Output(ids.PUBLIC_METRIC_TABLE, "children"),
    Output(ids.PUBLIC_METRIC_SUMMARY, "children"),
    Input(ids.PUBLIC_METRIC_ID, "data"),
)
@common.guarded(figures.empty("No data"), figures.empty("No data"), None, "message")
def public_metric(metric_id):
    metric = common.valid_metric(metric_id, public_only=True)
    if metric is None:
        return figures.empty("Unknown metric"), figures.empty("Unknown metric"), None, "Unknown metric."
    k = settings.get("suppression_k")
    names = common.district_names("public")
    series = repository.run("public/metric_series", metric=metric.id, grain="week", districts=["city"])
    latest = repository.run("public/metric_map", metric=metric.id, grain="month")
    series_fig = figures.series(series, metric, names)
    map_fig = figures.choropleth(common.districts("public"), latest, metric)
    table = latest.assign(
        district=[names.get(d, d) for d in latest["district_id"]],
        shown=[f"fewer than {k}" if s else metric.format_value(v)
               for v, s in zip(latest["value"], latest["suppressed"])],
    ).sort_values("district")
    last = series.dropna(subset=["value"]).tail(1)
    summary = ""
    if not last.empty:
        row = last.iloc[0]
        summary = (f"Week of {pd.Timestamp(row['period']):%d %B %Y}: "
                   f"{metric.format_value(row['value'])} {metric.unit} for the whole city.")
    return series_fig, map_fig, components.table(table, {"district": "District", "shown": metric.unit}), summary
