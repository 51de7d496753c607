"""Public overview: the city's headline numbers in plain language, each dated."""
import dash
from dash import dcc, html

from layouts import ids
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/"), title="How is the city doing? — CityOps",
                   name="Public overview", nav="Public", audience="public", order=10)


def layout(**_ignored):
    return html.Div(
        [
            html.H1("How is the city doing?"),
            html.P("Each number is the city total or rate for the latest complete week published, "
                   "with the time of the newest data behind it. Small counts are withheld to protect "
                   "privacy. Open a metric for its trend, map and method."),
            html.P(dcc.Link("How these numbers are made (methodology)", href=public_path("/methodology"))),
            dcc.Loading(html.Div(id=ids.PUBLIC_KPIS, className="kpi-grid")),
        ],
        lang="en",
    )
