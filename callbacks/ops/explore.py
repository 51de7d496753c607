"""Explorer callbacks: validate → repository → figures."""
from datetime import datetime, timedelta

import dash
from dash import Input, Output, html

from callbacks import common
from data import registry, repository
from layouts import components, figures, ids

# How far back each granularity looks by default.
SPAN = {"hour": timedelta(days=7), "day": timedelta(days=120), "week": timedelta(days=730),
        "month": timedelta(days=3650)}


@dash.callback(
    Output(ids.EXPLORE_MAP, "figure"),
    Output(ids.EXPLORE_SERIES, "figure"),
    Output(ids.EXPLORE_NOTICE, "children"),
    Output(ids.EXPLORE_ABOUT, "children"),
    Input(ids.EXPLORE_METRIC, "value"),
    Input(ids.EXPLORE_GRAIN, "value"),
    Input(ids.EXPLORE_DISTRICTS, "value"),
)
@common.guarded(figures.empty("No data"), figures.empty("No data"), "message", None)
def update_explore(metric_id, grain, district_ids):
    notices = []
    metric = common.valid_metric(metric_id)
    if metric is None:
        metric = common.valid_metric("bike_trips") or next(iter(registry.metrics().values()))
        notices.append(f"Unknown metric; showing {metric.label}.")
    chosen_grain = common.valid_grain(grain, metric)
    if grain is not None and chosen_grain != grain:
        notices.append(f"{metric.label} is not available by {grain}; showing by {chosen_grain}.")
    names = common.district_names()
    districts = common.valid_districts(district_ids or [], set(names))
    end = datetime.now() + timedelta(days=1)
    series = repository.run("ops/metric_series", metric=metric.id, grain=chosen_grain,
                            districts=["city", *districts], start=end - SPAN[chosen_grain], end=end)
    incidents = repository.run("ops/incidents", start=end - SPAN[chosen_grain], end=end)
    latest = repository.run("ops/metric_map", metric=metric.id, grain=chosen_grain)
    map_fig = figures.choropleth(common.districts(), latest, metric)
    series_fig = figures.series(series, metric, names, incidents=incidents)
    about = html.Div([html.H2(metric.label, className="h5"), html.P(metric.description),
                      html.P(["Method: ", metric.method], className="small text-muted")])
    notice = components.notice(" ".join(notices)) if notices else None
    return map_fig, series_fig, notice, about
