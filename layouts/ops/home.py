"""Operations overview: every metric's city value today, by domain."""
import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path="/", title="CityOps — operations overview", name="Overview",
                   nav="Overview", audience="ops", order=0)


def layout(**_ignored):
    return html.Div(
        [
            html.H1("City operations overview"),
            html.P(["City values of every metric for the latest day. Drill down in ",
                    dcc.Link("Explore", href="/explore"), ", or see what is off target in ",
                    dcc.Link("Alerts", href="/alerts"), "."]),
            dcc.Loading(html.Div(id=ids.HOME_KPIS, className="kpi-grid")),
        ]
    )
