"""Public pages over HTTP (demo mode 'all', pages under /public): my-district scorecard,
text and table alternatives of every chart, withheld wording, methodology content, no cookies,
page language, and every public callback refusing bad input."""
import pytest

from data import lookups, registry
from tests import dash_http

PUBLIC_PAGES = ["/public", "/public/district", "/public/district?district=301", "/public/metric/sr_opened",
                "/public/metric/satisfaction_score", "/public/methodology", "/public/metric/nope"]


@pytest.fixture()
def client(anon_client):
    """The public site is for anonymous visitors."""
    return anon_client


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_renders_sets_language_and_no_cookie(client, path):
    pathname, _, search = path.partition("?")
    response = client.get(pathname)
    assert response.status_code == 200
    assert b'<html lang="en">' in response.data
    assert "Set-Cookie" not in response.headers
    status, text = dash_http.route(client, pathname, "?" + search if search else "")
    assert status == 200 and "Traceback" not in text


def test_district_scorecard_compares_with_the_city(client):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "public-district-card"), ["Brooklyn CD 1"], ["en"])
    assert status == 200
    assert "Brooklyn CD 1" in text and "Whole city" in text
    card = str(body["response"]["public-district-card"])
    shown = lookups.available_metrics("public", public_only=True)  # the demo has no MTA, DOT or pedestrian data
    assert len(shown) == len(registry.public_metrics()) - 4
    assert all(f"/metric/{m.id}" in card for m in shown)
    assert "on target" in str(body["response"]["public-district-summary"])


def test_district_scorecard_accepts_an_id_too(client):
    deps = dash_http.dependencies(client)
    _, by_id, _ = dash_http.call(client, dash_http.find(deps, "public-district-card"), ["301"], ["en"])
    _, by_name, _ = dash_http.call(client, dash_http.find(deps, "public-district-card"), ["brooklyn cd 1 "], ["en"])
    assert by_id["response"] == by_name["response"]


@pytest.mark.parametrize("bad", [None, "", "city", "999", "../etc/passwd", "' OR 1=1 --", 5, ["301"],
                                 {"x": 1}, "x" * 10_000])
def test_district_scorecard_refuses_bad_input(client, bad):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "public-district-card"), [bad], ["en"])
    assert status == 200 and "Traceback" not in text
    assert "Type a district name" in text


def test_metric_page_has_text_and_table_alternatives_and_withheld_cells(client):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "public-metric-series"), ["bike_trips"])  # (the auditor withholds the small fixture's 311 family)
    assert status == 200
    out = body["response"]
    assert "went from" in str(out["public-metric-series-text"]["children"])
    assert "Highest" in str(out["public-metric-map-text"]["children"])
    assert "Table" in str(out["public-metric-series-table"]["children"])
    assert "Table" in str(out["public-metric-table"]["children"])
    # the fixture has few survey answers per district: the table says so, the map has a withheld trace
    _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), ["satisfaction_score"])
    out = body["response"]
    assert "withheld*" in str(out["public-metric-table"]["children"])
    traces = out["public-metric-map"]["figure"]["data"]
    assert any("withheld" in str(t.get("hovertemplate", "")) and t["locations"] for t in traces)


def test_satisfaction_shows_a_confidence_interval(client):
    deps = dash_http.dependencies(client)
    _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), ["satisfaction_score"])
    assert "95% CI" in str(body["response"]["public-metric-series-table"]["children"])


@pytest.mark.parametrize("bad", [None, "bins_over_90_pct", "../x", 3, {"a": 1}, "x" * 5000,
                                 {"metric": "bins_over_90_pct", "lang": "es"}, {"metric": {"x": 1}, "lang": ["es"]}])
def test_metric_callback_refuses_bad_input(client, bad):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "public-metric-series"), [bad])
    assert status == 200 and "Traceback" not in text
    assert "Unknown metric" in text or "Indicador desconocido" in text  # in the language asked for


def test_methodology_explains_suppression_and_has_a_revision_log(client):
    _, text = dash_http.route(client, "/public/methodology")
    text = text.replace("\\u002f", "/")
    assert "fewer than 10" in text and "city total" in text and "confidence interval" in text
    assert "Revision log" in text and "Complementary suppression" in text
    for metric in registry.public_metrics():   # only metrics this city has a source for (issue 15)
        assert (f"/public/download/{metric.id}.csv" in text) is (not metric.source.startswith("nyc_"))
    assert not any(m.label in text for m in registry.metrics().values() if not m.public)


def test_public_pages_carry_cache_control_and_a_data_version_etag(client):
    from data import snapshot

    response = client.get("/public/metric/sr_opened")
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    assert snapshot.version("public") in etag
    again = client.get("/public/metric/sr_opened", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/public/methodology", headers={"If-None-Match": etag})
    assert other.status_code == 200  # another page has its own tag


def test_withheld_districts_are_hatched_on_the_map():
    from shapely.geometry import Point, shape

    from layouts.public import parts

    square = {"type": "Polygon", "coordinates": [[[0, 0], [0.05, 0], [0.05, 0.05], [0, 0.05], [0, 0]]]}
    geojson = {"features": [{"id": "a", "geometry": square}, {"id": "b", "geometry": square}]}
    lats, lons = parts.hatch_lines(geojson, ["a"])
    points = [(x, y) for x, y in zip(lons, lats, strict=False) if x is not None]
    assert len(points) >= 2 * 10  # a line every ~0.006 degrees across a 0.05-degree square
    assert all(shape(square).buffer(1e-9).contains(Point(p)) for p in points)
    assert parts.hatch_lines(geojson, []) == ([], [])


def test_public_metric_map_hatches_what_it_withholds(client):
    deps = dash_http.dependencies(client)
    dep = dash_http.find(deps, "public-metric-map")
    status, body, _ = dash_http.call(client, dep, ["satisfaction_score"], ["en"] * len(dep.get("state", [])))
    assert status == 200
    traces = body["response"]["public-metric-map"]["figure"]["data"]
    withheld = [t for t in traces if "withheld (privacy)" in str(t.get("hovertemplate"))]
    hatch = [t for t in traces if t.get("name") == "withheld" and t.get("mode") == "lines"]
    assert len(withheld) == 1 and len(hatch) == 1
    assert withheld[0]["locations"], "the fixture withholds some districts' satisfaction scores"
    assert hatch[0]["lat"], "withheld districts are hatched"
