"""gzip on the public site (data.web.compression): pages, callbacks, API and downloads are
compressed for clients that accept it, static bundles are compressed once per worker (not per
request, whatever the query string), and conditional requests still answer 304."""
import gzip
import re

from data.web import compression
from tests import dash_http

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_page_html_is_gzipped_for_clients_that_accept_it(anon_client):
    plain = anon_client.get("/public/methodology")
    packed = anon_client.get("/public/methodology", headers=GZIP)
    assert "Content-Encoding" not in plain.headers  # no Accept-Encoding: plain bytes
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    html = gzip.decompress(packed.data)  # (a per-request nonce makes two pages differ slightly)
    assert html.startswith(b"<!DOCTYPE html>") and abs(len(html) - len(plain.data)) < 100
    assert len(packed.data) < len(plain.data) / 3
    assert b'<html lang="en">' in html  # the page-language hook ran before compression


def test_identity_or_q0_is_respected(anon_client):
    for header in ("identity", "gzip;q=0", "br"):
        response = anon_client.get("/public/methodology", headers={"Accept-Encoding": header})
        assert "Content-Encoding" not in response.headers, header


def test_static_bundles_are_compressed_once_per_worker(anon_client):
    page = anon_client.get("/public").get_data(as_text=True)
    script = next(s for s in re.findall(r'src="([^"]+)"', page) if "dash_renderer" in s or "react" in s)
    plain = anon_client.get(script).data
    before = compression.CACHE.compressions
    first = anon_client.get(script, headers=GZIP)
    assert first.headers["Content-Encoding"] == "gzip" and gzip.decompress(first.data) == plain
    again = [anon_client.get(script + suffix, headers=GZIP) for suffix in ("", "", "?v=made-up", "?m=1")]
    assert all(r.data == first.data for r in again)
    assert compression.CACHE.compressions - before <= 1  # 1, or 0 if an earlier test cached it


def test_callback_json_is_gzipped(anon_client):
    dep = dash_http.find(dash_http.dependencies(anon_client), "public-metric-series")
    payload = {"output": dep["output"], "outputs": dash_http._outputs(dep),
               "inputs": [{**dep["inputs"][0], "value": {"metric": "sr_opened", "lang": "en"}}],
               "state": [], "changedPropIds": []}
    plain = anon_client.post("/_dash-update-component", json=payload)
    packed = anon_client.post("/_dash-update-component", json=payload, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data and b"public-metric-map" in plain.data


def test_api_etag_and_304_survive_compression(anon_client):
    first = anon_client.get("/public/api/v1/metrics", headers=GZIP)
    assert first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    assert etag.endswith('-gzip"')
    again = anon_client.get("/public/api/v1/metrics", headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    plain_etag = anon_client.get("/public/api/v1/metrics").headers["ETag"]
    assert anon_client.get("/public/api/v1/metrics", headers={"If-None-Match": plain_etag}).status_code == 304


def test_csv_download_is_gzipped_and_keeps_its_headers(anon_client):
    plain = anon_client.get("/public/download/sr_opened.csv")
    packed = anon_client.get("/public/download/sr_opened.csv", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["Content-Disposition"] == plain.headers["Content-Disposition"]
    assert packed.headers["X-Data-Version"] == plain.headers["X-Data-Version"]


def test_signed_in_responses_are_not_compressed_but_bundles_are(client):
    """BREACH: pages of signed-in staff carry a CSRF token; only static bundles are gzipped."""
    layout = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert layout.status_code == 200 and "Content-Encoding" not in layout.headers
    assert b"csrf_token" in layout.data
    index = client.get("/", headers={"Accept-Encoding": "gzip"}).get_data(as_text=True)
    bundle = next(part.split('"')[0] for part in index.split('src="')[1:]
                  if "_dash-component-suites" in part and "dash_renderer" in part.split('"')[0])
    assert client.get(bundle, headers={"Accept-Encoding": "gzip"}).headers.get("Content-Encoding") == "gzip"
