"""District profile: every metric for one district, and its latest service requests."""
import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path_template="/district/<district_id>", title="CityOps — district",
                   name="District", audience="ops", order=3)


def layout(district_id=None, **_ignored):
    # The skeleton never depends on data: the callback validates the id and fills it in.
    return html.Div(
        [
            dcc.Store(id=ids.DISTRICT_ID, data=district_id if isinstance(district_id, str) else None),
            html.H1(id=ids.DISTRICT_NOTICE, children="District profile"),
            html.H2("Latest values", className="h4"),
            dcc.Loading(html.Div(id=ids.DISTRICT_KPIS, className="kpi-grid")),
            html.H2("Latest service requests", className="h4 mt-4"),
            dcc.Loading(html.Div(id=ids.DISTRICT_RECORDS)),
        ]
    )
