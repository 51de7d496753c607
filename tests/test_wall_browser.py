"""The wall in headless Chromium against a real gunicorn server with its own var dir (this
module publishes new snapshots and stops/restarts the server, so it never disturbs the other
tests): fills the screen at three resolutions without scrollbars or console errors, tiles
update after a publish, the connection banner appears and clears by itself, rotation holds
on an injected critical alert, the page reloads itself after N failed refreshes, the alert
ticker scrolls (and stays still under reduced motion). Wall pages authenticate as a wall
screen does, with a device token (an Authorization header here; one test uses ?token=).
Screenshots go to tests/screenshots/."""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.live import ROOT, Gunicorn, record_errors, shot, sign_in, wall_token

pytestmark = pytest.mark.browser

PUBLISH = """
import sys
from datetime import datetime
from data import publish, warehouse
con = warehouse.connect(warehouse.path())
try:
    if len(sys.argv) > 1:
        con.execute(sys.argv[1])
    publish.publish(con, now=datetime(2026, 11, 1, 12))
finally:
    con.close()
"""


class Server(Gunicorn):
    """The demo app on its own var dir, which this module publishes into."""

    def __init__(self, var_dir: Path):
        super().__init__("all", env={"CITYOPS_VAR_DIR": str(var_dir), "CITYOPS_SNAPSHOT_POLL_S": "0"})
        self.var_dir = var_dir

    def publish(self, sql: str | None = None):
        """Publish a new snapshot in this server's var dir, after running `sql` on the warehouse."""
        subprocess.run([sys.executable, "-c", PUBLISH] + ([sql] if sql else []), cwd=ROOT, env=self.env,
                       check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def wall_server(warehouse_path, published):
    from data import warehouse

    var_dir = Path(tempfile.mkdtemp(prefix="cityops-test-wall-"))
    target = var_dir / warehouse_path.relative_to(Path(os.environ["CITYOPS_VAR_DIR"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(warehouse_path, target)
    assert warehouse.path() == warehouse_path
    server = Server(var_dir)
    server.token = wall_token(var_dir)
    server.publish()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(var_dir, ignore_errors=True)


def _page(browser, server, width: int, height: int, **options):
    """A new browser context that presents the server's wall device token on every request."""
    headers = {"Authorization": f"Bearer {server.token}"} if server is not None else {}
    context = browser.new_context(viewport={"width": width, "height": height}, extra_http_headers=headers,
                                  **options)
    return record_errors(context.new_page())


def _open(page, url: str):
    page.goto(url)
    page.wait_for_selector("#wall-tiles .kpi-card .kpi-spark", timeout=30_000)
    page.wait_for_selector("#wall-map .main-svg", timeout=30_000)
    page.wait_for_selector("#wall-clock:not(:empty)")
    page.wait_for_load_state("networkidle")


def _no_overflow(page, width: int, height: int):
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert sizes[0] <= width and sizes[1] <= height
    # nothing inside a tile is cut off at the bottom: the footer (data time) is visible
    clipped = page.evaluate("""() => [...document.querySelectorAll('#wall-tiles .kpi-card')].filter(c => {
        const f = c.querySelector('.kpi-foot').getBoundingClientRect(), r = c.getBoundingClientRect();
        return f.bottom > r.bottom + 1 || f.height < 4; }).map(c => c.dataset.metric + ':' + Math.round(c.querySelector('.kpi-foot').getBoundingClientRect().bottom) + '/' + Math.round(c.getBoundingClientRect().bottom) + '/' + Math.round(c.querySelector('.kpi-foot').getBoundingClientRect().height))""")
    assert clipped == []
    # no unit is cut or pushed out of its tile ("254k v…", "requ…")
    cut = page.evaluate("""() => [...document.querySelectorAll('#wall-tiles .kpi-card')].filter(c => {
        const u = c.querySelector('.kpi-unit'), f = c.querySelector('.kpi-figure');
        if (!u || !u.textContent) return false;
        const ur = u.getBoundingClientRect(), fr = f.getBoundingClientRect();
        return u.scrollWidth > u.clientWidth + 1 || ur.right > fr.right + 1 || ur.bottom > fr.bottom + 1;
    }).map(c => c.querySelector('.kpi-unit').textContent)""")
    assert cut == [], cut


@pytest.mark.parametrize("width,height,query,name", [
    (1920, 1080, "", "wall-all-1080p"),
    (1920, 1080, "?view=parking&refresh=15", "wall-parking-1080p"),
    (3840, 2160, "", "wall-all-4k"),
    (1366, 768, "", "wall-all-768p"),
])
def test_wall_fills_the_screen_at_every_resolution(browser, wall_server, width, height, query, name):
    page = _page(browser, wall_server, width, height)
    _open(page, wall_server.base + "/wall" + query)
    shot(page, name)
    _no_overflow(page, width, height)
    assert page.locator(".app-navbar").is_hidden()
    assert page.locator(".wall-page button, .wall-page input, .wall-page select, .modebar").count() == 0
    value_px = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.wall-tiles .kpi-value')).fontSize)")
    assert value_px >= {1080: 48, 2160: 96, 768: 36}[height]
    # every tile carries its data time; the fixture's data is weeks old, so every tile is stale
    foot = page.locator("#wall-tiles .kpi-card .freshness").all_inner_texts()
    assert foot and all("stale since" in text for text in foot)
    assert page.errors == []
    page.context.close()


def test_named_profile_and_bad_parameters(browser, wall_server):
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall/parking-desk")
    assert page.locator("#wall-tiles .kpi-card").count() == 4
    assert page.locator("#wall-title").inner_text().startswith("Parking desk")
    _open(page, wall_server.base + "/wall/no-such-screen?refresh=banana&metrics=nope,bike_trips")
    notice = page.locator(".wall-notice").inner_text()
    assert "unknown profile" in notice and "bad refresh" in notice and "unknown metric" in notice
    assert page.locator("#wall-tiles .kpi-card").count() == 1
    assert page.errors == []
    page.context.close()


def test_tiles_update_within_two_refresh_periods_after_a_publish(browser, wall_server):
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=parking&refresh=5")
    tile = "#wall-tiles [data-metric=parking_citations] .kpi-value"
    before = page.locator(tile).inner_text()
    wall_server.publish("UPDATE metric_values SET value = 4321 WHERE metric_id = 'parking_citations' "
                        "AND grain = 'day' AND district_id = 'city' AND period = (SELECT max(period) "
                        "FROM metric_values WHERE metric_id = 'parking_citations' AND grain = 'day')")
    published = time.monotonic()
    page.wait_for_function(f"() => document.querySelector('{tile}').innerText === '4,321'", timeout=12_000)
    assert time.monotonic() - published <= 2 * 5 + 1
    assert before != "4,321"
    assert page.errors == []
    page.context.close()


def record_episode(server, metric_id, district_id, severity="critical", period="2026-11-01 00:00:00",
                   value=41.0, lower=12.0, upper=20.0) -> int:
    """An alert episode in the server's ops store, as the detector records one (the wall shows
    and holds on episodes only)."""
    from datetime import datetime

    from data import access, episodes, registry
    from tests.live import var_dir_of

    metric = registry.get(metric_id)
    with var_dir_of(server.var_dir), access.system():
        changes = episodes.record([{
            "metric_id": metric_id, "district_id": district_id, "rule": "anomaly", "status": "firing",
            "severity": severity, "grain": "day", "period": period, "first_period": period, "value": value,
            "expected": (lower + upper) / 2, "lower": lower, "upper": upper, "n": 230, "target": metric.target,
            "message": f"{metric.label}: {value:g}, expected {lower:g}–{upper:g}, on 230 records"}],
            now=datetime.now(), version="browser-test")
    return changes[0]["episode_id"]


def resolve_episodes(server, *episode_ids) -> None:
    from data import access, episodes
    from tests.live import var_dir_of

    with var_dir_of(server.var_dir), access.system():
        for episode_id in episode_ids:
            if episodes.get(episode_id)["state"] != "resolved":
                episodes.resolve(episode_id, "system", "test over")


def test_rotation_holds_on_an_injected_critical_alert(browser, wall_server):
    """Now an open critical alert EPISODE (issue 12: the old wall held on any latest value off
    target, from a publish that set one district's occupancy to 99 %)."""
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=transport,parking&rotate=10&refresh=5")
    # without critical alerts in transport or parking, the wall rotates to parking and back
    page.wait_for_function("() => document.querySelector('#wall-title').innerText === 'Parking'", timeout=15_000)
    page.wait_for_function("() => document.querySelector('#wall-title').innerText === 'Transport'", timeout=15_000)
    assert page.locator("#wall-hold-text").inner_text() == ""
    held = record_episode(wall_server, "parking_occupancy_pct", "301", value=99, lower=40, upper=85)
    try:
        page.wait_for_function("() => document.querySelector('#wall-hold-text').innerText.includes('Holding on Parking')",
                               timeout=25_000)
        assert "Parking occupancy" in page.locator("#wall-hold-text").inner_text()
        time.sleep(12)  # longer than one dwell: still on parking
        assert page.locator("#wall-title").inner_text() == "Parking"
        shot(page, "wall-hold")
        assert page.errors == []
    finally:
        resolve_episodes(wall_server, held)
    page.context.close()


def test_connection_lost_banner_appears_and_clears_by_itself(browser, wall_server):
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=waste&refresh=5")
    tiles = page.locator("#wall-tiles .kpi-card").count()
    page.evaluate("() => { window.__marker = 'same page'; }")
    wall_server.stop()
    page.wait_for_selector("#wall-connection", timeout=15_000)
    assert "Connection lost since" in page.locator("#wall-connection").inner_text()
    assert page.locator("#wall-tiles .kpi-card").count() == tiles  # the last good data stays
    shot(page, "wall-connection-lost")
    wall_server.start()
    page.wait_for_selector("#wall-connection", state="detached", timeout=20_000)
    reloaded = page.evaluate("() => window.sessionStorage.getItem('cityops-wall-reload')")
    if reloaded and reloaded.endswith(" build"):  # source files changed while the server was down
        pytest.skip("the code changed during the test, so the wall reloaded for the new build (as designed)")
    assert page.evaluate("() => window.__marker") == "same page", reloaded  # recovered without a reload
    errors = [e for e in page.errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to load resource" not in e]
    assert errors == []
    page.context.close()


def test_screens_page_lists_the_walls_that_reported(browser, wall_server):
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall/control-room?screen=lobby-left")
    page.context.close()
    page = _page(browser, None, 1920, 1080)  # the screens list is for signed-in staff
    sign_in(page, wall_server.base, wall_server.var_dir)
    page.goto(wall_server.base + "/wall-screens")
    page.wait_for_selector("#wall-screens-table table", timeout=20_000)
    text = page.locator("#wall-screens-table").inner_text()
    assert "lobby-left" in text and "control-room" in text and "1920×1080" in text
    shot(page, "wall-screens")
    assert page.errors == []
    page.context.close()


def test_the_wall_reloads_itself_when_the_server_build_changes(browser, wall_server):
    import json
    import re

    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=parking&refresh=5")
    page.evaluate("() => { window.__marker = 'before'; }")

    def new_build(route):
        response = route.fetch()
        body = response.json()
        if "wall-meta" in body.get("response", {}):
            body["response"]["wall-meta"]["data"]["build"] = "a-new-build"
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(r"_dash-update-component"), new_build)
    page.wait_for_function("() => (window.sessionStorage.getItem('cityops-wall-reload') || '').endsWith(' build')",
                           timeout=15_000)
    page.unroute(re.compile(r"_dash-update-component"))
    page.wait_for_selector("#wall-tiles .kpi-card", timeout=20_000)
    assert page.evaluate("() => window.__marker") is None  # a fresh page
    page.context.close()


def _refresh_route(page, handler):
    """Route only the wall's refresh callback (the one that fills the tiles) to `handler`."""
    import re

    def route(r):
        if "..wall-tiles.children" in (r.request.post_data or ""):
            handler(r)
        else:
            r.continue_()

    pattern = re.compile(r"_dash-update-component")
    page.route(pattern, route)
    return pattern


def test_the_wall_reloads_itself_after_n_failed_refreshes(browser, wall_server):
    """The server answers but every refresh fails (HTTP 500): after N = 2 (?failures=2) the
    page checks that the wall page itself still loads, then reloads itself."""
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=parking&refresh=5&failures=2")
    assert page.evaluate("() => window.cityopsWallConfig.max_failures") == 2
    page.evaluate("() => { window.__marker = 'before'; }")
    pattern = _refresh_route(page, lambda r: r.fulfill(status=500, body="boom"))
    page.wait_for_selector("#wall-connection", timeout=12_000)  # failure 1: banner, no reload yet
    assert page.evaluate("() => [window.__marker, window.cityopsWall.failures]") == ["before", 1]
    page.wait_for_function("() => (window.sessionStorage.getItem('cityops-wall-reload') || '').endsWith(' failures')",
                           timeout=15_000)
    page.unroute(pattern)
    page.wait_for_selector("#wall-tiles .kpi-card", timeout=20_000)
    assert page.evaluate("() => window.__marker") is None  # a fresh page
    page.wait_for_selector("#wall-connection", state="detached", timeout=15_000)
    page.context.close()


def test_an_unreachable_server_reloads_the_wall_once_it_is_back(browser, wall_server):
    """Refreshes fail without an answer: after N failures the page does not reload into an
    error page; it waits, and reloads at the first refresh that succeeds again."""
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=waste&refresh=5&failures=2")
    page.evaluate("() => { window.__marker = 'before'; }")
    pattern = _refresh_route(page, lambda r: r.abort("connectionrefused"))
    page.wait_for_function("() => window.cityopsWall.failures >= 2 && window.cityopsWall.reloadWhenBack",
                           timeout=20_000)
    assert page.evaluate("() => window.__marker") == "before"  # still the same page, last data shown
    assert page.locator("#wall-connection").is_visible()
    page.unroute(pattern)
    page.wait_for_function("() => (window.sessionStorage.getItem('cityops-wall-reload') || '')"
                           ".endsWith(' back after failures')", timeout=15_000)
    page.wait_for_selector("#wall-tiles .kpi-card", timeout=20_000)
    assert page.evaluate("() => window.__marker") is None
    page.context.close()


TICKER = """() => { const box = document.querySelector('.wall-ticker'), list = box.querySelector('.wall-alerts');
    return {scrolling: box.classList.contains('is-scrolling'), items: list.children.length,
            overflow: list.scrollHeight - box.clientHeight, animation: getComputedStyle(list).animationName,
            hidden: Number(box.dataset.hidden || 0), more: getComputedStyle(box, '::after').content,
            font: parseFloat(getComputedStyle(list).fontSize)}; }"""


_TICKER_RUNS = itertools.count(1)


@pytest.fixture()
def many_alerts(wall_server):
    """More open alert episodes than a 768p ticker can show."""
    period = f"2026-10-{next(_TICKER_RUNS):02d} 00:00:00"  # later each time: a resolved episode is not reopened
    made = [record_episode(wall_server, metric, district, severity="critical" if i % 3 == 0 else "warning",
                           period=period)
            for i, (metric, district) in enumerate((m, d) for m in ("sr_opened", "missed_collections", "bike_trips")
                                                   for d in ("101", "102", "103", "104", "105", "201", "202"))]
    yield made
    resolve_episodes(wall_server, *made)


def test_the_alert_ticker_scrolls_when_the_alerts_do_not_fit(browser, wall_server, many_alerts):
    page = _page(browser, wall_server, 1366, 768)
    _open(page, wall_server.base + "/wall")
    page.wait_for_function("() => document.querySelector('.wall-ticker').classList.contains('is-scrolling')",
                           timeout=10_000)
    ticker = page.evaluate(TICKER)
    assert ticker["items"] > 5 and ticker["overflow"] > 0 and ticker["animation"] == "wall-ticker"
    assert ticker["font"] >= 16
    # the animation runs; half way through a cycle the list has moved up by about half the overflow
    moved = page.evaluate("""() => { const list = document.querySelector('#wall-alerts');
        const [anim] = list.getAnimations(), top = list.getBoundingClientRect().top;
        const total = anim.effect.getComputedTiming().duration;
        anim.currentTime = total / 2;
        return {state: anim.playState, total, moved: top - list.getBoundingClientRect().top}; }""")
    assert moved["state"] == "running" and moved["total"] >= 12_000
    assert moved["moved"] > ticker["overflow"] * 0.3
    shot(page, "wall-ticker-768p")
    assert page.errors == []
    page.context.close()


def test_the_ticker_stays_still_under_reduced_motion_and_says_how_many_are_hidden(browser, wall_server, many_alerts):
    page = _page(browser, wall_server, 1366, 768, reduced_motion="reduce")
    _open(page, wall_server.base + "/wall")
    page.wait_for_function("() => document.querySelector('.wall-ticker').classList.contains('is-scrolling')",
                           timeout=10_000)
    ticker = page.evaluate(TICKER)
    assert ticker["animation"] == "none"
    assert ticker["hidden"] > 0 and "more alerts" in ticker["more"]
    assert page.errors == []
    page.context.close()


def test_a_screen_signs_in_with_its_device_token_in_the_url(browser, wall_server):
    page = _page(browser, None, 1920, 1080)
    _open(page, wall_server.base + f"/wall?view=parking&token={wall_server.token}")
    assert "token" not in page.url  # the token leaves the address bar; the session keeps it
    page.reload()
    page.wait_for_selector("#wall-tiles .kpi-card", timeout=20_000)
    assert page.errors == []
    page.context.close()


UNAUTHORISED_STATE = """() => ({
    tiles: document.querySelectorAll('#wall-tiles .kpi-card').length,
    freshness: document.querySelectorAll('.wall-page .freshness').length,
    alerts: document.querySelectorAll('#wall-alerts li').length,
    mapTraces: ((document.querySelector('#wall-map .js-plotly-plot') || {}).data || []).length,
    clock: document.querySelector('#wall-clock').innerText,
    visibleText: [...document.querySelectorAll('.wall-body, .wall-header')].map(e => e.checkVisibility() ? e.innerText : '').join(''),
    message: (document.getElementById('wall-unauthorised') || {}).innerText || ''})"""


def _not_network_noise(errors, status: int):
    # Chromium logs a refused request itself ("Failed to load resource: … status of 401"):
    # that is the server's answer, not a script error. Anything else is.
    return [e for e in errors if f"status of {status}" not in e]


def test_a_revoked_screen_blanks_its_data_at_once_and_says_it_is_no_longer_authorised(browser, wall_server):
    """issue 14: a revoked screen kept its last data with a ticking clock and green dots and
    threw 'body stream already read' on each refresh."""
    from data import users
    from tests.live import var_dir_of

    with var_dir_of(wall_server.var_dir):
        token_id, token = users.add_token("soon-revoked")
    page = _page(browser, None, 1920, 1080)
    _open(page, wall_server.base + f"/wall?refresh=5&token={token}")
    before = page.evaluate(UNAUTHORISED_STATE)
    assert before["tiles"] > 0 and before["freshness"] > 0 and before["mapTraces"] > 0 and before["clock"]
    with var_dir_of(wall_server.var_dir):
        users.revoke_token(token_id)
    revoked = time.monotonic()
    page.wait_for_selector("#wall-unauthorised", timeout=12_000)
    assert time.monotonic() - revoked <= 5 + 2  # at the next refresh
    time.sleep(6)  # another refresh and several clock ticks later
    after = page.evaluate(UNAUTHORISED_STATE)
    assert "no longer authorised" in after["message"] and "401" in after["message"]
    assert after["tiles"] == 0 and after["freshness"] == 0 and after["alerts"] == 0 and after["mapTraces"] == 0
    assert after["clock"] == "" and after["visibleText"] == ""
    assert page.locator("#wall-connection").count() == 0  # not a connection problem
    shot(page, "wall-unauthorised")
    assert _not_network_noise(page.errors, 401) == []
    page.context.close()


def test_a_screen_refused_with_403_is_blanked_the_same_way(browser, wall_server):
    page = _page(browser, wall_server, 1920, 1080)
    _open(page, wall_server.base + "/wall?view=parking&refresh=5")
    _refresh_route(page, lambda r: r.fulfill(status=403, body='{"error": "forbidden"}',
                                             content_type="application/json"))
    page.wait_for_selector("#wall-unauthorised", timeout=12_000)
    after = page.evaluate(UNAUTHORISED_STATE)
    assert after["tiles"] == 0 and after["alerts"] == 0 and "403" in after["message"]
    assert _not_network_noise(page.errors, 403) == []
    page.context.close()
