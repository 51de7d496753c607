"""The wall with a named profile: /wall/<profile>, from data/wall_profiles.yaml (URL values
override it; an unknown profile shows the default wall with a notice)."""
from __future__ import annotations

import dash

from data.wall_config import parse_config
from layouts import wall_display

dash.register_page(__name__, path_template="/wall/<profile>", title="CityOps — wall", name="Wall profile",
                   audience="ops", order=1.1)


def layout(profile=None, view=None, rotate=None, refresh=None, metrics=None, nightly=None, screen=None,
           failures=None, hold=None, **_ignored):
    config, notices = parse_config({"view": view, "rotate": rotate, "refresh": refresh, "metrics": metrics,
                                    "nightly": nightly, "screen": screen, "failures": failures, "hold": hold},
                                   profile=profile if profile is not None else "")
    return wall_display.page(config, notices)
