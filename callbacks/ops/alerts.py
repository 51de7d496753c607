"""Alerts callbacks: the work queue of alert episodes (the detector's, from the ops store),
the quick acknowledge, and the per-domain volume and response times.

``current_alerts`` is the old rule (latest value against the registry's target and warning
band), kept as the baseline ``bench.alerts`` compares the detector with; no page shows it."""
import json

import dash
import pandas as pd
from dash import ALL, Input, Output, State, dcc, html

from callbacks import common
from data import access, episodes, registry, repository, triage
from data.web import guard
from layouts import components, figures, ids


def current_alerts(grain: str = "day") -> pd.DataFrame:
    """Every (metric, district) whose latest value is 'bad' or 'warning', worst first: each
    metric at `grain`, or its finest published grain above it (monthly tonnage by month)."""
    metrics = {m.id: m for m in common.available_metrics()}
    grains = {m.id: common.valid_grain(grain, m, default=grain) for m in metrics.values()}
    latest = pd.concat([repository.run("ops/latest_by_district", grain=g).assign(grain=g)
                        for g in sorted(set(grains.values()))]
                       or [pd.DataFrame(columns=["metric_id", "district_id", "period", "value", "n", "grain"])])
    latest = latest[latest["metric_id"].map(grains) == latest["grain"]]
    names = common.district_names()
    rows = []
    for row in latest.itertuples():
        metric = metrics.get(row.metric_id)
        if metric is None or pd.isna(row.value):
            continue
        status = metric.status(float(row.value))
        if status in ("bad", "warning"):
            gap = abs(float(row.value) - metric.target)
            rows.append({"severity": "critical" if status == "bad" else "warning",
                         "status": components.STATUS_TEXT[status][0] + " " + components.STATUS_TEXT[status][1],
                         "metric_id": metric.id, "metric": metric.label,
                         "district_id": row.district_id, "district": names.get(row.district_id, row.district_id),
                         "value": f"{metric.format_value(row.value)} {metric.unit}",
                         "target": f"{metric.format_value(metric.target)} {metric.unit}",
                         "period": f"{row.period:%Y-%m}" if row.grain == "month" else f"{row.period:%Y-%m-%d}",
                         "grain": row.grain, "gap": gap / (abs(metric.target) or 1)})
    frame = pd.DataFrame(rows, columns=["severity", "status", "metric_id", "metric", "district_id",
                                        "district", "value", "target", "period", "grain", "gap"])
    return frame.sort_values(["severity", "gap"], ascending=[True, False]).reset_index(drop=True)


# --- the work queue (episodes from the detector; data/triage.py) ----------------------------

def _row(ep: dict, spark: list[float]) -> html.Li:
    src = figures.band_sparkline_svg(spark, ep.get("lower"), ep.get("upper"))
    band = ""
    if ep.get("lower") is not None and ep.get("upper") is not None and ep["lower"] == ep["lower"]:
        band = " with the expected band shaded"
    n = ep.get("n")
    facts = [html.Span(ep["how_far"], className="alert-far")]
    facts.append(html.Span(ep.get("facts") or (f"n = {int(n):,}" if n is not None and n == n else "n unknown"),
                           className="alert-n"))
    facts.append(html.Span(f"since {triage.short_time(ep['opened_at'])} ({ep['since']})", className="alert-since"))
    actions = [dcc.Link("Open ›", href=ep["href"], className="btn btn-outline-secondary btn-sm"),
               html.A("Explore ↗", href=ep["explore"], className="btn btn-outline-secondary btn-sm",
                      title="The explorer at this metric, district and time")]
    if ep["state"] in ("open", "snoozed") and episodes.may_act(ep["district_id"]):
        actions.insert(0, html.Button("Acknowledge", id={"type": ids.ALERTS_ACK, "episode": int(ep["id"])},
                                      n_clicks=0, className="btn btn-primary btn-sm"))
    return html.Li(
        [
            html.Div(html.Span(triage.SEVERITY_TEXT.get(ep["severity"], ep["severity"]),
                               className=f"sev sev--{ep['severity']}"), className="alert-row-sev"),
            html.Div([dcc.Link([html.Strong(ep["metric"]), f" · {ep['district']}"], href=ep["href"],
                               className="alert-row-title"),
                      html.Div(ep.get("message") or "", className="alert-row-message"),
                      html.Div(facts, className="alert-row-facts")], className="alert-row-main"),
            html.Div(triage.state_text(ep), className="alert-row-state"),
            html.Img(src=src, alt=f"Recent values of {ep['metric']} in {ep['district']}{band}",
                     className="alert-row-spark") if src else html.Div("no recent values", className="alert-row-spark small text-muted"),
            html.Div(actions, className="alert-row-actions"),
        ],
        className=f"alert-row alert-row--{ep['severity']} alert-row--{ep['state']}",
        **{"data-episode": str(ep["id"])},
    )


def render_queue(frame: pd.DataFrame, sparks: dict, group: str):
    if frame.empty:
        return html.P("No alert matches these filters. ✓", className="text-muted")
    rows = frame.to_dict("records")
    if group not in ("district", "domain"):
        return html.Ul([_row(ep, sparks.get(int(ep["id"]), [])) for ep in rows], className="alert-list")
    key = "district" if group == "district" else "domain_label"
    sections = []
    for name in dict.fromkeys(ep[key] for ep in rows):
        members = [ep for ep in rows if ep[key] == name]
        critical = sum(1 for ep in members if ep["severity"] == "critical")
        sections.append(html.Section([
            html.H2([name or "—", html.Span(f" {len(members)} alert{'s' if len(members) != 1 else ''}"
                                           + (f", {critical} critical" if critical else ""),
                                           className="text-muted small fw-normal")], className="h6 alert-group"),
            html.Ul([_row(ep, sparks.get(int(ep["id"]), [])) for ep in members], className="alert-list"),
        ]))
    return sections


def _filters(states, domain, severity, district, group, sort):
    """Every filter value validated against its allow-list (any client can post anything)."""
    # not a list (a client posting anything): the default states; an empty list: none chosen
    states = ([s for s in states if isinstance(s, str) and s in episodes.STATES][:4] if isinstance(states, list)
              else ["open", "acknowledged", "snoozed"])
    domain = domain if isinstance(domain, str) and domain in registry.DOMAINS else None
    severity = severity if severity in episodes.SEVERITIES else None
    known = common.district_names()
    district = district if isinstance(district, str) and (district in known or district == "city") else None
    group = group if group in triage.GROUPS else "none"
    sort = sort if isinstance(sort, str) and sort in triage.SORTS else "severity"
    return states, domain, severity, district, group, sort


@dash.callback(
    Output(ids.ALERTS_TABLE, "children"),
    Output(ids.ALERTS_DISTRICT, "options"),
    Input(ids.ALERTS_STATES, "value"),
    Input(ids.ALERTS_DOMAIN, "value"),
    Input(ids.ALERTS_SEVERITY, "value"),
    Input(ids.ALERTS_DISTRICT, "value"),
    Input(ids.ALERTS_GROUP, "value"),
    Input(ids.ALERTS_SORT, "value"),
    Input(ids.ALERTS_TICK, "n_intervals"),
    Input(ids.ALERTS_CHANGED, "data"),
)
@guard.requires("read")
@common.guarded("message", [])
def alerts_queue(states, domain, severity, district, group, sort, _tick, _changed):
    states, domain, severity, district, group, sort = _filters(states, domain, severity, district, group, sort)
    if not states:
        return html.P("Choose at least one state.", className="text-muted"), dash.no_update
    frame = triage.queue(states=tuple(states), domain=domain, district=district, severity=severity, sort=sort)
    sparks = triage.recent_values(frame)
    principal = access.current()
    names = common.district_names()
    options = [{"label": "Whole city", "value": "city"}] + [
        {"label": f"{name} ({did})", "value": did} for did, name in sorted(names.items(), key=lambda kv: kv[1])
        if did != "city" and principal is not None and principal.sees(did)]
    return render_queue(frame, sparks, group), options


@dash.callback(
    Output(ids.ALERTS_RESULT, "children"),
    Output(ids.ALERTS_CHANGED, "data"),
    Input({"type": ids.ALERTS_ACK, "episode": ALL}, "n_clicks"),
    State(ids.ALERTS_CHANGED, "data"),
    prevent_initial_call=True,
)
@guard.requires("annotate")
def alerts_acknowledge(clicks, changed):
    """Acknowledge the alert whose button was pressed (the data layer checks the district)."""
    episode_id = None
    for item in dash.callback_context.triggered or []:
        prop, value = str(item.get("prop_id", "")), item.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or not prop.endswith(".n_clicks"):
            continue
        try:
            key = json.loads(prop[: -len(".n_clicks")])
        except ValueError:
            continue
        if isinstance(key, dict) and key.get("type") == ids.ALERTS_ACK and isinstance(key.get("episode"), int):
            episode_id = key["episode"]
    if episode_id is None:
        return dash.no_update, dash.no_update
    changed = changed + 1 if isinstance(changed, int) and 0 <= changed < 10**9 else 1
    principal = access.current()
    try:
        ep = episodes.acknowledge(episode_id, principal.name)
    except access.AccessDenied as exc:
        return components.notice(f"Not allowed: {exc}.", color="danger"), dash.no_update
    except episodes.InvalidTransition as exc:
        return components.notice(str(exc).capitalize() + ".", color="warning"), changed
    label = triage.metric_label(ep["metric_id"])
    return components.notice(f"✓ Acknowledged: {label} in {ep['district_id']}.", color="success"), changed


def _hours(value) -> str:
    return "—" if value is None or value != value else (f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d")


@dash.callback(Output(ids.ALERTS_STATS, "children"), Input(ids.ALERTS_TICK, "n_intervals"),
               Input(ids.ALERTS_CHANGED, "data"))
@guard.requires("read")
@common.guarded("message")
def alerts_stats(_tick, _changed):
    frame = episodes.stats(days=30)
    if frame.empty:
        volume = html.P("No alert was opened in the last 30 days.", className="text-muted")
    else:
        frame = frame.assign(domain=frame["domain"].map(lambda d: registry.DOMAIN_LABELS.get(d, d)),
                             ack=frame["median_hours_to_acknowledge"].map(_hours),
                             res=frame["median_hours_to_resolve"].map(_hours))
        volume = components.table(frame, {"domain": "Domain", "volume": "Alerts opened", "open": "Still open",
                                          "ack": "Median time to acknowledge", "res": "Median time to resolve"})
    return [volume, *standing_section()]


def standing_section() -> list:
    """The standing off-target status (registry field `standing`): listed here, not raised as
    alerts, and said so."""
    frame = triage.standing()
    unrated = frame.attrs.get("unrated", 0)
    parts = [html.H2("Off target: standing status (not alerts)", className="h5 mt-4", id="alerts-standing"),
             html.P(triage.STANDING_NOTE, className="text-muted small")]
    if frame.empty:
        parts.append(html.P("Nothing is off target over the latest complete week.", className="text-muted"))
    else:
        shown = frame.assign(status=frame["status"].map({"bad": "✖ beyond the warning level",
                                                         "warning": "⚠ off target"}),
                             n=frame["n"].map(lambda v: f"{int(v):,}"))
        parts.append(components.table(shown, {"metric": "Metric", "district": "District", "period_text": "Week",
                                              "value_text": "Value", "target_text": "Target", "n": "Records (n)",
                                              "status": "Status"}))
    if unrated:
        parts.append(html.P(f"{unrated} district-week value(s) rest on fewer records than the metric's minimum and "
                            "are not rated.", className="text-muted small"))
    return parts
