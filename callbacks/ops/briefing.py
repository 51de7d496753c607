"""The weekly district briefing's routes: the printable page and its PDF (data.briefing).

Both are authorized here, on the server: a signed-out caller is sent to sign in (the request
hook), a caller without 'read' (a wall screen) gets 403, and an official gets 403 for a
district outside their districts — the same answer for the page and the PDF."""
from __future__ import annotations

import dash
import flask

from callbacks import auth
from data import access, briefing, lookups
from data.snapshot import DataUnavailable

PAGE = "/district/<district_id>/briefing"
PDF = "/district/<district_id>/briefing.pdf"


def _text(message: str, status: int) -> flask.Response:
    return flask.Response(message, status=status, mimetype="text/plain")


def _made(district_id: str):
    """The briefing of the request's district and week, or the refusal."""
    auth.check("read")
    try:
        names = lookups.district_names()
        if not isinstance(district_id, str) or district_id not in names or district_id == "city":
            return _text("Unknown district.", 404)
        if not access.current().sees(district_id):
            return _text("This district is outside your account's districts.", 403)
        try:
            week = briefing.parse_week(flask.request.args.get("week"))
        except ValueError:
            return _text("week must be a date YYYY-MM-DD.", 400)
        return briefing.build(district_id, week)
    except briefing.NotAWeek as exc:
        return _text(str(exc), 404)
    except DataUnavailable as exc:
        return _text(f"Data unavailable: {exc}", 503)


def briefing_page(district_id: str):
    made = _made(district_id)
    if isinstance(made, flask.Response):
        return made
    return flask.Response(briefing.as_html(made), mimetype="text/html", headers={
        "Cache-Control": "no-store", "X-Data-Version": made.version})


def briefing_pdf(district_id: str):
    made = _made(district_id)
    if isinstance(made, flask.Response):
        return made
    name = f"cityops-briefing-{made.district_id}-{made.week:%Y-%m-%d}.pdf"
    return flask.Response(briefing.as_pdf(made), mimetype="application/pdf", headers={
        "Cache-Control": "no-store", "X-Data-Version": made.version,
        "Content-Disposition": f'inline; filename="{name}"'})


def _register() -> None:
    server = dash.get_app().server
    for rule, endpoint, view in ((PAGE, "cityops_district_briefing", briefing_page),
                                 (PDF, "cityops_district_briefing_pdf", briefing_pdf)):
        if endpoint not in server.view_functions:
            server.add_url_rule(rule, endpoint, view, methods=["GET"])


_register()
