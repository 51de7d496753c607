"""The wall display (dark, large type, no controls) that both wall pages draw: /wall
(``layouts/ops/wall.py``) and /wall/<profile> (``layouts/ops/wall_profile.py``). A helper
module, not a page."""
from __future__ import annotations

from dash import dcc, html

from data.wall_config import view_title
from layouts import ids


def page(config: dict, notices: list[str]):
    """The wall for a parsed configuration (data.wall_config.parse_config) and its notices."""
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
