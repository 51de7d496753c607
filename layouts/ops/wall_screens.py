"""Every wall screen's heartbeat (/wall-screens): its view, resolution and last successful
refresh, silent ones flagged (data.wall_screens; filled by callbacks/ops/wall.py)."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path="/wall-screens", title="CityOps — wall screens", name="Wall screens",
                   nav="Screens", audience="ops", order=1.2)


def layout(**_ignored):
    return html.Div(
        [
            html.H1("Wall screens"),
            html.P("Every wall screen reports its view, resolution and last successful refresh. A screen "
                   "is flagged silent after three refresh periods (at least two minutes) without one. "
                   "Name a screen with ?screen=<name> in its URL, e.g. /wall/control-room?screen=lobby-left."),
            dcc.Interval(id=ids.WALL_SCREENS_TICK, interval=15_000),
            html.Div(id=ids.WALL_SCREENS_TABLE),
        ],
        className="wall-screens",
    )
