"""District profile: KPI cards with city and peer medians and trends, records grid, bad ids,
permissions and district scoping, over HTTP."""
from __future__ import annotations

import json

import pytest

from data import lookups, repository
from tests import dash_http
from tests.conftest import signed_in


def _profile(client, district):
    dep = dash_http.find(dash_http.dependencies(client), "district-kpis")
    status, body, text = dash_http.call(client, dep, [district])
    assert status == 200, text[:300]
    assert "Traceback" not in text
    return body["response"]


def _records(client, district, category=None):
    dep = dash_http.find(dash_http.dependencies(client), "district-records-grid")
    return dash_http.call(client, dep, [district, category])


def test_profile_has_a_card_per_metric_with_medians_and_trend(client):
    out = _profile(client, "301")
    cards = json.dumps(out["district-kpis"]["children"])
    assert cards.count("kpi-card kpi-card--") == len(lookups.available_metrics())
    assert cards.count("City median") == len(lookups.available_metrics())
    assert "Brooklyn median" in cards and "data:image/svg+xml" in cards
    assert "normal variation" in cards or "data-rule" in cards
    assert "/explore?metric=" in cards
    assert out["district-notice"]["children"] == "Brooklyn CD 1"


def test_medians_hold_no_district_rows(published):
    from datetime import datetime

    frame = repository.run("ops/district_medians", grain="day", before=datetime(2026, 11, 1))
    assert "district_id" not in frame.columns and frame["borough"].isna().any()
    assert (frame.dropna(subset=["borough"])["districts"] >= 3).all()


@pytest.mark.parametrize("district", ["999", None, "city", 5, ["301"], "' OR 1=1 --", "x" * 500])
def test_unknown_district_lists_the_choices(client, district):
    out = _profile(client, district)
    text = json.dumps(out)
    assert "Unknown district" not in text  # an id is unknown, or none was chosen; then the choices
    assert ("There is no district with the id" in text) or ("No district chosen" in text)
    assert "Brooklyn CD 1" in text
    status, body, text = _records(client, district)
    assert status == 200 and body["response"]["district-records-grid"]["rowData"] == []


def test_records_grid_pages_sorts_and_filters_by_category(client):
    status, body, text = _records(client, "301")
    assert status == 200, text[:300]
    rows = body["response"]["district-records-grid"]["rowData"]
    assert rows and {r["category"] for r in rows}
    options = body["response"]["district-records-category"]["options"]
    category = options[0]["value"]
    status, body, _ = _records(client, "301", category)
    assert {r["category"] for r in body["response"]["district-records-grid"]["rowData"]} == {category}
    status, body, _ = _records(client, "301", "'; DROP TABLE x --")
    assert status == 200 and len(body["response"]["district-records-grid"]["rowData"]) == len(rows)


def test_records_need_sign_in(anon_client):
    assert _records(anon_client, "301")[0] == 401


def test_official_sees_only_their_own_district(dash_app, accounts):
    official = signed_in(dash_app, "test-official", accounts["test-official"])
    refused = json.dumps(_profile(official, "301"))
    assert "Brooklyn CD 1 is outside your districts" in refused and "Unknown district" not in refused
    assert "kpi-card" not in refused and "/district/101" in refused  # the notice, then their own district
    status, body, _ = _records(official, "301")
    assert status == 200 and body["response"]["district-records-grid"]["rowData"] == []
    own = _profile(official, "101")
    assert json.dumps(own["district-kpis"]["children"]).count("kpi-card kpi-card--") == len(lookups.available_metrics())
    status, body, _ = _records(official, "101")
    assert {r for r in body["response"]["district-records-grid"]["rowData"][0]} >= {"request_id"}


def test_records_export_streams_every_request_of_the_district_in_chunks(dash_app, accounts, monkeypatch):
    from data import repository as repo
    from tests.live import signed_in

    chunk_sizes = []
    real_stream = repo.stream

    def small_chunks(name, **params):
        gen = real_stream(name, chunk_rows=7, **params)
        for frame in gen:
            chunk_sizes.append(len(frame))
            yield frame

    monkeypatch.setattr(repo, "stream", small_chunks)
    admin = signed_in(dash_app, "test-admin", "admin-password-1")
    response = admin.get("/district/101/requests.csv")
    assert response.status_code == 200 and response.is_streamed
    lines = response.get_data(as_text=True).splitlines()
    body = [line for line in lines if not line.startswith("#")]
    assert body[0].startswith("request_id,district_id")
    expected = repository.run("ops/district_requests_all", district="101", category=None)
    assert len(body) - 1 == len(expected) > 7 and max(chunk_sizes) <= 7 and len(chunk_sizes) > 1
    assert all(line.split(",")[1] == "101" for line in body[1:])
    assert any(line.startswith("# data version,") for line in lines)
    official = signed_in(dash_app, "test-official", accounts["test-official"])  # district 101 only
    assert official.get("/district/102/requests.csv").status_code == 403
    assert official.get("/district/101/requests.csv").status_code == 200
    assert official.get("/district/nope/requests.csv").status_code == 404
    assert dash_app.server.test_client().get("/district/101/requests.csv").status_code == 302  # sign in
    wall = dash_app.server.test_client()
    wall.get("/wall?token=" + accounts["wall-token"])
    assert wall.get("/district/101/requests.csv").status_code == 403


def test_parking_facilities_behind_the_parking_numbers(dash_app, accounts):
    from tests.live import signed_in

    admin = signed_in(dash_app, "test-admin", "admin-password-1")
    dep = dash_http.find(dash_http.dependencies(admin), "district-facilities-grid")
    status, body, _ = dash_http.call(admin, dep, ["101"])
    rows = body["response"]["district-facilities-grid"]["rowData"]
    assert status == 200 and rows and all(r["district_id"] == "101" for r in rows)
    pct = [r["occupancy_pct"] for r in rows if r["occupancy_pct"] is not None]
    assert pct and pct == sorted(pct, reverse=True) and all(0 <= p <= 100 for p in pct)
    assert f"{len(rows)} facilit" in str(body["response"]["district-facilities"]["children"])
    official = signed_in(dash_app, "test-official", accounts["test-official"])
    status, body, _ = dash_http.call(official, dep, ["102"])
    assert status == 200 and body["response"]["district-facilities-grid"]["rowData"] == []
    for bad in (None, "nope", 5, ["101"], "x" * 500):
        status, body, _ = dash_http.call(admin, dep, [bad])
        assert status == 200 and body["response"]["district-facilities-grid"]["rowData"] == []
