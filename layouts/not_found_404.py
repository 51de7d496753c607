"""The page shown for any unknown path."""
import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", title="Page not found — CityOps")


def layout(**_ignored):
    return html.Div(
        [
            html.H1("Page not found"),
            html.P("There is no page at this address."),
            dcc.Link("Go to the start page", href="/"),
        ],
        className="not-found",
    )
