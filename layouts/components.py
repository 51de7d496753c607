"""Reusable components. Status and freshness drive CSS classes; each carries text and an
icon too, so colour is never the only signal."""
from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from dash.development.base_component import Component

from data import i18n
from data.facts import Facts, arrow
from data.registry import DOMAIN_LABELS, Metric

STATUS_TEXT = {
    "ok": ("✓", "On target"),
    "warning": ("⚠", "Warning"),
    "bad": ("✖", "Off target"),
    "none": ("•", "No target"),
    "unrated": ("–", "Not rated"),  # too few records, or a running total: no colour (data.facts)
}
FRESHNESS_TEXT = {"fresh": "●", "late": "◐", "stale": "○"}
# Wall tiles are narrow: one short word per domain, so the status beside it is never cut.
WALL_DOMAIN_LABELS = {"transport": "Transport", "waste": "Waste", "parking": "Parking", "satisfaction": "Service"}


def notice(message: str, color: str = "warning") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="notice", dismissable=False)


def sign_in_required(signed_in: bool = False, lang: str = "en") -> html.Div:
    """What a page shows a caller who may not see it (the server has already refused the data),
    in the page's language: a Spanish reader who followed a staff link is told so in Spanish."""
    t, lang = i18n.t, i18n.valid_lang(lang)
    if signed_in:
        return html.Div([html.H1(t("not_allowed_title", lang)),
                         notice(t("not_allowed_text", lang), color="danger")], lang=lang)
    public = "/public" + (f"?lang={lang}" if lang != "en" else "")
    return html.Div([html.H1(t("sign_in_required_title", lang)),
                     html.P([t("sign_in_required_text", lang), " ", html.A(t("sign_in", lang), href="/login"),
                             " ", t("sign_in_required_or", lang), " ",
                             html.A(t("sign_in_required_public", lang), href=public), "."])], lang=lang)


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


def _change_words(facts: Facts, lang: str | None) -> str:
    """The change with the reference it is against, or why there is none, in the page language."""
    if lang is None:
        return facts.change_text
    if facts.change is not None:
        return i18n.t(i18n.by_grain("kpi_vs_previous", facts.grain), lang, change=arrow(facts.change))
    if facts.suppressed:
        return i18n.t("kpi_withheld", lang)
    if facts.change_reason.startswith("too few"):
        return i18n.t("kpi_too_few", lang, n=facts.n, min_n=facts.metric.min_n)
    if facts.value is None:
        return i18n.t("no_data", lang)
    return i18n.t("kpi_no_comparable", lang)


def _status(facts: Facts, lang: str | None = None) -> html.Span:
    """The status badge; an unrated value says why (tooltip and screen-reader text)."""
    badge = status_badge(facts.shown_status, lang)
    if facts.status is None and facts.status_reason:
        reason = facts.status_reason if lang is None else _status_reason(facts, lang)
        badge.title = reason
        badge.children = [*badge.children, html.Span(f" ({reason})", className="visually-hidden")]
    return badge


def _status_reason(facts: Facts, lang: str) -> str:
    """Why a value is not rated, in the page language (data.facts gives it in English)."""
    reason = facts.status_reason
    if reason.startswith("too few"):
        return i18n.t("kpi_too_few", lang, n=i18n.integer(facts.n, lang), min_n=facts.metric.min_n)
    if reason == "withheld":
        return i18n.t("kpi_withheld", lang)
    if reason.startswith("period still running"):
        return i18n.t("kpi_running", lang)
    return i18n.t("no_data", lang)


def kpi_card(facts: Facts, *, variant: str = "overview", lang: str | None = None, href: str | None = None,
             title: str | None = None, sparkline: str = "", signal=None,
             comparisons: list[tuple[str, str]] = ()) -> html.Div:
    """One KPI card from the facts of its number (data.facts), in one of three variants:

    * ``overview`` — ops overview and public site (`lang`: every word from data.i18n; `href`:
      the label links to the metric's page);
    * ``wall`` — a wall tile: short domain, compact number, sparkline, short freshness;
    * ``signal`` — explorer and district profile: `title` (the area), the change carries an
      arrow and colour only when a control-chart rule fired (`signal`), `comparisons` lines.

    Every variant shows the period and how far its data reaches, the change *with the
    reference it is against* ("▲ 12% vs Tue 24 Nov, to 06:00") or why there is none ("too few
    records (n=2 < 10)", "no comparable data"), and the status — none (no colour) when the
    facts do not support one, with the reason. ``data-n`` carries the records behind it."""
    metric = facts.metric
    status = facts.shown_status
    if lang is None:
        domain, label, unit = DOMAIN_LABELS[metric.domain], metric.label, metric.unit
    else:
        domain = i18n.t(f"domain_{metric.domain}", lang)
        label, unit = i18n.metric_label(metric, lang), i18n.metric_unit(metric, lang)
    attrs = {"data-metric": metric.id, "data-n": str(facts.n)}
    cls = f"kpi-card kpi-card--{status} kpi-card--{facts.freshness}"
    change_cls = "kpi-change" + ("" if facts.change is not None else " kpi-change--none")
    records = f"n = {facts.n:,} records" if lang is None else f"n = {i18n.integer(facts.n, lang)}"
    if variant == "wall":
        target = f"target {metric.format_value(metric.target)}" if metric.target is not None else ""
        return html.Div(
            [
                html.Div([html.Span(WALL_DOMAIN_LABELS.get(metric.domain, DOMAIN_LABELS[metric.domain]),
                                    className="kpi-domain", title=DOMAIN_LABELS[metric.domain]),
                          _status(facts)], className="kpi-head"),
                html.Div(metric.label, className="kpi-label"),
                html.Div([html.Span(_wall_number(metric, facts.value), className="kpi-value",
                                    title=f"{metric.format_value(facts.value)} · {records}"),
                          html.Span(metric.unit, className="kpi-unit")], className="kpi-figure"),
                html.Img(src=sparkline, className="kpi-spark", alt="") if sparkline else html.Div(className="kpi-spark"),
                html.Div([html.Span(facts.change_text or "no comparison", className=change_cls),
                          html.Span(target, className="kpi-target")], className="kpi-meta"),
                html.Div(wall_freshness(facts.freshness, facts.data_time, facts.simulated), className="kpi-foot",
                         title=f"{facts.period_text}; {records}; data time {when(facts.data_time)}"
                               + (" (simulated data)" if facts.simulated else "")),
            ],
            className=cls, **attrs,
        )
    if variant == "signal":
        change_el = _signal_change(facts, signal)
        target = f"target {metric.format_value(metric.target)} {metric.unit}" if metric.target is not None else "no target"
        name = dcc_link(metric.label, href) if href else metric.label
        return html.Div(
            [
                html.Div([html.Span(title or domain, className="kpi-domain"), _status(facts)], className="kpi-head"),
                html.Div(name, className="kpi-label"),
                html.Div([html.Span(metric.format_value(facts.value), className="kpi-value", title=records),
                          html.Span(metric.unit, className="kpi-unit")], className="kpi-figure"),
                html.Img(src=sparkline, className="kpi-spark", alt="") if sparkline else None,
                html.Div([html.Span(facts.period_text), change_el, html.Span(target, className="kpi-target")],
                         className="kpi-meta"),
                html.Ul([html.Li([html.Span(k, className="kpi-compare-label"), " ", v]) for k, v in comparisons],
                        className="kpi-compare") if comparisons else None,
                html.Div([freshness_badge(facts.freshness, facts.data_time),
                          html.Span(" · simulated data" if facts.simulated else "", className="kpi-source")],
                         className="kpi-foot"),
            ],
            className=cls, **attrs,
        )
    target = ""
    if metric.target is not None:
        target = (f"target {metric.format_value(metric.target)} {unit}" if lang is None
                  else i18n.t("kpi_target", lang, target=i18n.metric_value(metric, metric.target, lang), unit=unit))
    simulated_text = (" · simulated data" if lang is None else i18n.t("kpi_simulated", lang)) if facts.simulated else ""
    period = facts.period_text if lang is None else _public_period(facts, lang)
    # the link stretches over the whole card (Bootstrap's stretched-link): the card is clickable
    name = html.A(label, href=href, className="kpi-link stretched-link") if href else label
    number = metric.format_value(facts.value) if lang is None else i18n.metric_value(metric, facts.value, lang)
    return html.Div(
        [
            html.Div([html.Span(domain, className="kpi-domain"), _status(facts, lang)], className="kpi-head"),
            html.Div(name, className="kpi-label"),
            html.Div([html.Span(number, className="kpi-value", title=records),
                      html.Span(unit, className="kpi-unit")], className="kpi-figure"),
            html.Div([html.Span(period), html.Span(_change_words(facts, lang), className=change_cls),
                      html.Span(target, className="kpi-target")], className="kpi-meta"),
            html.Div([freshness_badge(facts.freshness, facts.data_time, lang),
                      html.Span(simulated_text, className="kpi-source")],
                     className="kpi-foot"),
        ],
        className=cls, **attrs,
    )


def _public_period(facts: Facts, lang: str) -> str:
    if facts.period is None:
        return i18n.t("no_data", lang)
    ts = pd.Timestamp(facts.period)
    if facts.grain == "week":
        return i18n.t("kpi_week_of", lang, date=i18n.date(ts, lang))
    return i18n.date(ts, lang, day=facts.grain == "day")


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
    titles = list(columns.values())
    for record in frame[list(columns)].itertuples(index=False):
        # data-label: the column title beside each cell when a table reflows on a phone (public-reflow)
        rows.append(html.Tr([html.Td(_cell(v), **{"data-label": title}) for v, title in zip(record, titles, strict=False)]))
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


# --- explorer and district profile ------------------------------------------------------

def _signal_change(facts: Facts, signal) -> html.Span:
    """The step vs the reference as plain text, with an arrow and colour only when a
    control-chart rule fired; the tooltip says which rule, or that it is normal variation."""
    change = (f"{facts.change:+.0f}% {facts.reference.label}" if facts.change is not None
              else facts.change_reason or "no previous period")
    if signal is not None and signal.fired and facts.status is not None:
        # the arrow says on which side of the normal range the value lies (the rule's side); the
        # step from the previous period is plain text beside it, so "▲ -8 %" cannot happen
        good = (signal.direction == "up") == (facts.metric.direction == "higher")
        arrow_ = "▲" if signal.direction == "up" else "▼"
        side = "above" if signal.direction == "up" else "below"
        return html.Span([
            change, " · ",
            html.Span([html.Span(arrow_, **{"aria-hidden": "true"}), f" {side} normal",
                       html.Span(f" · {signal.rule}", className="kpi-rule")],
                      className=f"kpi-change kpi-change--signal kpi-change--{'good' if good else 'bad'}",
                      title=signal.explanation, tabIndex=0, **{"data-rule": signal.rule})], className="kpi-change")
    explanation = signal.explanation if signal is not None else ""
    rule = " · normal variation" if signal is not None and facts.status is not None else ""
    return html.Span([change, html.Span(rule, className="kpi-rule")],
                     className="kpi-change kpi-change--normal", title=explanation, tabIndex=0)


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
