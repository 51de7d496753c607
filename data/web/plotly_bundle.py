"""Serve a partial plotly.js bundle in place of the full one Dash ships.

Dash loads plotly.js from ``/_dash-component-suites/plotly/package_data/plotly.min.js``
(4.8 MB, 1.45 MB gzipped), with every trace type plotly has. CityOps draws only the ones in
``vendor/plotly/traces.json``; ``vendor/plotly/plotly-cityops.min.js`` is built from the same
plotly.js release with just those (3.2 MB, 0.95 MB gzipped; most of it is MapLibre, which the
district maps need). It is built with npm (``make plotly-bundle``) and committed, so serving it
needs neither npm nor the internet. ``tests/test_plotly_bundle.py`` checks that every trace
type the code builds is in the bundle and that its plotly.js release is the one the Python
package expects.

The file is answered from a ``before_request`` hook for that one path (fingerprinted or not),
so the compression hook and the security headers apply to it as to every other response.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import flask

VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "plotly"
BUNDLE = VENDOR / "plotly-cityops.min.js"
MANIFEST = VENDOR / "manifest.json"
_PATH = re.compile(r"/_dash-component-suites/plotly/package_data/plotly(\.v[0-9a-z_]+)?\.min\.js$")
ONE_YEAR, ONE_HOUR = 365 * 24 * 3600, 3600


def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def install(server: flask.Flask) -> None:
    if not BUNDLE.is_file():  # a checkout without the built bundle serves Dash's full one
        return

    @server.before_request
    def _partial_plotly():
        match = _PATH.search(flask.request.path)
        if match is None:
            return None
        # a fingerprinted name (eager loading) never changes its bytes; the plain one can
        return flask.send_file(BUNDLE, mimetype="application/javascript", conditional=True,
                               max_age=ONE_YEAR if match.group(1) else ONE_HOUR)
