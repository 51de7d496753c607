"""Alerts: metric × district values off target or in the warning band, worst first."""
import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path="/alerts", title="CityOps — alerts", name="Alerts", nav="Alerts",
                   audience="ops", order=4)


def layout(**_ignored):
    return html.Div(
        [
            html.H1("Alerts"),
            html.P("Districts whose latest daily value is outside a metric's target or warning band "
                   "(from the metric registry). Refreshes every minute."),
            dcc.Interval(id=ids.ALERTS_TICK, interval=60_000),
            dcc.Loading(html.Div(id=ids.ALERTS_TABLE)),
        ]
    )
