"""District profile: "how are we doing and why". Every domain's KPIs for one district with its
rank among all districts and where it sits in their spread, the city median and its peer
districts (same borough); one metric's trend on the district's own axis under the city's, with
the recorded incidents and officials' annotations of the period; and the service requests
behind the numbers, downloadable with the page's filter."""
import dash
import dash_ag_grid  # noqa: F401  (registers the grid's scripts with Dash in every worker)
from dash import dcc, html

from data import lookups
from data.district_profile import FACILITY_COLUMNS, RECORD_COLUMNS
from data.registry import DOMAIN_LABELS
from data.snapshot import DataUnavailable
from layouts import components, figures, ids

dash.register_page(__name__, path_template="/district/<district_id>", title="CityOps — district",
                   name="District", audience="ops", order=3)


def _trend_choices(metric) -> tuple[list, str | None]:
    try:
        metrics = lookups.available_metrics()
    except DataUnavailable:
        return [], None
    options = [{"label": f"{DOMAIN_LABELS[m.domain]} · {m.label}", "value": m.id} for m in metrics]
    known = [o["value"] for o in options]
    return options, (metric if metric in known else (known[0] if known else None))


def layout(district_id=None, metric=None, **_ignored):
    # The skeleton never depends on the district: the callbacks validate the id and fill it in.
    options, chosen = _trend_choices(metric if isinstance(metric, str) else None)
    return html.Div(
        [
            dcc.Store(id=ids.DISTRICT_ID, data=district_id[:40] if isinstance(district_id, str) else None),
            html.H1(id=ids.DISTRICT_NOTICE, children="District profile"),
            html.Div(id=ids.DISTRICT_SUMMARY, className="district-summary mb-3"),
            html.H2("How we are doing: latest complete period, our rank among all districts, the city and our peers",
                    className="h4"),
            dcc.Loading(html.Div(id=ids.DISTRICT_KPIS, className="kpi-grid")),
            html.H2("Why: the trend on our own scale, next to the city, with incidents and annotations",
                    className="h4 mt-4"),
            html.Div([
                html.Label("Metric", htmlFor=ids.DISTRICT_TREND_METRIC, className="small me-2"),
                dcc.Dropdown(id=ids.DISTRICT_TREND_METRIC, options=options, value=chosen,
                             clearable=False, className="district-trend-metric"),
            ], className="mb-2"),
            html.Div(id=ids.DISTRICT_SERIES_EXPORT, className="mb-2 small"),
            dcc.Loading(dcc.Graph(id=ids.DISTRICT_TREND, style={"height": "460px"},
                                  config=figures.graph_config("district-trend"))),
            html.Div(id=ids.DISTRICT_EVENTS, className="district-events small mb-3", role="status"),
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
