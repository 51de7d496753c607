"""Annotations page callbacks: the list (the caller's scope), picking one into the form with
its audit trail, and one action callback (save = add or edit, delete, approve, reject) whose
rules (author or admin, scope, review) are enforced in data.annotations."""
from __future__ import annotations

import dash
from dash import Input, Output, State, ctx, html, no_update

from callbacks import common
from data import access, annotations, ops_store
from data.web import guard
from layouts import components, ids

COLUMNS = annotations.LIST_TITLES


def _note_id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62 else None


@dash.callback(Output(ids.NOTES_GRID, "rowData"), Input(ids.NOTES_CHANGED, "data"))
@guard.requires("read")
@common.guarded([])
def notes_list(_changed):
    try:
        frame = annotations.listing(access.current())
    except ops_store.Busy:
        return no_update
    frame = frame.assign(public=frame["public"].map({1: "asked", 0: ""}))
    return components.grid_rows(frame, list(COLUMNS))


@dash.callback(
    Output(ids.NOTES_SELECTED, "data"),
    Output(ids.NOTES_TITLE, "value"),
    Output(ids.NOTES_KIND, "value"),
    Output(ids.NOTES_START, "value"),
    Output(ids.NOTES_END, "value"),
    Output(ids.NOTES_DISTRICT, "value"),
    Output(ids.NOTES_DOMAIN, "value"),
    Output(ids.NOTES_PUBLIC, "value"),
    Output(ids.NOTES_HISTORY, "children"),
    Input(ids.NOTES_GRID, "selectedRows"),
    Input(ids.NOTES_CHANGED, "data"),  # after a change: the form and the trail as stored now
    prevent_initial_call=True,
)
@guard.requires("read")
@common.guarded(None, no_update, no_update, no_update, no_update, no_update, no_update, no_update, "message")
def notes_pick(selected, _changed=None):
    """A row picked in the table → the form holds it (or an empty form: a new annotation)."""
    row = selected[0] if isinstance(selected, list) and len(selected) == 1 and isinstance(selected[0], dict) else None
    note = annotations.get(_note_id(row.get("id"))) if row else None
    principal = access.current()
    if note is None or note["deleted_at"] or (note["district_id"] is not None and not principal.sees(note["district_id"])):
        return None, "", "event", no_update, no_update, no_update, None, False, "No annotation selected: Save adds a new one."
    trail = annotations.history(note["id"])
    items = [html.Li(f"{r.at} · {r.actor} · {r.action}") for r in trail.itertuples()]
    may = annotations.may_change(principal, note)
    return (note["id"], note["title"], note["kind"], str(note["starts_at"])[:10], str(note["ends_at"])[:10],
            note["district_id"], note["domain"], bool(note["public"]),
            [html.P(f"Annotation #{note['id']} by {note['created_by']}; review: {note['review']}. "
                    + ("You may edit or delete it." if may else "Only its author or an administrator may change it.")),
             html.Ul(items)])


@dash.callback(Output(ids.NOTES_GRID, "selectedRows"), Input(ids.NOTES_NEW, "n_clicks"), prevent_initial_call=True)
@guard.requires("read")
def notes_new(_n):
    return []


@dash.callback(
    Output(ids.NOTES_RESULT, "children"),
    Output(ids.NOTES_CHANGED, "data"),
    Input(ids.NOTES_SAVE, "n_clicks"),
    Input(ids.NOTES_DELETE, "n_clicks"),
    Input(ids.NOTES_APPROVE, "n_clicks"),
    Input(ids.NOTES_REJECT, "n_clicks"),
    State(ids.NOTES_SELECTED, "data"),
    State(ids.NOTES_TITLE, "value"),
    State(ids.NOTES_KIND, "value"),
    State(ids.NOTES_START, "value"),
    State(ids.NOTES_END, "value"),
    State(ids.NOTES_DISTRICT, "value"),
    State(ids.NOTES_DOMAIN, "value"),
    State(ids.NOTES_PUBLIC, "value"),
    State(ids.NOTES_CHANGED, "data"),
    prevent_initial_call=True,
)
@guard.requires("annotate")
@common.guarded("message", no_update)
def notes_act(_save, _delete, _approve, _reject, selected, title, kind, start, end, district, domain, public, changed):
    principal = access.current()
    action = ctx.triggered_id
    note_id = _note_id(selected)
    names = common.district_names()
    known = {d for d in names if d != "city"}
    end_text = end if isinstance(end, str) else start
    fields = dict(title=title, kind=kind, starts_at=start if isinstance(start, str) else None,
                  ends_at=(end_text + " 23:59:59") if isinstance(end_text, str) and len(end_text) == 10 else end_text,
                  district_id=district if isinstance(district, str) else None,
                  domain=domain if isinstance(domain, str) else None, known_districts=known)
    try:
        if action == ids.NOTES_SAVE and note_id is None:
            new_id = annotations.add(created_by=principal.name, scope=principal.districts, public=public is True,
                                     **fields)
            message = f"Annotation #{new_id} saved" + ("; it awaits an administrator's review for the public site"
                                                       if public is True else "") + "."
        elif action == ids.NOTES_SAVE:
            note = annotations.update(note_id, principal=principal, public=public is True, **fields)
            message = f"Annotation #{note_id} changed (review: {note['review']})."
        elif action == ids.NOTES_DELETE and note_id is not None:
            annotations.delete(note_id, principal=principal)
            message = f"Annotation #{note_id} deleted; its audit trail is kept."
        elif action in (ids.NOTES_APPROVE, ids.NOTES_REJECT) and note_id is not None:
            note = annotations.review(note_id, principal=principal, approve=action == ids.NOTES_APPROVE)
            message = (f"Annotation #{note_id} {note['review']}"
                       + (": it is shown on the public site from the next release." if note["review"] == "approved"
                          else "."))
        else:
            return components.notice("Pick an annotation in the table first."), no_update
    except annotations.InvalidAnnotation as exc:
        return components.notice(f"Not done: {exc}."), no_update
    except ops_store.Busy:
        return components.notice(f"Not done: {ops_store.BUSY_MESSAGE}.", color="danger"), no_update
    return components.notice(message, color="success"), (changed + 1 if isinstance(changed, int) else 1)

