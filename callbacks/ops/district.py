"""District profile callbacks."""
import dash
from dash import Input, Output, dcc, html

from callbacks import common
from data import repository
from layouts import components, ids


@dash.callback(
    Output(ids.DISTRICT_NOTICE, "children"),
    Output(ids.DISTRICT_KPIS, "children"),
    Output(ids.DISTRICT_RECORDS, "children"),
    Input(ids.DISTRICT_ID, "data"),
)
@common.guarded("District profile", "message", None)
def district_profile(district_id):
    names = common.district_names()
    if not isinstance(district_id, str) or district_id not in names or district_id == "city":
        choices = html.Ul([html.Li(dcc.Link(name, href=f"/district/{d}")) for d, name in names.items()
                           if d != "city"], className="district-list")
        return ("District profile",
                components.notice(f"Unknown district {str(district_id)[:40]!r}. Pick one below."), choices)
    cards = [common.kpi_cards([m], district=district_id, grain=common.valid_grain("day", m))[0]
             for m in common.available_metrics()]
    records = repository.run("ops/district_requests", district=district_id, limit=25)
    columns = {"request_id": "Request", "created_at": "Created", "closed_at": "Closed",
               "due_at": "Due", "category": "Category", "channel": "Channel", "status": "Status"}
    return (names[district_id], cards,
            components.table(records, columns, empty="No requests in the published window."))
