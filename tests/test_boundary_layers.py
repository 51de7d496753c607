"""Issue 15: more than one boundary layer (council districts and neighbourhoods) on the public
pages: each metric is shown on its own layer. The second layer here is SYNTHETIC (the fixture
city's districts again under the ids N:<id>); the ingest side (a source places its rows in one
layer, ids never overwritten) is tested in tests/test_ingest_reported.py."""
from __future__ import annotations

import pandas as pd

from data import registry


def test_a_metric_map_draws_its_own_boundary_layer_only(client, monkeypatch):
    """A second layer (neighbourhoods 'N:<id>' over the same ground as the demo's districts)
    used to be drawn on every public metric map together with the metric's own layer: grey
    'no data' polygons over or under the coloured ones, on the same spot. The map now draws
    the layer the metric's values are in, and the table names that layer's districts only."""
    from callbacks import common
    from tests import dash_http

    base = common.districts("public")
    second = base.assign(district_id="N:" + base["district_id"], name="Neighbourhood " + base["name"])
    monkeypatch.setattr(common, "districts", lambda db="ops": pd.concat([base, second], ignore_index=True))
    metric = next(m.id for m in registry.public_metrics() if m.id == "bike_trips")
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), [metric])
    assert status == 200
    traces = body["response"]["public-metric-map"]["figure"]["data"]
    drawn = {f["id"] for tr in traces if tr.get("geojson") for f in tr["geojson"]["features"]}
    assert drawn and not any(d.startswith("N:") for d in drawn)
    assert drawn <= set(base["district_id"])
    assert "Neighbourhood " not in str(body["response"]["public-metric-table"])


def test_the_wall_map_draws_its_focus_metrics_layer_only(client, monkeypatch):
    """The operations wall's map, with the same second layer loaded: its polygons are the layer
    of the focus metric's values, not both layers stacked on the same ground."""
    from callbacks import common
    from tests import dash_http

    base = common.districts()
    second = base.assign(district_id="N:" + base["district_id"], name="Neighbourhood " + base["name"])
    monkeypatch.setattr(common, "districts", lambda db="ops": pd.concat([base, second], ignore_index=True))
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "wall-tiles"),
                                     [1, "parking", {"w": 1920, "h": 1080}], [{"views": ["parking"]}, {}])
    assert status == 200
    traces = body["response"]["wall-map"]["figure"]["data"]
    drawn = {f["id"] for tr in traces if tr.get("geojson") for f in tr["geojson"]["features"]}
    assert drawn and not any(d.startswith("N:") for d in drawn)
