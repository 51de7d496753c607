"""The public site as a cache of an immutable release (data.web.public_cache): a public callback,
page, API document or download is computed once per data version, every later request (in
any worker) gets the same bytes, and a new version is computed afresh."""
from __future__ import annotations

import gzip
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from data.web import public_cache
from tests import dash_http
from tests.conftest import FIXTURE_END

GZIP = {"Accept-Encoding": "gzip"}


def _metric_payload(client, metric="sr_opened"):
    dep = dash_http.find(dash_http.dependencies(client), "public-metric-series")
    return {"output": dep["output"], "outputs": dash_http._outputs(dep),
            "inputs": [{**dep["inputs"][0], "value": {"metric": metric, "lang": "en"}}],
            "state": [], "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"]}


@pytest.fixture()
def counted(monkeypatch):
    """How often the metric page callback really builds its trend chart."""
    from layouts import figures

    calls = []
    original = figures.series

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    monkeypatch.setattr(figures, "series", counting)
    public_cache.clear()
    yield calls
    public_cache.clear()


def test_a_public_callback_is_computed_once_per_version(anon_client, counted, writer):
    payload = _metric_payload(anon_client)
    first = anon_client.post("/_dash-update-component", json=payload)
    second = anon_client.post("/_dash-update-component", json=payload)
    packed = anon_client.post("/_dash-update-component", json=payload, headers=GZIP)
    assert first.status_code == second.status_code == packed.status_code == 200
    assert len(counted) == 1
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] == "hit"
    assert second.data == first.data and gzip.decompress(packed.data) == first.data
    assert b"public-metric-map" in first.data
    # made-up fields are not part of the key, and do not reach another entry
    noisy = anon_client.post("/_dash-update-component", json={**payload, "extra": "x" * 100})
    assert noisy.data == first.data and len(counted) == 1
    # another metric is another entry
    other = anon_client.post("/_dash-update-component", json=_metric_payload(anon_client, "bike_trips"))
    assert other.status_code == 200 and other.data != first.data and len(counted) == 2

    from data import publish, snapshot

    old_version = snapshot.version("public")
    publish.publish(writer, now=FIXTURE_END)
    assert snapshot.version("public") != old_version
    fresh = anon_client.post("/_dash-update-component", json=payload)
    assert fresh.status_code == 200 and fresh.headers["X-Cache"] == "miss" and len(counted) == 3
    assert not (public_cache.root() / old_version).exists()  # the superseded release's entries are gone


def test_pages_api_and_downloads_are_served_from_the_cache_with_etags(anon_client, counted):
    for path in ("/public/metric/sr_opened", "/public/api/v1/metrics/sr_opened/values?grain=month",
                 "/public/download/sr_opened.csv"):
        first = anon_client.get(path)
        again = anon_client.get(path)
        assert first.status_code == again.status_code == 200, path
        assert first.headers["X-Cache"] == "miss" and again.headers["X-Cache"] == "hit", path
        assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"], path
        assert again.headers["Content-Type"] == first.headers["Content-Type"]
        assert anon_client.get(path, headers={"If-None-Match": again.headers["ETag"]}).status_code == 304
        packed = anon_client.get(path, headers=GZIP)
        zipped = packed.headers.get("Content-Encoding") == "gzip"  # (bodies under 1 kB go as they are)
        assert (gzip.decompress(packed.data) if zipped else packed.data) == first.data
        assert zipped or len(first.data) < 1024
        assert anon_client.get(path, headers={**GZIP, "If-None-Match": packed.headers["ETag"]}).status_code == 304
    download = anon_client.get("/public/download/sr_opened.csv")
    assert "attachment" in download.headers["Content-Disposition"] and download.headers["X-Data-Version"]


def test_signed_in_and_ops_responses_are_never_cached(client, counted):
    payload = _metric_payload(client)
    for _ in range(2):
        response = client.post("/_dash-update-component", json=payload)
        assert response.status_code == 200 and "X-Cache" not in response.headers
    assert len(counted) == 2
    dep = dash_http.find(dash_http.dependencies(client), "explore-kpis")
    status, _body, _text = dash_http.call(client, dep, [{"metric": "bike_trips"}, 0])
    assert status == 200
    assert not any(public_cache.root().glob("*/*")) if public_cache.root().exists() else True


def test_errors_and_unknown_paths_are_not_cached(anon_client, counted):
    for _ in range(2):
        assert anon_client.get("/public/api/v1/metrics/nope").status_code == 404
        assert anon_client.get("/public/download/nope.csv").status_code == 404
    assert not public_cache.root().exists() or not any(public_cache.root().glob("*/*"))


def test_two_workers_serve_the_same_bytes_computed_once(published, tmp_path):
    from tests.live import Gunicorn

    server = Gunicorn("public", workers=2, env={"CITYOPS_RATE_LIMITS": "false"}).start()
    try:
        deps = json.loads(urllib.request.urlopen(server.base + "/_dash-dependencies").read())
        dep = dash_http.find(deps, "public-metric-series")
        body = json.dumps({"output": dep["output"], "outputs": dash_http._outputs(dep),
                           "inputs": [{**dep["inputs"][0], "value": {"metric": "sr_closed_within_sla_pct", "lang": "es"}}],
                           "state": [], "changedPropIds": []}).encode()

        def post(_i):
            request = urllib.request.Request(server.base + "/_dash-update-component", data=body,
                                             headers={"Content-Type": "application/json", "Connection": "close"})
            with urllib.request.urlopen(request) as response:
                return response.headers["X-Cache"], response.read()

        first = post(0)
        with ThreadPoolExecutor(8) as pool:
            rest = list(pool.map(post, range(40)))
    finally:
        server.stop()
    assert first[0] == "miss"
    assert all(state == "hit" for state, _ in rest)  # whichever worker answered: computed once
    assert all(data == first[1] for _, data in rest)


def test_a_polling_timer_does_not_make_a_new_entry_per_tick(anon_client, counted):
    dep = dash_http.find(dash_http.dependencies(anon_client), "shell-status")
    bodies = []
    for tick in range(1, 6):
        status, _body, text = dash_http.call(anon_client, dep, [tick, "?lang=es"])
        assert status == 200
        bodies.append(text)
    assert len(set(bodies)) == 1
    assert len(list(public_cache.root().glob("*/*"))) == 1
