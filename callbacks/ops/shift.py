"""Shift log: what happened to the alerts in the last hours and the handover notes (read);
adding a note (officials for their districts, all-district accounts for the whole city)."""
from __future__ import annotations

from datetime import datetime, timedelta

import dash
import pandas as pd
from dash import Input, Output, State, dcc, html

from callbacks import common
from data import access, shiftlog, triage
from data.web import guard
from layouts import components, ids

HOURS = (8, 12, 24, 72)


def _what(row) -> str:
    if row["from_state"] is None or pd.isna(row["from_state"]):
        return "opened"
    if row["from_state"] == row["to_state"]:
        return "note"
    if row["to_state"] == "open":
        return "reopened" if row["from_state"] == "resolved" else "back open"
    return row["to_state"]


@dash.callback(
    Output(ids.SHIFT_SUMMARY, "children"),
    Output(ids.SHIFT_NOTES, "children"),
    Output(ids.SHIFT_EVENTS, "children"),
    Output(ids.SHIFT_DISTRICT, "options"),
    Input(ids.SHIFT_HOURS, "value"),
    Input(ids.SHIFT_TICK, "n_intervals"),
    Input(ids.SHIFT_CHANGED, "data"),
)
@guard.requires("read")
@common.guarded("message", "", "", [])
def shift_view(hours, _tick, _changed):
    hours = hours if hours in HOURS else 12
    end = datetime.now().replace(microsecond=0) + timedelta(seconds=1)
    start = end - timedelta(hours=hours)
    events = shiftlog.happened(start, end)
    counts = shiftlog.summary(events)
    summary = html.P([html.Strong(f"Since {start:%a %d %b %H:%M}: "),
                      f"{counts['opened']} alert(s) opened, {counts['acknowledged']} acknowledged, "
                      f"{counts['resolved_by_hand']} resolved by hand, {counts['resolved_by_itself']} resolved by "
                      f"themselves (back in band), {counts['notes']} note(s) and assignments."])
    notes = shiftlog.notes(start, end)
    names = common.district_names()
    if notes.empty:
        notes_out = html.P("No handover note in this time.", className="text-muted small")
    else:
        notes_out = html.Ul([html.Li([html.Span(triage.short_time(n["at"]), className="tl-when"), " ", html.Strong(n["author"]),
                                      f" · {names.get(n['district_id'], n['district_id']) if n['district_id'] else 'whole city'}",
                                      html.Div(n["text"], className="tl-note")], className="tl-item")
                             for n in notes.to_dict("records")], className="timeline")
    if events.empty:
        events_out = html.P("No alert changed in this time.", className="text-muted small")
    else:
        items = []
        for row in events.iloc[::-1].head(300).to_dict("records"):
            where = "whole city" if row["district_id"] == "city" else names.get(row["district_id"], row["district_id"])
            items.append(html.Li([
                html.Span(triage.short_time(row["at"]), className="tl-when"), " ",
                html.Strong(_what(row)), f" by {row['actor']} · ",
                dcc.Link(f"{triage.SEVERITY_TEXT.get(row['severity'], '')} {triage.metric_label(row['metric_id'])}"
                         f" · {where}", href=f"/alerts/{row['episode_id']}"),
                html.Div(row["note"], className="tl-note") if row.get("note") else None,
            ], className="tl-item"))
        events_out = html.Ol(items, className="timeline")
    principal = access.current()
    options = [{"label": f"{name} ({did})", "value": did} for did, name in sorted(names.items(), key=lambda kv: kv[1])
               if principal is not None and (principal.districts == access.ALL or did in principal.districts)]
    return summary, notes_out, events_out, options


@dash.callback(
    Output(ids.SHIFT_RESULT, "children"),
    Output(ids.SHIFT_CHANGED, "data"),
    Output(ids.SHIFT_TEXT, "value"),
    Input(ids.SHIFT_ADD, "n_clicks"),
    State(ids.SHIFT_TEXT, "value"),
    State(ids.SHIFT_DISTRICT, "value"),
    State(ids.SHIFT_CHANGED, "data"),
    prevent_initial_call=True,
)
@guard.requires("annotate")
def shift_add(clicks, text, district, changed):
    if not isinstance(clicks, int) or isinstance(clicks, bool) or clicks <= 0:
        return dash.no_update, dash.no_update, dash.no_update
    try:
        shiftlog.add_note(text, district if isinstance(district, str) else None,
                          known_districts=frozenset(common.district_names()))
    except access.AccessDenied as exc:
        return components.notice(f"Not allowed: {exc}.", color="danger"), dash.no_update, dash.no_update
    except shiftlog.InvalidNote as exc:
        return components.notice(str(exc)[:1].upper() + str(exc)[1:] + ".", color="warning"), dash.no_update, \
            dash.no_update
    changed = changed + 1 if isinstance(changed, int) and 0 <= changed < 10**9 else 1
    return components.notice("✓ Note added.", color="success"), changed, ""
