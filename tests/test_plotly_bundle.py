"""The partial plotly.js bundle (vendor/plotly) holds every trace type CityOps draws, matches
the plotly.js release the Python package was made for, and is what the browser is served."""
from __future__ import annotations

import re
from pathlib import Path

from plotly.offline import get_plotlyjs_version

from data.web import plotly_bundle

ROOT = Path(__file__).resolve().parent.parent
CODE = [p for folder in ("layouts", "callbacks", "data", "assets") for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".js")]
# trace types as the code writes them: "type": "bar" in dict figures, go.Bar( in plotly objects
_DICT = re.compile(r"""["']type["']\s*:\s*["']([a-z]+)["']""")
_GO = re.compile(r"\bgo\.([A-Z][a-z]+)\(")
NOT_TRACES = {"string", "number", "object", "integer", "boolean", "array", "line", "rect", "circle",
              "path", "geojson", "background", "fill", "symbol", "raster", "date", "linear", "log",
              "category", "buttons", "dropdown", "figure", "layout", "scattermapbox"}


def _trace_types_in_code() -> set[str]:
    found = set()
    for path in CODE:
        text = path.read_text(encoding="utf-8", errors="replace")
        found |= set(_DICT.findall(text))
        found |= {name.lower() for name in _GO.findall(text) if name not in ("Figure", "Layout")}
    return found - NOT_TRACES


def test_every_trace_type_the_code_draws_is_in_the_bundle():
    bundled = set(plotly_bundle.manifest()["traces"])
    used = _trace_types_in_code()
    assert {"scatter", "choroplethmap"} <= used  # the scan itself finds what it must
    assert used <= bundled, f"add {sorted(used - bundled)} to vendor/plotly/traces.json and rebuild"


def test_the_bundle_is_built_from_the_plotly_js_release_the_python_package_expects():
    assert plotly_bundle.manifest()["plotly"] == get_plotlyjs_version()
    head = plotly_bundle.BUNDLE.read_text(encoding="utf-8", errors="replace")[:300]
    assert f"plotly.js {get_plotlyjs_version()}" in head


def test_the_browser_is_served_the_partial_bundle_compressed(anon_client):
    full = (Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js").stat().st_size
    for path in ("/_dash-component-suites/plotly/package_data/plotly.min.js",
                 "/_dash-component-suites/plotly/package_data/plotly.v7_1_0m1700000000.min.js"):
        plain = anon_client.get(path)
        assert plain.status_code == 200 and plain.mimetype == "application/javascript"
        assert len(plain.data) == plotly_bundle.BUNDLE.stat().st_size < 0.7 * full
        zipped = anon_client.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers.get("Content-Encoding") == "gzip" and len(zipped.data) < 1_000_000
        again = anon_client.get(path, headers={"If-None-Match": plain.headers["ETag"]})
        assert again.status_code == 304
