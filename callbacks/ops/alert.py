"""One alert's page: facts, chart, timeline, the other domains' signals (read), and the
actions (acknowledge, assign, snooze, resolve with a note, add a note: officials on their
districts, admins; the data layer refuses everyone else whatever the request says)."""
from __future__ import annotations

from datetime import datetime

import dash
from dash import Input, Output, State, dcc, html

from callbacks import common
from data import access, episodes, facts, registry, triage
from data.web import guard
from layouts import components, figures, ids

ACTIONS = ("acknowledge", "assign", "snooze", "resolve", "note")
TRANSITION_TEXT = {None: "opened", "acknowledged": "acknowledged", "snoozed": "snoozed", "resolved": "resolved",
                   "open": "reopened"}


def _episode_id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**11 else None


def _fact(label, value):
    return html.Div([html.Dt(label), html.Dd(value if value not in (None, "") else "—")], className="alert-fact")


def _head(ep: dict, metric) -> list:
    fmt = (lambda v: "—" if v is None or v != v else metric.format_value(v)) if metric else (lambda v: str(v))
    names = common.district_names()
    district = "Whole city" if ep["district_id"] == "city" else names.get(ep["district_id"], ep["district_id"])
    label = triage.metric_label(ep["metric_id"])
    af = facts.of_alert(ep, metric)
    band = (f"{fmt(ep['lower'])}–{fmt(ep['upper'])}" if ep.get("lower") is not None and ep.get("upper") is not None
            else None)
    return [
        html.H1([html.Span(triage.SEVERITY_TEXT.get(ep["severity"], ep["severity"]), className=f"sev sev--{ep['severity']}"),
                 f" {label} · {district}"], className="h3 mt-2"),
        html.P(ep.get("message") or "", className="lead alert-message"),
        html.Dl([
            _fact("State", triage.state_text(ep)),
            _fact("Rule", f"{ep['rule']} ({triage.RULE_TEXT.get(ep['rule'], '')})"),
            _fact("How far out", triage.how_far(ep, metric)),
            _fact("Value", f"{fmt(ep.get('value'))} {metric.unit if metric else ''}"),
            _fact("Expected band", band),
            _fact("Target", fmt(ep.get("target")) if ep.get("target") is not None else None),
            _fact("Records (n)", af.n_text or None),
            _fact("Period judged", (af.period_text + " (complete)") if af.period_text else None),
            _fact("Compared with", af.reference_text or None),
            _fact("Rated", "yes" if af.rated else "Not rated: " + af.not_rated),
            _fact("Periods out of band", f"{triage.short_time(ep.get('first_period'))} → {triage.short_time(ep.get('last_period'))} ({ep.get('grain')})"),
            _fact("Now", _now_text(ep, metric)),
            _fact("Opened", f"{triage.short_time(ep.get('opened_at'))} ({triage.ago(ep.get('opened_at'), datetime.now())} ago)"),
            _fact("Forecast crossing", triage.short_time(ep.get("forecast_at")) or None),
            _fact("Data version", ep.get("data_version")),
        ], className="alert-facts"),
        html.P([html.A("Explore this metric, district and time ↗", href=triage.explore_href(ep))], className="small"),
    ]


def _now_text(ep: dict, metric) -> str | None:
    """The metric in the alert's district now, as its card shows it (data.facts at the alert's
    grain: a running hour or day is compared with the same elapsed part of its reference,
    computed at publish), so the alert page and the cards never disagree."""
    if metric is None or ep.get("grain") not in metric.grains:
        return None
    f = facts.latest([metric], grain=ep["grain"], district=ep["district_id"])[metric.id]
    if f.value is None:
        return f"{f.period_text}: no data"
    status = {"ok": "on target", "warning": "off target", "bad": "beyond the warning level"}.get(f.status or "", "")
    rated = status if f.status is not None else "not rated: " + f.status_reason
    parts = [f"{metric.format_value(f.value)} {metric.unit} ({f.period_text}), n = {f.n:,}", f.change_text]
    if rated and f.status != "none" and f.status_reason != f.change_reason:
        parts.append(rated)  # the same reason twice says nothing more
    elif f.status is None:
        parts[-1] = "not rated: " + f.status_reason
    return " · ".join(parts)


def _timeline(rows: list[dict]):
    if not rows:
        return html.P("Nothing recorded yet.", className="text-muted")
    items = []
    for t in rows:
        if t["from_state"] == t["to_state"]:
            what = "note"
        else:
            what = TRANSITION_TEXT.get(t["to_state"] if t["from_state"] is not None else None, t["to_state"])
        items.append(html.Li([html.Span(triage.short_time(t["at"]), className="tl-when"), " ",
                              html.Strong(what), f" by {t['actor']}",
                              html.Div(t["note"], className="tl-note") if t.get("note") else None],
                             className=f"tl-item tl-item--{what.replace(' ', '-')}"))
    return html.Ol(items, className="timeline")


def _signals(ep: dict):
    found = triage.signals(ep)
    start, end = found["window"].iloc[0]["start"], found["window"].iloc[0]["end"]
    parts = [html.P(f"{start:%a %d %b %H:%M} to {end:%a %d %b %H:%M}, "
                    f"{'the whole city' if ep['district_id'] == 'city' else 'district ' + ep['district_id']}; "
                    "each figure against the same hours a week earlier.", className="small text-muted")]
    metrics = found["metrics"]
    if metrics.empty:
        parts.append(html.P("No other metric has values in these hours.", className="text-muted"))
    else:
        metrics = metrics.assign(
            change_text=metrics["change"].map(lambda c: "" if c is None or c != c else f"{c * 100:+.0f} %"),
            grain_text=metrics["periods"].astype(str) + " " + metrics["grain"] + "s")
        parts.append(components.table(metrics, {"domain_label": "Domain", "metric": "Metric", "value_text": "These hours",
                                                "week_before_text": "Week before", "change_text": "Change",
                                                "grain_text": "Compared"},
                                      class_name="alert-signals-table"))
    requests = found["requests"]
    parts.append(html.H3("311 service requests opened in these hours", className="h6 mt-3"))
    if not access.current().can("records"):
        parts.append(html.P("Your account does not include record-level data.", className="text-muted small"))
    elif requests.empty:
        parts.append(html.P("None.", className="text-muted small"))
    else:
        parts.append(components.table(requests, {"category": "Category", "opened": "Opened", "still_open": "Still open"}))
    others = found["alerts"]
    parts.append(html.H3("Other alerts in this district then", className="h6 mt-3"))
    if others.empty:
        parts.append(html.P("None.", className="text-muted small"))
    else:
        parts.append(html.Ul([html.Li([dcc.Link(f"{triage.SEVERITY_TEXT.get(o['severity'], '')} "
                                                f"{triage.metric_label(o['metric_id'])}",
                                                href=f"/alerts/{o['id']}"),
                                       f" · {o['state']} · {o.get('message') or ''}"])
                              for o in others.head(20).to_dict("records")]))
    incidents = found["incidents"]
    parts.append(html.H3("Recorded incidents and annotations", className="h6 mt-3"))
    if incidents.empty:
        parts.append(html.P("None.", className="text-muted small"))
    else:
        parts.append(components.table(incidents, {"kind": "Kind", "title": "Title", "district_id": "District",
                                                  "starts_at": "From", "ends_at": "To"}))
    return parts


@dash.callback(
    Output(ids.ALERT_HEAD, "children"),
    Output(ids.ALERT_CHART, "figure"),
    Output(ids.ALERT_TIMELINE, "children"),
    Output(ids.ALERT_SIGNALS, "children"),
    Output(ids.ALERT_FORM, "hidden"),
    Input(ids.ALERT_ID, "data"),
    Input(ids.ALERT_CHANGED, "data"),
)
@guard.requires("read")
@common.guarded("message", figures.empty("No data"), "", "", True)
def alert_view(episode_id, _changed):
    episode_id = _episode_id(episode_id)
    ep = episodes.get(episode_id) if episode_id is not None else None
    if ep is None:  # also when the caller may not see it: the same answer, nothing of it
        return ([html.H1("Alert not found"), components.notice("No such alert, or it is in a district outside "
                                                               "your account.", color="secondary")],
                figures.empty("No alert"), "", "", True)
    metric = registry.get(ep["metric_id"])
    series = triage.series_around(ep)
    chart = figures.alert_chart(series, metric, ep) if metric is not None else figures.empty("Unknown metric")
    timeline = _timeline(episodes.history(episode_id))
    acting = episodes.may_act(ep["district_id"])
    head = _head(ep, metric)
    if not acting:
        head.append(components.notice("Read only: your account may not act on this alert.", color="secondary"))
    return head, chart, timeline, _signals(ep), not acting


def _until(value) -> datetime | None:
    if not isinstance(value, str) or not 0 < len(value) <= 19:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dash.callback(
    Output(ids.ALERT_RESULT, "children"),
    Output(ids.ALERT_CHANGED, "data"),
    Output(ids.ALERT_NOTE, "value"),
    Input(ids.ALERT_SUBMIT, "n_clicks"),
    State(ids.ALERT_ID, "data"),
    State(ids.ALERT_ACTION, "value"),
    State(ids.ALERT_NOTE, "value"),
    State(ids.ALERT_ASSIGNEE, "value"),
    State(ids.ALERT_UNTIL, "value"),
    State(ids.ALERT_CHANGED, "data"),
    prevent_initial_call=True,
)
@guard.requires("annotate")
def alert_act(clicks, episode_id, action, note, assignee, until, changed):
    if not isinstance(clicks, int) or isinstance(clicks, bool) or clicks <= 0:
        return dash.no_update, dash.no_update, dash.no_update
    episode_id = _episode_id(episode_id)
    if episode_id is None or action not in ACTIONS:
        return components.notice("Choose an action.", color="warning"), dash.no_update, dash.no_update
    note = note if isinstance(note, str) else None
    assignee = assignee if isinstance(assignee, str) else None
    actor = access.current().name
    try:
        if action == "acknowledge":
            episodes.acknowledge(episode_id, actor, note)
        elif action == "assign":
            episodes.assign(episode_id, actor, assignee, note)
        elif action == "snooze":
            when = _until(until)
            if when is None:
                raise episodes.InvalidTransition("choose a date and time to snooze until")
            episodes.snooze(episode_id, actor, when, note)
        elif action == "resolve":
            episodes.resolve(episode_id, actor, note)
        else:
            episodes.add_note(episode_id, actor, note)
    except access.AccessDenied as exc:
        return components.notice(f"Not allowed: {exc}.", color="danger"), dash.no_update, dash.no_update
    except episodes.InvalidTransition as exc:
        return components.notice(str(exc)[:1].upper() + str(exc)[1:] + ".", color="warning"), dash.no_update, \
            dash.no_update
    changed = changed + 1 if isinstance(changed, int) and 0 <= changed < 10**9 else 1
    done = {"acknowledge": "Acknowledged", "assign": "Assigned", "snooze": "Snoozed", "resolve": "Resolved",
            "note": "Note added"}[action]
    return components.notice(f"✓ {done}.", color="success"), changed, ""
