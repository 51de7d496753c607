"""HTTP tests of every page and every callback of the demo app (mode 'all')."""
import json

import pytest

from data import lookups, registry
from tests import dash_http

PAGES = ["/", "/wall", "/wall?view=parking&refresh=15", "/explore", "/explore?metric=bike_trips&grain=week",
         "/district/301", "/alerts", "/data", "/public", "/public/metric/bike_trips",
         "/public/methodology", "/no/such/page"]


@pytest.mark.parametrize("path", [p.split("?")[0] for p in PAGES])
def test_every_page_is_served(client, path):
    response = client.get(path)
    assert response.status_code == (404 if path == "/no/such/page" else 200)
    assert b"_dash-app-content" in response.data or b"react-entry-point" in response.data


@pytest.mark.parametrize("path", PAGES)
def test_every_page_layout_renders_without_error(client, path):
    pathname, _, search = path.partition("?")
    status, text = dash_http.route(client, pathname, "?" + search if search else "")
    assert status == 200, text[:500]
    assert "Traceback" not in text


def test_unknown_path_renders_the_404_page(client):
    status, text = dash_http.route(client, "/no/such/page")
    assert status == 200 and "Page not found" in text and '"href":"\\u002f"' in text


def test_a_bad_public_link_leads_back_to_the_public_site_in_its_language(anon_client):
    """A journalist who follows a mistyped public link is not sent to the staff sign-in, and a
    Spanish reader is answered in Spanish (the English check walks the same pages)."""
    status, text = dash_http.route(anon_client, "/public/nope/x")
    text = text.replace("\\u002f", "/")
    assert status == 200 and "Page not found" in text and '"href":"/public"' in text
    status, text = dash_http.route(anon_client, "/public/nope", "?lang=es")
    text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    assert "Página no encontrada" in text and '"href":"/public?lang=es"' in text
    status, text = dash_http.route(anon_client, "/explore", "?lang=es")
    text = json.dumps(json.loads(text), ensure_ascii=False)
    assert "Es necesario iniciar sesión" in text and "Sign in required" not in text


def test_unknown_wall_parameters_fall_back_with_a_notice(client):
    status, text = dash_http.route(client, "/wall", "?view=banana&refresh=-3")
    assert status == 200
    assert "unknown view" in text and "bad refresh" in text


def test_no_asset_is_loaded_from_another_host(client):
    html = client.get("/").get_data(as_text=True)
    assert "cdn." not in html and "unpkg" not in html and "https://" not in html.split("<body")[0]


def test_shell_status_shows_the_data_version(client):
    from data import publish

    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "shell-status"), [1, ""])
    assert status == 200
    assert publish.read_pointer()["version"] in str(body)


def test_home_has_one_card_per_metric(client):
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "home-kpis"), ["/"])
    assert status == 200
    # one per metric the city has a source for: the demo has no citywide-only transit operator
    assert str(body).count("kpi-card kpi-card--") == len(lookups.available_metrics()) == len(
        [m for m in registry.metrics().values()
         if m.table not in ("transit_ridership_city", "traffic_counts_borough", "pedestrian_counts")])


@pytest.mark.parametrize("metric", list(registry.metrics()))
def test_explore_renders_every_metric(client, metric):
    deps = dash_http.dependencies(client)
    dep = dash_http.find(deps, "explore-map")
    status, body, _ = dash_http.call(client, dep, [{"metric": metric, "districts": "301"}, None])
    assert status == 200
    series = body["response"]["explore-series"]["figure"]
    assert series["data"], f"{metric}: empty time series"


@pytest.mark.parametrize("bad,notice", [
    ({"metric": "nope"}, "Unknown metric"), ({"metric": "bike_trips", "grain": "fortnight"}, "not available by fortnight"),
    ({"metric": "bike_trips", "districts": ["999", "../etc", 5, None] * 50}, "not recognised"),
    ({"metric": "' OR 1=1 --", "grain": "day; DROP", "districts": "301' --"}, "Unknown metric"),
    ({"metric": "bike_trips", "start": "2026-02-30", "end": "1900-01-01", "range": "custom"}, "Invalid custom dates"),
    (["not", "a", "dict"], None), (None, None),
])
def test_explore_bad_input_falls_back_with_a_notice(client, bad, notice):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "explore-map"), [bad, None])
    assert status == 200, text[:300]
    assert "Traceback" not in text
    assert body["response"]["explore-series"]["figure"]["data"]
    if notice is not None:  # a visible notice says what was wrong
        assert notice in str(body["response"]["explore-notice"]["children"])


@pytest.mark.parametrize("district,expected", [("301", "Brooklyn"), ("999", "There is no district with the id '999'"),
                                               (None, "No district chosen"), ("city", "No district chosen")])
def test_district_profile(client, district, expected):
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "district-kpis"), [district])
    assert status == 200
    assert expected in str(body)


ALERTS_QUEUE_INPUTS = [["open", "acknowledged", "snoozed"], None, None, None, "none", "severity", 1, 0]


def test_alerts_and_data_health_render(client):
    deps = dash_http.dependencies(client)
    for fragment, inputs in (("alerts-table", ALERTS_QUEUE_INPUTS), ("data-sources", [1])):
        status, body, _ = dash_http.call(client, dash_http.find(deps, fragment), inputs)
        assert status == 200 and body["response"]
    _, body, _ = dash_http.call(client, dash_http.find(deps, "data-sources"), [1])
    assert "simulated" in str(body)


def test_wall_refresh_fills_tiles_map_and_alerts(client):
    deps = dash_http.dependencies(client)
    dep = dash_http.find(deps, "wall-tiles")
    status, body, _ = dash_http.call(client, dep, [1, "parking", {"w": 1920, "h": 1080}], [{"views": ["parking"]}, {}])
    assert status == 200
    tiles = str(body["response"]["wall-tiles"]["children"])
    assert tiles.count("kpi-card kpi-card--") == len(registry.by_domain("parking"))
    assert body["response"]["wall-map"]["figure"]["data"]


@pytest.mark.parametrize("metric", [m.id for m in registry.public_metrics()])
def test_public_metric_page(client, metric):
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), [metric])
    assert status == 200
    assert body["response"]["public-metric-map"]["figure"]["data"]


def test_public_metric_refuses_a_private_or_unknown_metric(client):
    deps = dash_http.dependencies(client)
    private = [m.id for m in registry.metrics().values() if not m.public]
    for metric in private + ["nope", None]:
        status, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), [metric])
        assert status == 200 and "Unknown metric" in str(body)


def test_public_overview_cards(client):
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "public-kpis"), ["/public"], ["en"])
    assert status == 200
    # one card per public metric with data; the demo has no citywide-only source (MTA, DOT) and no pedestrian counts
    without_data = {"transit_riders_citywide", "transit_citywide_vs_baseline_pct", "traffic_volume_citywide",
                    "pedestrians_per_count"}
    assert str(body).count("kpi-card kpi-card--") == len(registry.public_metrics()) - len(without_data)
    for metric_id in without_data:
        assert f"/metric/{metric_id}" not in str(body)


@pytest.fixture()
def no_data(tmp_path, monkeypatch):
    """An empty var dir: nothing has been published."""
    import sqlite3

    from data import ops_store, repository, settings, snapshot

    with sqlite3.connect(settings.var_dir() / ops_store.FILE) as old, sqlite3.connect(tmp_path / ops_store.FILE) as new:
        old.backup(new)  # the signed-in users stay; only the published data is gone
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    snapshot.reset()
    repository.clear_cache()
    yield tmp_path
    monkeypatch.undo()
    snapshot.reset()
    repository.clear_cache()


@pytest.mark.parametrize("pointer", [None, "{broken", '{"version": "v", "ops": "snapshots/missing.duckdb", "public": "x"}'])
def test_without_published_data_every_view_says_so(client, no_data, pointer):
    if pointer is not None:
        (no_data / "CURRENT.json").write_text(pointer)
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "shell-status"), [1, ""])
    assert status == 200 and "No data published yet" in str(body)
    for fragment, inputs, state in [("home-kpis", ["/"], None), ("explore-map", ["bike_trips", "day", []], None),
                                    ("district-kpis", ["301"], None), ("alerts-table", ALERTS_QUEUE_INPUTS, None),
                                    ("data-sources", [1], None), ("wall-tiles", [1, "all", {}], [{}, {}]),
                                    ("public-kpis", ["/public"], ["en"]), ("public-metric-series", ["bike_trips"], None)]:
        status, body, text = dash_http.call(client, dash_http.find(deps, fragment), inputs, state)
        assert status == 200, f"{fragment}: {text[:200]}"
        assert "Data unavailable" in text, fragment
        assert "Traceback" not in text
    for path in ("/", "/explore", "/district/301", "/wall", "/public/metric/bike_trips"):
        status, text = dash_http.route(client, path)
        assert status == 200 and "Traceback" not in text


def test_data_health_shows_a_row_count_trend_per_source(client, writer):
    """Each source row carries rows loaded per day over the last 30 days (sparkline + total)."""
    from datetime import datetime, timedelta

    from data import publish, snapshot
    from tests.conftest import FIXTURE_END

    # a load today and one a week ago for one source, so the trend has two days to draw
    source = writer.execute("SELECT source_id FROM sources ORDER BY source_id LIMIT 1").fetchone()[0]
    # ids from the warehouse's own sequence: a made-up max()+1 makes a later load's id collide
    ids = [writer.execute("SELECT nextval('batch_seq')").fetchone()[0] for _ in range(2)]
    for i, (ago, rows) in enumerate(((7, 1200), (0, 3400))):
        at = datetime.now() - timedelta(days=ago)
        writer.execute("INSERT INTO load_batches (batch_id, source_id, file, started_at, finished_at, rows_read, "
                       "rows_loaded, rows_quarantined, status) VALUES ($id, $s, 'trend-test', $at, $at, $n, $n, 5, 'ok')",
                       {"id": ids[i], "s": source, "at": at, "n": rows})
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "data-sources"), [1])
    text = str(body)
    assert status == 200 and "Rows loaded per day, last 30 days" in text
    loaded, quarantined = writer.execute(
        "SELECT sum(rows_loaded), sum(rows_quarantined) FROM load_batches WHERE source_id = $s "
        "AND finished_at >= now()::TIMESTAMP - INTERVAL 30 DAY", {"s": source}).fetchone()
    assert f"{loaded:,} rows in 2 day(s), {quarantined:,} quarantined" in text  # today and a week ago
    assert "data:image/svg+xml" in text
