"""Shift log (/shift-log): handover notes between shifts and what happened to the alerts in
the last hours (opened, acknowledged, assigned, snoozed, noted, resolved), from the ops store."""
import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path="/shift-log", title="CityOps — shift log", name="Shift log", nav="Shift log",
                   audience="ops", order=4.2)

HOURS = [{"label": f" {h} h", "value": h} for h in (8, 12, 24, 72)]


def layout(hours=None, **_ignored):
    first = int(hours) if isinstance(hours, str) and hours in {"8", "12", "24", "72"} else 12
    return html.Div(
        [
            html.H1("Shift log"),
            html.P("What happened to the alerts in the last hours, and the notes one shift leaves the next. "
                   "Officials write notes for their districts; analysts and wall screens read only.",
                   className="text-muted small"),
            html.Fieldset([html.Legend("Show the last", className="form-label small mb-0"),
                           dcc.RadioItems(id=ids.SHIFT_HOURS, options=HOURS, value=first, inline=True,
                                          inputClassName="me-1", labelClassName="me-3")]),
            dcc.Interval(id=ids.SHIFT_TICK, interval=60_000),
            dcc.Store(id=ids.SHIFT_CHANGED, data=0),
            html.Div(id=ids.SHIFT_SUMMARY, className="shift-summary my-2", role="status"),
            html.Div(
                [
                    html.Section(
                        [
                            html.H2("Handover notes", className="h5"),
                            html.Label("New note", htmlFor=ids.SHIFT_TEXT, className="form-label small mb-0"),
                            dcc.Textarea(id=ids.SHIFT_TEXT, maxLength=2000, className="form-control",
                                         style={"height": "5em"}),
                            html.Div([
                                html.Label("District", htmlFor=ids.SHIFT_DISTRICT, className="form-label small mb-0"),
                                dcc.Dropdown(id=ids.SHIFT_DISTRICT, options=[], value=None,
                                             placeholder="Whole city (all-district accounts)"),
                            ], className="mt-1"),
                            html.Button("Add note", id=ids.SHIFT_ADD, n_clicks=0, className="btn btn-primary btn-sm mt-2"),
                            html.Div(id=ids.SHIFT_RESULT, role="status", className="mt-2"),
                            html.Div(id=ids.SHIFT_NOTES, className="mt-3"),
                        ],
                        className="alert-col",
                    ),
                    html.Section([html.H2("What happened", className="h5"), html.Div(id=ids.SHIFT_EVENTS)],
                                 className="alert-col"),
                ],
                className="alert-cols",
            ),
        ],
        className="shift-page",
    )
