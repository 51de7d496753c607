"""District profile: every domain's KPIs for one district against the city median and its
peer districts (same borough), a trend for each, and the service requests behind them."""
import dash
import dash_ag_grid  # noqa: F401  (registers the grid's scripts with Dash in every worker)
from dash import dcc, html

from data.district_profile import FACILITY_COLUMNS, RECORD_COLUMNS, RECORDS_EXPORT  # noqa: F401
from layouts import components, ids

dash.register_page(__name__, path_template="/district/<district_id>", title="CityOps — district",
                   name="District", audience="ops", order=3)

def layout(district_id=None, **_ignored):
    # The skeleton never depends on data: the callbacks validate the id and fill it in.
    return html.Div(
        [
            dcc.Store(id=ids.DISTRICT_ID, data=district_id[:40] if isinstance(district_id, str) else None),
            html.H1(id=ids.DISTRICT_NOTICE, children="District profile"),
            html.Div(id=ids.DISTRICT_SUMMARY, className="district-summary mb-3"),
            html.H2("Latest complete day, against the city median and peer districts", className="h4"),
            dcc.Loading(html.Div(id=ids.DISTRICT_KPIS, className="kpi-grid")),
            html.H2("Service requests behind the numbers", className="h4 mt-4"),
            html.Div([
                html.Label("Category", htmlFor=ids.DISTRICT_RECORDS_CATEGORY, className="small me-2"),
                dcc.Dropdown(id=ids.DISTRICT_RECORDS_CATEGORY, options=[], value=None, placeholder="All categories",
                             className="district-category"),
            ], className="mb-2"),
            html.Div(id=ids.DISTRICT_RECORDS, className="small text-muted mb-1", role="status"),
            components.data_grid(ids.DISTRICT_RECORDS_GRID, None, RECORD_COLUMNS, height="560px",
                                 csv_name="service-requests.csv"),
            html.H2("Parking facilities behind the parking numbers", className="h4 mt-4"),
            html.Div(id=ids.DISTRICT_FACILITIES, className="small text-muted mb-1", role="status"),
            components.data_grid(ids.DISTRICT_FACILITIES_GRID, None, FACILITY_COLUMNS, height="420px",
                                 formats={"capacity": ",d", "occupied": ",d", "occupancy_pct": ".1f"},
                                 csv_name="parking-facilities.csv"),
        ]
    )
