"""Wall display: no controls, dark, large type; configured by the URL (?view=&refresh=)."""
import dash
from dash import dcc, html

from data import registry, settings
from layouts import ids

dash.register_page(__name__, path="/wall", title="CityOps — wall", name="Wall", nav="Wall",
                   audience="ops", order=1)

VIEWS = ("all", *registry.DOMAINS)


def layout(view=None, refresh=None, **_ignored):
    notices = []
    chosen = view if view in VIEWS else "all"
    if view is not None and chosen != view:
        notices.append(f"unknown view {str(view)[:20]!r}, showing all")
    try:
        seconds = int(refresh) if refresh is not None else int(settings.get("wall_refresh_s"))
        if not 5 <= seconds <= 3600:
            raise ValueError
    except (TypeError, ValueError):
        notices.append(f"bad refresh {str(refresh)[:20]!r}, using {settings.get('wall_refresh_s')} s")
        seconds = int(settings.get("wall_refresh_s"))
    title = "City operations" if chosen == "all" else registry.DOMAIN_LABELS[chosen]
    return html.Div(
        [
            dcc.Store(id=ids.WALL_STATUS, data={"view": chosen}),
            dcc.Interval(id=ids.WALL_TICK, interval=seconds * 1000),
            dcc.Interval(id=ids.WALL_CLOCK_TICK, interval=1000),
            html.Header(
                [
                    html.H1(title, className="wall-title"),
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
                                      config={"displayModeBar": False, "staticPlot": False}),
                            html.H2("Alerts", className="wall-alerts-title"),
                            html.Ul(id=ids.WALL_ALERTS, className="wall-alerts"),
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


