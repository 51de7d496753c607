"""Reusable components. Status and freshness drive CSS classes; each carries text and an
icon too, so colour is never the only signal."""
from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from data.registry import DOMAIN_LABELS, Metric

STATUS_TEXT = {
    "ok": ("✓", "On target"),
    "warning": ("⚠", "Warning"),
    "bad": ("✖", "Off target"),
    "none": ("•", "No target"),
}
FRESHNESS_TEXT = {"fresh": "●", "late": "◐", "stale": "○"}


def notice(message: str, color: str = "warning") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="notice", dismissable=False)


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


def freshness_badge(state: str, data_time: datetime | None) -> html.Span:
    icon = FRESHNESS_TEXT.get(state, "○")
    if state == "stale":
        text = f"stale since {data_time:%d %b %H:%M}" if data_time else "no data"
    elif state == "late":
        text = f"late · data {data_time:%H:%M}"
    else:
        text = f"data {data_time:%d %b %H:%M}" if data_time else "no data"
    return html.Span([icon, " ", text], className=f"freshness freshness--{state}",
                     title=f"Data time {when(data_time)}")


def status_badge(status: str) -> html.Span:
    icon, text = STATUS_TEXT[status]
    return html.Span([html.Span(icon, **{"aria-hidden": "true"}), " ", text],
                     className=f"status status--{status}")


def kpi_card(metric: Metric, *, value: float | None, previous: float | None, period_label: str,
             data_time: datetime | None, freshness: str, simulated: bool,
             partial: bool = False) -> html.Div:
    """One KPI. `partial`: the period is still running, so a total is not compared with the
    previous full period (that change would be meaningless)."""
    status = metric.status(value)
    change = ""
    comparable = not (partial and metric.aggregate == "sum")
    if comparable and value is not None and previous not in (None, 0) and previous == previous and value == value:
        pct = (value - previous) / abs(previous) * 100
        change = f"{'▲' if pct >= 0 else '▼'} {abs(pct):.0f}% vs previous"
    target = f"target {metric.format_value(metric.target)} {metric.unit}" if metric.target is not None else ""
    return html.Div(
        [
            html.Div([html.Span(DOMAIN_LABELS[metric.domain], className="kpi-domain"),
                      status_badge(status)], className="kpi-head"),
            html.Div(metric.label, className="kpi-label"),
            html.Div([html.Span(metric.format_value(value), className="kpi-value"),
                      html.Span(metric.unit, className="kpi-unit")], className="kpi-figure"),
            html.Div([html.Span(period_label), html.Span(change, className="kpi-change"),
                      html.Span(target, className="kpi-target")], className="kpi-meta"),
            html.Div([freshness_badge(freshness, data_time),
                      html.Span(" · simulated data" if simulated else "", className="kpi-source")],
                     className="kpi-foot"),
        ],
        className=f"kpi-card kpi-card--{status} kpi-card--{freshness}",
    )


def _cell(value) -> str:
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
    """Wall numbers stay short (at most ~5 characters): 14,455 → 14.5k; 1,812,000 → 1.81M."""
    if value is not None and value == value and 10_000 <= abs(value) < 100_000:
        return f"{value / 1e3:.3g}k"
    return metric.format_value(value, compact=True)


def wall_freshness(state: str, data_time: datetime | None, simulated: bool = False) -> list:
    """Short freshness text for a wall tile: the time first ("stale since 12:00"), then the day
    when it is not today, in its own span so a narrow tile cuts the day, never the time."""
    if data_time is None:
        return [html.Span([FRESHNESS_TEXT["stale"], " no data"], className="freshness freshness--stale")]
    at = f"{data_time:%H:%M}"
    text = {"stale": f"stale since {at}", "late": f"late · data {at}"}.get(state, f"data {at}")
    day = "" if data_time.date() == datetime.now().date() else f" ({data_time.day} {data_time:%b})"
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
            html.Div([html.Span(DOMAIN_LABELS[metric.domain], className="kpi-domain"),
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
