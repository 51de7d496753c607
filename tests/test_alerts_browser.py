"""The alert pages and the wall in headless Chromium against a real gunicorn server (its own
var dir, episodes recorded there as the detector would): acknowledging an alert on /alerts
dims it on the wall with who took it; the first view of a rotation shows at load; the hold on
an open critical alert lasts at most ?hold= seconds; screenshots of /alerts, an alert page and
the wall at 1920×1080 and 390×844 (tests/screenshots/)."""
from __future__ import annotations

import time

import pytest

from tests.live import record_errors, require_chromium, shot, sign_in
from tests.test_wall_browser import _open, _page, record_episode, resolve_episodes, wall_server  # noqa: F401  (wall_server: the module fixture)

require_chromium(pytest)
pytestmark = pytest.mark.browser


def _record(server, metric_id, district_id, severity="critical", period="2026-11-01 00:00:00", value=41.0,
            lower=12.0, upper=20.0):
    return record_episode(server, metric_id, district_id, severity, period, value, lower, upper)


def _resolve(server, *episode_ids):
    resolve_episodes(server, *episode_ids)


@pytest.fixture(scope="module")
def queue(wall_server):  # noqa: F811
    made = [_record(wall_server, "bins_over_90_pct", "101"),
            _record(wall_server, "missed_collections", "102", severity="warning", value=30, lower=2, upper=9),
            _record(wall_server, "sr_opened", "city", value=900, lower=300, upper=520)]
    yield made
    _resolve(wall_server, *made)


def _signed_in_page(browser, server, width, height):
    page = record_errors(browser.new_context(viewport={"width": width, "height": height}).new_page())
    sign_in(page, server.base, server.var_dir)
    return page


def test_acknowledging_an_alert_on_alerts_dims_it_on_the_wall(browser, wall_server, queue):  # noqa: F811
    episode_id = queue[0]
    wall = _page(browser, wall_server, 1920, 1080)
    _open(wall, wall_server.base + "/wall?view=waste&refresh=5")
    item = f'#wall-alerts [data-episode="{episode_id}"]'
    wall.wait_for_selector(item + ".alert-item--open", timeout=15_000)
    assert wall.evaluate(f"() => getComputedStyle(document.querySelector('{item}')).opacity") == "1"
    order = wall.evaluate("() => [...document.querySelectorAll('#wall-alerts li')].map(li => li.className)")
    assert order[0].endswith("alert-item--open")

    ops = _signed_in_page(browser, wall_server, 1920, 1080)
    ops.goto(wall_server.base + "/alerts")
    row = f'.alert-row[data-episode="{episode_id}"]'
    ops.wait_for_selector(row, timeout=20_000)
    ops.click(f"{row} button:has-text('Acknowledge')")
    ops.wait_for_selector(f"{row}.alert-row--acknowledged", timeout=15_000)
    assert "Acknowledged by browser-admin" in ops.locator(row).inner_text()
    assert "✓ Acknowledged" in ops.locator("#alerts-result").inner_text()

    acknowledged = time.monotonic()
    wall.wait_for_selector(item + ".alert-item--acknowledged", timeout=15_000)
    assert time.monotonic() - acknowledged <= 2 * 5 + 2  # within two refreshes
    assert float(wall.evaluate(f"() => getComputedStyle(document.querySelector('{item}')).opacity")) < 0.7
    assert "✓ browser-admin" in wall.locator(item).inner_text()
    # the open ones stay on top; the acknowledged one moved below them
    order = wall.evaluate("() => [...document.querySelectorAll('#wall-alerts li')].map(li => li.dataset.episode)")
    assert order[-1] == str(episode_id) or order.index(str(episode_id)) > 0
    assert wall.errors == [] and ops.errors == []
    wall.context.close()
    ops.context.close()


TITLES = """window.__titles = [];
new MutationObserver(() => {
    const el = document.getElementById('wall-title'), last = window.__titles[window.__titles.length - 1];
    if (el && (!last || last[0] !== el.innerText)) window.__titles.push([el.innerText, performance.now()]);
}).observe(document, {subtree: true, childList: true, characterData: true});"""


def test_the_first_view_of_a_rotation_shows_at_load(browser, wall_server):  # noqa: F811
    """The old wall rotated once at load (the rotation callback's initial call), so the first
    view was skipped: the title went Transport → Parking within a second."""
    page = _page(browser, wall_server, 1920, 1080)
    page.add_init_script(TITLES)
    _open(page, wall_server.base + "/wall?view=transport,parking&rotate=10&refresh=5")
    page.wait_for_function("() => document.querySelector('#wall-title').innerText === 'Parking'", timeout=20_000)
    titles = page.evaluate("() => window.__titles")
    assert titles[0][0] == "Transport", titles
    assert [t for t, _ms in titles[:2]] == ["Transport", "Parking"], titles
    assert titles[1][1] - titles[0][1] >= 9_000, titles  # the first view had its full dwell
    assert page.errors == []
    page.context.close()


CHIPS = """window.__chips = [];
new MutationObserver(() => {
    const el = document.querySelector('.wall-view-chip.is-current'), last = window.__chips[window.__chips.length - 1];
    if (el && (!last || last[0] !== el.dataset.view)) window.__chips.push([el.dataset.view, performance.now()]);
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});"""


def test_the_hold_on_an_open_critical_alert_lasts_at_most_the_hold_time(browser, wall_server):  # noqa: F811
    """Rotation every 10 s, hold at most 15 s: Parking (open critical alert) stays past its
    dwell and leaves by 10 + 15 s after it was shown. Timed in the page from the view chips,
    which the rotation sets itself: the server's later re-render of the title is not the hold
    (the old test counted it and failed whenever the server was slow, e.g. in the full suite
    under load). The old rotation also overshot by up to a dwell when the hold was not a
    multiple of it (it left at the next tick: 10 + 20 s here)."""
    held = _record(wall_server, "parking_occupancy_pct", "301", value=99, lower=40, upper=85)
    try:
        page = _page(browser, wall_server, 1920, 1080)
        page.add_init_script(CHIPS)
        _open(page, wall_server.base + "/wall?view=parking,transport&rotate=10&refresh=5&hold=15")
        page.wait_for_function("() => document.querySelector('#wall-hold-text').innerText.includes('Holding on Parking')",
                               timeout=15_000)
        assert "up to 15 s" in page.locator("#wall-hold-text").inner_text()
        page.wait_for_function("() => window.__chips.length >= 2", timeout=40_000)
        chips = page.evaluate("() => window.__chips")
        assert [v for v, _ms in chips[:2]] == ["parking", "transport"], chips
        on_screen = (chips[1][1] - chips[0][1]) / 1000
        assert on_screen >= 10 + 5, f"not held past the dwell: {on_screen:.1f} s"
        assert on_screen <= 10 + 15 + 1, f"held {on_screen - 10:.1f} s past the dwell, the limit is 15 s"
        page.wait_for_function("() => document.querySelector('#wall-title').innerText === 'Transport'",
                               timeout=30_000)  # the server renders the view it was sent
        assert page.errors == []
        page.context.close()
    finally:
        _resolve(wall_server, held)


@pytest.mark.parametrize("width,height", [(1920, 1080), (390, 844)])
def test_screenshots_of_the_alert_pages_and_the_wall(browser, wall_server, queue, width, height):  # noqa: F811
    size = f"{width}x{height}"
    page = _signed_in_page(browser, wall_server, width, height)
    page.goto(wall_server.base + "/alerts?group=district")
    page.wait_for_selector(".alert-row", timeout=20_000)
    page.wait_for_load_state("networkidle")
    shot(page, f"alerts-{size}")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right
        > window.innerWidth + 1 && !e.closest('.table-responsive')).slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert widths[0] <= widths[1] + 1, f"the queue scrolls sideways: {wide}"
    page.goto(wall_server.base + f"/alerts/{queue[1]}")
    page.wait_for_selector("#alert-chart .main-svg", timeout=20_000)
    page.wait_for_selector("#alert-signals table", timeout=20_000)
    page.wait_for_load_state("networkidle")
    shot(page, f"alert-page-{size}")
    page.screenshot(path=str(shot(page, f"alert-page-{size}").with_name(f"alert-page-{size}-full.png")),
                    full_page=True)
    page.goto(wall_server.base + "/shift-log")
    page.wait_for_selector("#shift-events .timeline, #shift-events p", timeout=20_000)
    page.wait_for_load_state("networkidle")
    shot(page, f"shift-log-{size}")
    assert page.errors == []
    page.context.close()
    wall = _page(browser, wall_server, width, height)
    _open(wall, wall_server.base + "/wall?view=waste")
    wall.wait_for_selector("#wall-alerts [data-episode]", timeout=15_000)
    shot(wall, f"wall-{size}")
    assert wall.errors == []
    wall.context.close()
