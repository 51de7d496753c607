"""Explorer: one metric on a district map, over time, as a ranking and a table, with the whole
view in the URL (a copied link restores it; back and forward work).

How the URL drives the page: every control (and a click on the map or the ranking) makes the
callbacks write a new query string to the explorer's ``dcc.Location`` (``callback-nav``:
a history entry, no reload). Dash's page router then renders this layout again from the new
query, and the views are filled from the validated state in ``EXPLORE_STATE``. So the URL is
the only source of truth: back/forward and opened links go through the same path.
"""
from urllib.parse import urlencode

import dash
import dash_ag_grid  # noqa: F401  (registers the grid's scripts with Dash in every worker)
import dash_bootstrap_components as dbc
from dash import dcc, html

from data import access, annotations, explore, lookups, registry
from data.snapshot import DataUnavailable
from layouts import components, figures, ids

dash.register_page(__name__, path="/explore", title="CityOps — explore", name="Explore",
                   nav="Explore", audience="ops", order=2)

# the URL parameters and export routes live with the view state (data/explore.py), so the
# callbacks never import this page
PARAMS, EXPORT_CSV, EXPORT_XLSX, raw_params = explore.PARAMS, explore.EXPORT_CSV, explore.EXPORT_XLSX, explore.raw_params
GEOMETRY = explore.GEOMETRY  # district outlines, fetched once per outline version


def _label(text, control_id):
    return dbc.Label(text, html_for=control_id, className="small mb-1")


def layout(**query):
    raw = raw_params(query)
    try:
        names = lookups.district_names()
        available = lookups.available_metrics() or list(registry.metrics().values())
        times = lookups.table_times()
    except DataUnavailable:  # the skeleton must still carry every id (Dash validates callbacks on it)
        names, available, times = {"city": "Whole city"}, list(registry.metrics().values()), {}
    state = explore.parse(raw, names=names, available=available, times=times)
    district_options = [{"label": n, "value": d} for d, n in names.items() if d != "city"]
    return html.Div(
        [
            dcc.Location(id=ids.EXPLORE_URL, refresh="callback-nav"),
            dcc.Store(id=ids.EXPLORE_STATE, data=raw),
            dcc.Store(id=ids.EXPLORE_NOTE_SAVED, data=0),
            dcc.Store(id=ids.EXPLORE_MAP_VALUES),
            html.H1("Explore"),
            _controls(state, available, district_options),
            html.Div([components.notice(n) for n in state.notices], id=ids.EXPLORE_NOTICE),
            _exports(state.search()),
            dcc.Loading(html.Div(id=ids.EXPLORE_KPIS, className="kpi-grid mb-3")),
            *_charts(state.metric),
            _note_form(state, district_options),
            html.Div(id=ids.EXPLORE_ABOUT, className="metric-about mt-3"),
        ]
    )


def _controls(state: explore.State, available: list, district_options: list[dict]):
    """The filter row: domain, metric, period, dates, granularity, districts, scale."""
    metric = state.metric
    domains = [d for d in registry.DOMAINS if any(m.domain == d for m in available)] or list(registry.DOMAINS)
    allowed_scales = explore.scales_for(metric)
    return dbc.Row(
        [
            dbc.Col([_label("Domain", ids.EXPLORE_DOMAIN),
                     dcc.Dropdown([{"label": registry.DOMAIN_LABELS[d], "value": d} for d in domains], state.domain,
                                  id=ids.EXPLORE_DOMAIN, clearable=False)], md=2),
            dbc.Col([_label("Metric", ids.EXPLORE_METRIC),
                     # every metric, this domain's first: choosing another domain's metric switches domain
                     dcc.Dropdown([{"label": f"{registry.DOMAIN_LABELS[m.domain]} · {m.label}", "value": m.id}
                                   for m in sorted(available, key=lambda m: m.domain != state.domain)],
                                  metric.id, id=ids.EXPLORE_METRIC, clearable=False)], md=3),
            dbc.Col([_label("Period", ids.EXPLORE_RANGE),
                     dcc.Dropdown([{"label": t, "value": k} for k, t in explore.PRESETS.items()], state.range,
                                  id=ids.EXPLORE_RANGE, clearable=False)], md=2),
            dbc.Col([_label("From – to", ids.EXPLORE_DATES),
                     dcc.DatePickerRange(id=ids.EXPLORE_DATES, start_date=state.start.isoformat(),
                                         end_date=state.end.isoformat(), display_format="YYYY-MM-DD",
                                         updatemode="bothdates", minimum_nights=0, first_day_of_week=1,
                                         min_date_allowed=explore.EARLIEST.isoformat(),
                                         max_date_allowed=state.anchor.date().isoformat())], md=3),
            dbc.Col([_label("Granularity", ids.EXPLORE_GRAIN),
                     dcc.Dropdown([{"label": g.title(), "value": g} for g in metric.grains], state.grain,
                                  id=ids.EXPLORE_GRAIN, clearable=False)], md=2),
            dbc.Col([_label("Districts (click the map or the ranking too)", ids.EXPLORE_DISTRICTS),
                     dcc.Dropdown(district_options, list(state.districts), id=ids.EXPLORE_DISTRICTS, multi=True,
                                  placeholder="All districts")], md=6),
            dbc.Col([html.Div("Map and ranking values", className="form-label small mb-1"),
                     dcc.RadioItems([{"label": f" {t}", "value": k, "disabled": k not in allowed_scales}
                                     for k, t in explore.SCALES.items()], state.scale, id=ids.EXPLORE_SCALE,
                                    inline=True, className="explore-scale", inputClassName="me-1",
                                    labelClassName="me-3")], md=4),
            dbc.Col([html.Div("\u00a0", className="form-label small mb-1"),
                     html.Button("Clear districts", id=ids.EXPLORE_CLEAR, className="btn btn-outline-secondary btn-sm",
                                 disabled=not state.districts)], md=2),
        ],
        className="g-2 mb-2 explore-controls",
    )


def _exports(search: str):
    """Download links for what is shown (the state's query string)."""
    return html.Div(
        [html.Span("Export what is shown: ", className="small text-muted"),
         html.A("CSV", href=EXPORT_CSV + search, className="btn btn-outline-primary btn-sm me-1", download=""),
         html.A("Excel", href=EXPORT_XLSX + search, className="btn btn-outline-primary btn-sm me-2", download=""),
         html.Span("Charts: the camera button above each chart saves a PNG.", className="small text-muted")],
        id=ids.EXPLORE_EXPORTS, className="mb-2",
    )


def _charts(metric) -> list:
    """The map and time series, then the ranking and table (filled by callbacks)."""
    return [
        dbc.Row(
            [
                dbc.Col(dcc.Loading(dcc.Graph(id=ids.EXPLORE_MAP, style={"height": "480px"},
                                              config=figures.graph_config(f"map-{metric.id}"))), lg=5),
                dbc.Col(dcc.Loading(dcc.Graph(id=ids.EXPLORE_SERIES, style={"height": "480px"},
                                              config=figures.graph_config(f"series-{metric.id}"))), lg=7),
            ],
            className="g-3",
        ),
        dbc.Row(
            [
                dbc.Col([html.H2("Ranking", className="h5 mt-3"),
                         dcc.Loading(dcc.Graph(id=ids.EXPLORE_RANKING,
                                               config=figures.graph_config(f"ranking-{metric.id}")))], lg=5),
                dbc.Col([html.H2("Table", className="h5 mt-3"),
                         components.data_grid(ids.EXPLORE_TABLE, None, explore.TABLE_COLUMNS, height="560px",
                                              csv_name=f"explore-{metric.id}.csv")], lg=7),
            ],
            className="g-3",
        ),
    ]


def _note_form(state: explore.State, district_options: list[dict]):
    """The annotation form. Its district picker lists only the districts the caller may
    annotate (an account of every district may also annotate the whole city: no district)."""
    principal = access.current()
    every = principal is not None and principal.districts == access.ALL
    note_options = [o for o in district_options if principal is not None and principal.sees(o["value"])]
    note_default = None if every or not note_options else note_options[0]["value"]
    return html.Details(
        [
            html.Summary("Add an annotation (storm, strike, outage …) to the time series"),
            dbc.Row(
                [
                    dbc.Col([_label("Title", ids.EXPLORE_NOTE_TITLE),
                             dbc.Input(id=ids.EXPLORE_NOTE_TITLE, maxLength=annotations.MAX_TITLE, type="text")], md=4),
                    dbc.Col([_label("Kind", ids.EXPLORE_NOTE_KIND),
                             dcc.Dropdown([{"label": k.title(), "value": k} for k in annotations.KINDS], "event",
                                          id=ids.EXPLORE_NOTE_KIND, clearable=False)], md=2),
                    dbc.Col([_label("From", ids.EXPLORE_NOTE_START),
                             dbc.Input(id=ids.EXPLORE_NOTE_START, type="date", value=state.end.isoformat())], md=2),
                    dbc.Col([_label("To", ids.EXPLORE_NOTE_END),
                             dbc.Input(id=ids.EXPLORE_NOTE_END, type="date", value=state.end.isoformat())], md=2),
                    dbc.Col([_label("District", ids.EXPLORE_NOTE_DISTRICT),
                             dcc.Dropdown(note_options, note_default, id=ids.EXPLORE_NOTE_DISTRICT,
                                          placeholder="Whole city" if every else "Your district",
                                          clearable=every)], md=2),
                ],
                className="g-2 mt-1",
            ),
            html.Button("Add annotation", id=ids.EXPLORE_NOTE_ADD, className="btn btn-primary btn-sm mt-2"),
            html.Div(id=ids.EXPLORE_NOTE_RESULT, className="mt-2", role="status"),
        ],
        className="explore-annotate mt-3",
    )


def export_href(kind: str, query: dict) -> str:
    return (EXPORT_CSV if kind == "csv" else EXPORT_XLSX) + "?" + urlencode(query, safe=",")
