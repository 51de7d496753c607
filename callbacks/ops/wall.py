"""Wall callbacks: tiles, map of the metric most off target, alert ticker, clock."""
import dash
from dash import ClientsideFunction, Input, Output, State, html

from callbacks import common
from callbacks.ops.alerts import current_alerts
from data import registry, repository
from layouts import figures, ids

dash.clientside_callback(
    ClientsideFunction(namespace="cityops", function_name="clock"),
    Output(ids.WALL_CLOCK, "children"),
    Input(ids.WALL_CLOCK_TICK, "n_intervals"),
)


@dash.callback(
    Output(ids.WALL_TILES, "children"),
    Output(ids.WALL_MAP, "figure"),
    Output(ids.WALL_MAP_TITLE, "children"),
    Output(ids.WALL_ALERTS, "children"),
    Input(ids.WALL_TICK, "n_intervals"),
    State(ids.WALL_STATUS, "data"),
)
@common.guarded("message", figures.empty("No data", figures.WALL), "", [])
def refresh_wall(_n, state):
    view = state.get("view") if isinstance(state, dict) else None
    if view not in registry.DOMAINS:
        view = "all"
    metrics = [m for m in registry.metrics().values() if view == "all" or m.domain == view]
    tiles = [common.kpi_cards([m], district="city", grain=common.valid_grain("day", m), compact=True)[0]
             for m in metrics]
    alerts = current_alerts()
    alerts = alerts[alerts["metric_id"].isin([m.id for m in metrics])]
    # The map shows the metric with the most districts off target (else the first metric).
    focus = registry.get(alerts["metric_id"].value_counts().index[0]) if not alerts.empty else metrics[0]
    latest = repository.run("ops/metric_map", metric=focus.id, grain=common.valid_grain("day", focus))
    fig = figures.choropleth(common.districts(), latest, focus, template=figures.WALL, show_scale=False)
    items = [html.Li([html.Span(row.status, className=f"sev sev--{row.severity}"), " ",
                      f"{row.district}: {row.metric} {row.value} (target {row.target})"])
             for row in alerts.head(8).itertuples()]
    return tiles, fig, f"Map: {focus.label}", items or [html.Li("✓ Nothing off target")]
