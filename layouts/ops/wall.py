"""Wall display: no controls, dark, large type; configured by the URL alone (a TV has no keyboard).

    /wall?view=parking&rotate=30&refresh=15&metrics=a,b,c&nightly=04:30&failures=10&hold=300
    /wall/<profile>          a named profile from data/wall_profiles.yaml (URL values override it)
    /wall-screens            every wall screen's heartbeat; silent ones flagged

Unknown or bad values fall back to defaults with a small notice, never an error page. The
configuration is parsed by data/wall_config.py, here and again by every callback (any client
can POST anything). This module is /wall; /wall/<profile> is ``wall_profile.py`` and
/wall-screens ``wall_screens.py``; the display itself is drawn by ``layouts/wall_display.py``.
"""
from __future__ import annotations

import dash

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
from layouts import wall_display

dash.register_page(__name__, path="/wall", title="CityOps — wall", name="Wall", nav="Wall",
                   audience="ops", order=1)


def layout(view=None, rotate=None, refresh=None, metrics=None, nightly=None, screen=None, soak=None,
           failures=None, hold=None, **_ignored):
    config, notices = parse_config({"view": view, "rotate": rotate, "refresh": refresh, "metrics": metrics,
                                    "nightly": nightly, "screen": screen, "soak": soak, "failures": failures,
                                    "hold": hold})
    return wall_display.page(config, notices)
