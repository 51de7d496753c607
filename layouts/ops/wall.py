"""Wall display: no controls, dark, large type; configured by the URL alone (a TV has no keyboard).

    /wall?view=parking&rotate=30&refresh=15&metrics=a,b,c&nightly=04:30&failures=10&hold=300
    /wall/<profile>          a named profile from data/wall_profiles.yaml (URL values override it)
    /wall-screens            every wall screen's heartbeat; silent ones flagged

Unknown or bad values fall back to defaults with a small notice, never an error page. The
configuration is parsed by data/wall_config.py, here and again by every callback (any client
can POST anything).
"""
from __future__ import annotations

import dash
from dash import dcc, html

from data.wall_config import (  # noqa: F401  (the page's configuration; re-exported for tests)
    BUILD,
    FAILURES_RANGE,
    MAX_METRICS,
    PROFILES_FILE,
    REFRESH_RANGE,
    RELOAD_AFTER_FAILURES,
    ROOT,
    ROTATE_RANGE,
    SCHEME,
    VIEWS,
    load_profiles,
    parse_config,
    valid_config,
    view_metrics,
    view_title,
)
from layouts import ids

dash.register_page(__name__, path="/wall", title="CityOps — wall", name="Wall", nav="Wall",
                   audience="ops", order=1)


def _page(config: dict, notices: list[str]):
    first = config["views"][0]
    view_chips = [html.Span(view_title(v), className="wall-view-chip" + (" is-current" if v == first else ""),
                            **{"data-view": v}) for v in config["views"]] if config["rotate"] else []
    return html.Div(
        [
            dcc.Store(id=ids.WALL_CONFIG, data=config),
            dcc.Store(id=ids.WALL_VIEW, data=first),
            dcc.Store(id=ids.WALL_HOLD, data={"view": first, "reason": ""}),
            dcc.Store(id=ids.WALL_TRIGGER, data=0),
            dcc.Store(id=ids.WALL_SIG, data={}),
            dcc.Store(id=ids.WALL_META, data={}),
            dcc.Store(id=ids.WALL_SCREEN, data={}),
            dcc.Store(id=ids.WALL_RELOAD, data=0),
            dcc.Interval(id=ids.WALL_TICK, interval=config["refresh"] * 1000),
            dcc.Interval(id=ids.WALL_ROTATE_TICK, interval=max(config["rotate"], 1) * 1000,
                         disabled=not config["rotate"]),
            dcc.Interval(id=ids.WALL_CLOCK_TICK, interval=1000),
            html.Header(
                [
                    html.H1(config["title"] or view_title(first), id=ids.WALL_TITLE, className="wall-title"),
                    html.Div(view_chips, id=ids.WALL_VIEWS, className="wall-views"),
                    html.Div(id=ids.WALL_HOLD_TEXT, className="wall-hold", role="status"),
                    html.Div(" · ".join(notices), className="wall-notice"),
                    html.Div(id=ids.WALL_CLOCK, className="wall-clock"),
                ],
                className="wall-header",
            ),
            html.Div(
                [
                    html.Div(id=ids.WALL_TILES, className="wall-tiles"),
                    html.Aside(
                        [
                            html.H2(id=ids.WALL_MAP_TITLE, className="wall-map-title"),
                            dcc.Graph(id=ids.WALL_MAP, className="wall-map",
                                      config={"displayModeBar": False, "staticPlot": True}),
                            html.H2("Alerts · open first", className="wall-alerts-title"),
                            # a ticker: scrolls (assets/wall.js + wall.css) when the alerts
                            # do not fit; still under prefers-reduced-motion, with "+N more"
                            html.Div(html.Ul(id=ids.WALL_ALERTS, className="wall-alerts"),
                                     className="wall-ticker"),
                        ],
                        className="wall-side",
                    ),
                ],
                className="wall-body",
            ),
        ],
        className="wall-page",
        **{"data-bs-theme": "dark"},
    )


def layout(view=None, rotate=None, refresh=None, metrics=None, nightly=None, screen=None, soak=None,
           failures=None, hold=None, **_ignored):
    config, notices = parse_config({"view": view, "rotate": rotate, "refresh": refresh, "metrics": metrics,
                                    "nightly": nightly, "screen": screen, "soak": soak, "failures": failures,
                                    "hold": hold})
    return _page(config, notices)


def profile_layout(profile=None, view=None, rotate=None, refresh=None, metrics=None, nightly=None, screen=None,
                   failures=None, hold=None, **_ignored):
    config, notices = parse_config({"view": view, "rotate": rotate, "refresh": refresh, "metrics": metrics,
                                    "nightly": nightly, "screen": screen, "failures": failures, "hold": hold},
                                   profile=profile if profile is not None else "")
    return _page(config, notices)


# Named profiles: /wall/<profile>. Registered under its own key with its layout supplied.
dash.register_page("layouts.ops.wall_profile", path_template="/wall/<profile>", title="CityOps — wall",
                   name="Wall profile", audience="ops", order=1.1, layout=profile_layout)


def screens_layout(**_ignored):
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


dash.register_page("layouts.ops.wall_screens", path="/wall-screens", title="CityOps — wall screens",
                   name="Wall screens", nav="Screens", audience="ops", order=1.2, layout=screens_layout)
