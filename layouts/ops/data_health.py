"""Data health: sources with their data time and freshness, load batches, quarantine."""
import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path="/data", title="CityOps — data health", name="Data", nav="Data",
                   audience="ops", order=5)


def layout(**_ignored):
    return html.Div(
        [
            html.H1("Data health"),
            dcc.Interval(id=ids.DATA_TICK, interval=30_000),
            html.H2("Sources", className="h4"),
            dcc.Loading(html.Div(id=ids.DATA_SOURCES)),
            html.H2("Quarantined rows", className="h4 mt-4"),
            html.Div(id=ids.DATA_QUARANTINE),
            html.H2("Recent loads", className="h4 mt-4"),
            html.Div(id=ids.DATA_BATCHES),
            html.H2("Public releases", className="h4 mt-4"),
            html.Div(id=ids.DATA_RELEASES),
        ]
    )
