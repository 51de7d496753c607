"""Reusable components. Status and freshness drive CSS classes; each carries text and an
icon too, so colour is never the only signal."""
from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from dash.development.base_component import Component

from data import i18n
from data.registry import DOMAIN_LABELS, Metric

STATUS_TEXT = {
    "ok": ("✓", "On target"),
    "warning": ("⚠", "Warning"),
    "bad": ("✖", "Off target"),
    "none": ("•", "No target"),
}
FRESHNESS_TEXT = {"fresh": "●", "late": "◐", "stale": "○"}
# Wall tiles are narrow: one short word per domain, so the status beside it is never cut.
WALL_DOMAIN_LABELS = {"transport": "Transport", "waste": "Waste", "parking": "Parking", "satisfaction": "Service"}


def notice(message: str, color: str = "warning") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="notice", dismissable=False)


def sign_in_required(signed_in: bool = False) -> html.Div:
    """What a page shows a caller who may not see it (the server has already refused the data)."""
    if signed_in:
        return html.Div([html.H1("Not allowed"),
                         notice("Your account may not open this page.", color="danger")])
    return html.Div([html.H1("Sign in required"),
                     html.P(["This page is for signed-in city staff. ", html.A("Sign in", href="/login"),
                             " or see the ", html.A("public dashboard", href="/public"), "."])])


def data_unavailable(message: str = "No data has been published yet.") -> html.Div:
    return html.Div(
        [
            html.H2("Data unavailable"),
            html.P(message),
            html.P("Pages will fill in by themselves once a snapshot is published "
                   "(run `make demo` or start the live feed)."),
        ],
        className="data-unavailable alert alert-secondary",
        role="status",
    )


def when(ts: datetime | None) -> str:
    if ts is None:
        return "no data"
    return ts.strftime("%Y-%m-%d %H:%M")


def freshness_badge(state: str, data_time: datetime | None, lang: str | None = None) -> html.Span:
    """Fresh / late / stale with the data time; `lang` (public site): words from data.i18n."""
    icon = FRESHNESS_TEXT.get(state, "○")
    if lang is not None:
        at = f"{i18n.date(data_time, lang)} {data_time:%H:%M}" if data_time else ""
        text = i18n.t(f"kpi_{state}", lang, time=at) if data_time else i18n.t("no_data", lang)
        return html.Span([html.Span(icon, **{"aria-hidden": "true"}), " ", text],
                         className=f"freshness freshness--{state}",
                         title=i18n.t("kpi_data_time", lang, time=when(data_time)))
    now = datetime.now()
    # the day when it is not today, the year when it is not this year's (real data can be years old)
    day = "" if not data_time or data_time.date() == now.date() else "%d %b " if data_time.year == now.year \
        else "%d %b %Y "
    if state == "stale":
        text = f"stale since {data_time.strftime(day or '%d %b ')}{data_time:%H:%M}" if data_time else "no data"
    elif state == "late":
        text = f"late · data {data_time.strftime(day)}{data_time:%H:%M}" if data_time else "no data"
    else:
        text = f"data {data_time:%d %b %H:%M}" if data_time else "no data"
    return html.Span([icon, " ", text], className=f"freshness freshness--{state}",
                     title=f"Data time {when(data_time)}")


def status_badge(status: str, lang: str | None = None) -> html.Span:
    icon, text = STATUS_TEXT[status]
    if lang is not None:
        text = i18n.t(f"status_{status}", lang)
    return html.Span([html.Span(icon, **{"aria-hidden": "true"}), " ", text],
                     className=f"status status--{status}")


def kpi_card(metric: Metric, *, value: float | None, previous: float | None, period_label: str,
             data_time: datetime | None, freshness: str, simulated: bool,
             partial: bool = False, lang: str | None = None, href: str | None = None,
             grain: str | None = None) -> html.Div:
    """One KPI. `partial`: the period is still running, so a total is not compared with the
    previous full period (that change would be meaningless). `lang` (public site): every word
    from the data.i18n catalogue; `href`: the label links to the metric's own page; `grain`:
    the period's length ('month' says "vs the month before" on the public site)."""
    status = metric.status(value)
    change = ""
    comparable = not (partial and metric.aggregate == "sum")
    if lang is None:
        domain, label, unit = DOMAIN_LABELS[metric.domain], metric.label, metric.unit
    else:
        domain = i18n.t(f"domain_{metric.domain}", lang)
        label, unit = i18n.metric_label(metric, lang), i18n.metric_unit(metric, lang)
    if comparable and value is not None and previous not in (None, 0) and previous == previous and value == value:
        pct = (value - previous) / abs(previous) * 100
        arrow = f"{'▲' if pct >= 0 else '▼'} {abs(pct):.0f}%"
        change = f"{arrow} vs previous" if lang is None else i18n.t(i18n.by_grain("kpi_vs_previous", grain), lang, change=arrow)
    target = ""
    if metric.target is not None:
        target = (f"target {metric.format_value(metric.target)} {unit}" if lang is None
                  else i18n.t("kpi_target", lang, target=metric.format_value(metric.target), unit=unit))
    simulated_text = (" · simulated data" if lang is None else i18n.t("kpi_simulated", lang)) if simulated else ""
    title = html.A(label, href=href, className="kpi-link") if href else label
    return html.Div(
        [
            html.Div([html.Span(domain, className="kpi-domain"),
                      status_badge(status, lang)], className="kpi-head"),
            html.Div(title, className="kpi-label"),
            html.Div([html.Span(metric.format_value(value), className="kpi-value"),
                      html.Span(unit, className="kpi-unit")], className="kpi-figure"),
            html.Div([html.Span(period_label), html.Span(change, className="kpi-change"),
                      html.Span(target, className="kpi-target")], className="kpi-meta"),
            html.Div([freshness_badge(freshness, data_time, lang),
                      html.Span(simulated_text, className="kpi-source")],
                     className="kpi-foot"),
        ],
        className=f"kpi-card kpi-card--{status} kpi-card--{freshness}",
    )


def _cell(value):
    if isinstance(value, Component):
        return value  # a cell drawn by the caller (e.g. a trend)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def table(frame, columns: dict[str, str], *, empty: str = "Nothing to show.", class_name: str = ""):
    """A plain, accessible HTML table of `frame` with human column titles."""
    if frame is None or frame.empty:
        return html.P(empty, className="text-muted")
    head = html.Thead(html.Tr([html.Th(title, scope="col") for title in columns.values()]))
    rows = []
    for record in frame[list(columns)].itertuples(index=False):
        rows.append(html.Tr([html.Td(_cell(v)) for v in record]))
    return dbc.Table([head, html.Tbody(rows)], striped=True, hover=True, size="sm",
                     responsive=True, className=class_name)


def _wall_number(metric: Metric, value: float | None) -> str:
    """Wall numbers stay short (at most ~5 characters): 3,080.2 → 3,080; 14,455 → 14.5k;
    1,812,000 → 1.81M."""
    if value is not None and value == value and 10_000 <= abs(value) < 100_000:
        return f"{value / 1e3:.3g}k"
    if value is not None and value == value and 1_000 <= abs(value) < 10_000:
        return f"{value:,.0f}"  # the decimals of a four-digit figure do not fit a tile
    return metric.format_value(value, compact=True)


def wall_freshness(state: str, data_time: datetime | None, simulated: bool = False) -> list:
    """Short freshness text for a wall tile: the time first ("stale since 12:00"), then the day
    when it is not today, in its own span so a narrow tile cuts the day, never the time."""
    if data_time is None:
        return [html.Span([FRESHNESS_TEXT["stale"], " no data"], className="freshness freshness--stale")]
    at = f"{data_time:%H:%M}"
    text = {"stale": f"stale since {at}", "late": f"late · data {at}"}.get(state, f"data {at}")
    now = datetime.now()
    day = ("" if data_time.date() == now.date() else f" ({data_time.day} {data_time:%b})" if data_time.year == now.year
           else f" ({data_time.day} {data_time:%b %Y})")
    return [html.Span([FRESHNESS_TEXT.get(state, "○"), " ", text], className=f"freshness freshness--{state}"),
            html.Span(day + (" · simulated" if simulated else ""), className="kpi-day")]


def wall_tile(metric: Metric, *, value: float | None, period_label: str, change: str,
              sparkline: str, data_time: datetime | None, freshness: str, simulated: bool) -> html.Div:
    """One wall tile: domain, status (icon + word), label, big value + unit, sparkline, change
    vs the same time last week, and the data time with fresh / late / stale."""
    status = metric.status(value)
    target = f"target {metric.format_value(metric.target)}" if metric.target is not None else ""
    return html.Div(
        [
            html.Div([html.Span(WALL_DOMAIN_LABELS.get(metric.domain, DOMAIN_LABELS[metric.domain]),
                                className="kpi-domain", title=DOMAIN_LABELS[metric.domain]),
                      status_badge(status)], className="kpi-head"),
            html.Div(metric.label, className="kpi-label"),
            html.Div([html.Span(_wall_number(metric, value), className="kpi-value",
                                title=metric.format_value(value)),
                      html.Span(metric.unit, className="kpi-unit")], className="kpi-figure"),
            html.Img(src=sparkline, className="kpi-spark", alt="") if sparkline else html.Div(className="kpi-spark"),
            html.Div([html.Span(change or "no comparison", className="kpi-change"),
                      html.Span(target, className="kpi-target")], className="kpi-meta"),
            html.Div(wall_freshness(freshness, data_time, simulated), className="kpi-foot",
                     title=f"{period_label}; data time {when(data_time)}" + (" (simulated data)" if simulated else "")),
        ],
        className=f"kpi-card kpi-card--{status} kpi-card--{freshness}",
        **{"data-metric": metric.id},
    )


# --- explorer and district profile ------------------------------------------------------

def _signed_pct(value: float | None, previous: float | None) -> str:
    if value is None or previous is None or value != value or previous != previous:
        return ""
    if previous == 0:
        return "no change vs previous" if value == 0 else "up from 0 vs previous"
    pct = (value - previous) / abs(previous) * 100
    return f"{pct:+.0f}% vs previous"


def signal_kpi_card(metric: Metric, *, title: str, value: float | None, previous: float | None,
                    period_label: str, signal, data_time: datetime | None, freshness: str,
                    simulated: bool, comparisons: list[tuple[str, str]] = (), sparkline: str = "",
                    href: str | None = None) -> html.Div:
    """A KPI card whose change carries an arrow and a colour only when a control-chart rule
    fired (`signal` from data.control_limits); the tooltip says which rule, or that the change
    is within normal variation. `comparisons`: (label, formatted value) lines, e.g. city median."""
    status = metric.status(value)
    change = _signed_pct(value, previous) or "no previous period"
    if signal.fired:
        # the arrow says on which side of the normal range the value lies (the rule's side); the
        # step from the previous period is plain text beside it, so "▲ -8 %" cannot happen
        good = (signal.direction == "up") == (metric.direction == "higher")
        arrow = "▲" if signal.direction == "up" else "▼"
        side = "above" if signal.direction == "up" else "below"
        change_el = html.Span([
            change, " · ",
            html.Span([html.Span(arrow, **{"aria-hidden": "true"}), f" {side} normal",
                       html.Span(f" · {signal.rule}", className="kpi-rule")],
                      className=f"kpi-change kpi-change--signal kpi-change--{'good' if good else 'bad'}",
                      title=signal.explanation, tabIndex=0, **{"data-rule": signal.rule})], className="kpi-change")
    else:
        change_el = html.Span([change, html.Span(" · normal variation", className="kpi-rule")],
                              className="kpi-change kpi-change--normal", title=signal.explanation, tabIndex=0)
    target = f"target {metric.format_value(metric.target)} {metric.unit}" if metric.target is not None else "no target"
    label = dcc_link(metric.label, href) if href else metric.label
    return html.Div(
        [
            html.Div([html.Span(title, className="kpi-domain"), status_badge(status)], className="kpi-head"),
            html.Div(label, className="kpi-label"),
            html.Div([html.Span(metric.format_value(value), className="kpi-value"),
                      html.Span(metric.unit, className="kpi-unit")], className="kpi-figure"),
            html.Img(src=sparkline, className="kpi-spark", alt="") if sparkline else None,
            html.Div([html.Span(period_label), change_el, html.Span(target, className="kpi-target")],
                     className="kpi-meta"),
            html.Ul([html.Li([html.Span(k, className="kpi-compare-label"), " ", v]) for k, v in comparisons],
                    className="kpi-compare") if comparisons else None,
            html.Div([freshness_badge(freshness, data_time),
                      html.Span(" · simulated data" if simulated else "", className="kpi-source")],
                     className="kpi-foot"),
        ],
        className=f"kpi-card kpi-card--{status} kpi-card--{freshness}",
        **{"data-metric": metric.id},
    )


def dcc_link(text: str, href: str):
    from dash import dcc

    return dcc.Link(text, href=href)


def data_grid(grid_id, frame: pd.DataFrame, columns: dict[str, str], *, formats: dict[str, str] | None = None,
              page_size: int = 25, height: str = "520px", csv_name: str = "table.csv"):
    """A dash-ag-grid table (sortable, filterable, paginated in the browser) of `frame` with
    human column titles. `formats`: column → d3-format for numbers."""
    import dash_ag_grid as dag

    formats = formats or {}
    defs = []
    for col, title in columns.items():
        spec = {"field": col, "headerName": title, "sortable": True, "filter": True, "resizable": True}
        if col in formats:
            spec["valueFormatter"] = {"function": f"params.value == null ? '–' : d3.format('{formats[col]}')(params.value)"}
            spec["type"] = "rightAligned"
        defs.append(spec)
    rows = grid_rows(frame, list(columns))
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=defs,
        defaultColDef={"minWidth": 90, "flex": 1},
        dashGridOptions={"pagination": True, "paginationPageSize": page_size,
                         "paginationPageSizeSelector": [10, 25, 50, 100], "animateRows": False,
                         "domLayout": "normal"},
        csvExportParams={"fileName": csv_name},
        style={"height": height, "width": "100%"},
        className="data-grid",
    )


def grid_rows(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """JSON-safe records: timestamps as ISO text, NaN as null."""
    if frame is None or frame.empty:
        return []
    out = frame[columns].copy()
    for col in columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d %H:%M")
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")
