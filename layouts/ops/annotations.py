"""Annotations: the officials' notes on the time series (storm, strike, outage …). Add one,
pick one in the table to edit or delete it (its author or an admin; every change is kept in an
audit trail, shown under the form), and ask for it on the public site: an admin approves or
rejects it, and approved ones are copied into the next public release, where they explain the
public trends' spikes."""
from datetime import date

import dash
import dash_ag_grid as dag  # (registers the grid's scripts with Dash in every worker)
import dash_bootstrap_components as dbc
from dash import dcc, html

from data import access, annotations, lookups, registry
from data.snapshot import DataUnavailable
from layouts import ids

dash.register_page(__name__, path="/annotations", title="CityOps — annotations", name="Annotations",
                   nav="Annotations", audience="ops", order=5)

COLUMNS = annotations.LIST_TITLES


def district_choices(principal) -> tuple[list[dict], bool]:
    """(the districts `principal` may annotate as dropdown options, whether the whole city too)."""
    try:
        names = lookups.district_names()
    except DataUnavailable:
        names = {}
    every = principal is not None and principal.districts == access.ALL
    options = [{"label": name, "value": d} for d, name in names.items()
               if d != "city" and principal is not None and principal.sees(d)]
    return options, every


def _label(text, control_id):
    return dbc.Label(text, html_for=control_id, className="small mb-1")


def layout(district=None, **_ignored):
    principal = access.current()
    options, every = district_choices(principal)
    known = {o["value"] for o in options}
    default = district if isinstance(district, str) and district in known else (None if every or not options
                                                                                 else options[0]["value"])
    admin = principal is not None and principal.can("admin")
    today = date.today().isoformat()
    form = html.Div([
        dbc.Row([
            dbc.Col([_label("Title", ids.NOTES_TITLE),
                     dbc.Input(id=ids.NOTES_TITLE, maxLength=annotations.MAX_TITLE, type="text")], md=4),
            dbc.Col([_label("Kind", ids.NOTES_KIND),
                     dcc.Dropdown([{"label": k.title(), "value": k} for k in annotations.KINDS], "event",
                                  id=ids.NOTES_KIND, clearable=False)], md=2),
            dbc.Col([_label("From", ids.NOTES_START), dbc.Input(id=ids.NOTES_START, type="date", value=today)], md=2),
            dbc.Col([_label("To", ids.NOTES_END), dbc.Input(id=ids.NOTES_END, type="date", value=today)], md=2),
            dbc.Col([_label("District", ids.NOTES_DISTRICT),
                     dcc.Dropdown(options, default, id=ids.NOTES_DISTRICT, clearable=every,
                                  placeholder="Whole city" if every else "Your district")], md=2),
            dbc.Col([_label("Domain", ids.NOTES_DOMAIN),
                     dcc.Dropdown([{"label": registry.DOMAIN_LABELS[d], "value": d} for d in registry.DOMAINS], None,
                                  id=ids.NOTES_DOMAIN, placeholder="Every domain")], md=3),
            dbc.Col([html.Div("\u00a0", className="form-label small mb-1"),
                     dbc.Checkbox(id=ids.NOTES_PUBLIC, value=False,
                                  label="Show on the public site (after an administrator's review)")], md=5),
        ], className="g-2"),
        html.Div([
            html.Button("Save", id=ids.NOTES_SAVE, className="btn btn-primary btn-sm me-2"),
            html.Button("New annotation", id=ids.NOTES_NEW, className="btn btn-outline-secondary btn-sm me-2"),
            html.Button("Delete", id=ids.NOTES_DELETE, className="btn btn-outline-danger btn-sm me-4"),
            html.Span([html.Button("Approve for the public site", id=ids.NOTES_APPROVE,
                                   className="btn btn-outline-success btn-sm me-2"),
                       html.Button("Reject", id=ids.NOTES_REJECT, className="btn btn-outline-danger btn-sm")],
                      hidden=not admin),
        ], className="mt-2"),
        html.Div(id=ids.NOTES_RESULT, className="mt-2", role="status"),
    ], className="notes-form mb-3")
    return html.Div([
        dcc.Store(id=ids.NOTES_CHANGED, data=0),
        dcc.Store(id=ids.NOTES_SELECTED, data=None),
        html.H1("Annotations"),
        html.P("Pick an annotation in the table to edit or delete it (its author or an administrator may); "
               "every change is kept. An annotation asked for the public site is shown there once an "
               "administrator approves it, from the next public release.", className="text-muted"),
        form,
        dag.AgGrid(id=ids.NOTES_GRID, rowData=[],
                   columnDefs=[{"field": k, "headerName": v, "sortable": True, "filter": True, "resizable": True}
                               for k, v in COLUMNS.items()],
                   defaultColDef={"minWidth": 80, "flex": 1}, getRowId="params.data.id",
                   dashGridOptions={"rowSelection": "single", "pagination": True, "paginationPageSize": 20,
                                    "animateRows": False},
                   style={"height": "460px", "width": "100%"}, className="data-grid"),
        html.H2("Changes to the selected annotation", className="h5 mt-3"),
        html.Div(id=ids.NOTES_HISTORY, className="small"),
    ])
