"""Explorer: one metric on a district map and over time, city vs chosen districts."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from data import lookups, registry
from data.snapshot import DataUnavailable
from layouts import ids

dash.register_page(__name__, path="/explore", title="CityOps — explore", name="Explore",
                   nav="Explore", audience="ops", order=2)


def layout(metric=None, grain=None, district=None, **_ignored):
    try:
        names = lookups.district_names()
        metrics = lookups.available_metrics() or list(registry.metrics().values())
    except DataUnavailable:  # the skeleton must still carry every id (Dash validates callbacks on it)
        names, metrics = {}, list(registry.metrics().values())
    chosen = lookups.valid_metric(metric)
    chosen = chosen if chosen in metrics else metrics[0]
    districts = lookups.valid_districts((district or "").split(",") if isinstance(district, str) else [],
                                       set(names))
    options = [{"label": f"{registry.DOMAIN_LABELS[m.domain]} · {m.label}", "value": m.id}
               for m in metrics]
    return html.Div(
        [
            html.H1("Explore"),
            dbc.Row(
                [
                    dbc.Col([dbc.Label("Metric", html_for=ids.EXPLORE_METRIC),
                             dcc.Dropdown(options, chosen.id, id=ids.EXPLORE_METRIC, clearable=False)], md=5),
                    dbc.Col([dbc.Label("Granularity", html_for=ids.EXPLORE_GRAIN),
                             dcc.Dropdown([{"label": g.title(), "value": g} for g in registry.GRAINS],
                                          lookups.valid_grain(grain, chosen), id=ids.EXPLORE_GRAIN,
                                          clearable=False)], md=2),
                    dbc.Col([dbc.Label("Compare districts", html_for=ids.EXPLORE_DISTRICTS),
                             dcc.Dropdown([{"label": n, "value": d} for d, n in names.items() if d != "city"],
                                          districts, id=ids.EXPLORE_DISTRICTS, multi=True)], md=5),
                ],
                className="g-3 mb-3",
            ),
            html.Div(id=ids.EXPLORE_NOTICE),
            dbc.Row(
                [
                    dbc.Col(dcc.Loading(dcc.Graph(id=ids.EXPLORE_MAP, style={"height": "480px"},
                                                  config={"displaylogo": False})), lg=5),
                    dbc.Col(dcc.Loading(dcc.Graph(id=ids.EXPLORE_SERIES, style={"height": "480px"},
                                                  config={"displaylogo": False})), lg=7),
                ],
                className="g-3",
            ),
            html.Div(id=ids.EXPLORE_ABOUT, className="metric-about mt-3"),
        ]
    )
