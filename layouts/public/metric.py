"""One public metric: weekly trend, district map, data table and method."""
import dash
from dash import dcc, html

from data import lookups
from layouts import components, ids
from layouts.shell import public_path

dash.register_page(__name__, path_template=public_path("/metric/<metric_id>"),
                   title="Metric — CityOps", name="Metric", audience="public", order=11)


def layout(metric_id=None, **_ignored):
    metric = lookups.valid_metric(metric_id, public_only=True)
    missing = None
    if metric is None:  # the skeleton stays (hidden) so every callback id exists
        missing = html.Div([html.H1("Metric not found"),
                            components.notice(f"There is no public metric {str(metric_id)[:40]!r}."),
                            dcc.Link("See all metrics", href=public_path("/methodology"))])
    return html.Div(
        [
            missing,
            html.Div(
                [
                    dcc.Store(id=ids.PUBLIC_METRIC_ID, data=metric.id if metric else None),
                    html.H1(metric.label if metric else ""),
                    html.P(metric.description if metric else ""),
                    html.Div(id=ids.PUBLIC_METRIC_SUMMARY, className="lead"),
                    html.H2("Trend (weekly, whole city)", className="h4"),
                    dcc.Loading(dcc.Graph(id=ids.PUBLIC_METRIC_SERIES, style={"height": "360px"},
                                          config={"displaylogo": False})),
                    html.H2("By district (latest month)", className="h4"),
                    dcc.Loading(dcc.Graph(id=ids.PUBLIC_METRIC_MAP, style={"height": "460px"},
                                          config={"displaylogo": False})),
                    html.Details([html.Summary("The numbers as a table"),
                                  html.Div(id=ids.PUBLIC_METRIC_TABLE)]),
                    html.H2("Method", className="h4 mt-3"),
                    html.P(metric.method if metric else ""),
                    html.P(f"Source: {metric.source}. Updated every {metric.cadence_text}." if metric else "",
                           className="small"),
                ],
                hidden=metric is None,
            ),
        ],
        lang="en",
    )
