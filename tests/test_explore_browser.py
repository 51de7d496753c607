"""The explorer and the district profile in headless Chromium against a real server: filters
update the views, a click on the map or the ranking filters every view, back restores the
earlier view, a copied URL opens the same view in a new context, the CSV export's rows equal
the table's, and no console errors. Screenshots go to tests/screenshots/."""
from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.live import ROOT, record_errors, require_chromium, running, sign_in

SHOTS = ROOT / "tests" / "screenshots"
pytestmark = pytest.mark.browser
require_chromium(pytest)


@pytest.fixture(scope="module")
def server(published):
    with running("all", env={"CITYOPS_COOKIE_SECURE": "false"}) as base:
        yield base


def _page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = record_errors(context.new_page())
    sign_in(page, server)
    return context, page


@pytest.fixture()
def page(browser, server):
    context, page = _page(browser, server)
    yield page
    context.close()


def _settle(page, timeout: float = 40_000) -> None:
    page.wait_for_selector("#explore-series .main-svg", timeout=timeout)
    page.wait_for_selector("#explore-table .ag-row", timeout=timeout)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('._dash-loading-callback, .dash-spinner')", timeout=timeout)
    page.wait_for_timeout(300)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _table_ids(page) -> list[str]:
    return page.eval_on_selector_all("#explore-table .ag-center-cols-container .ag-row",
                                     "rows => rows.sort((a, b) => +a.getAttribute('row-index') - +b.getAttribute('row-index'))"
                                     ".map(r => r.querySelector('[col-id=district_id]').innerText)")


def _query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_filters_click_back_and_shared_link(page, browser, server):
    page.goto(server + "/explore?metric=bike_trips&range=30d")
    _settle(page)
    assert len(_table_ids(page)) > 10
    # change a filter: the URL and the views follow
    page.click("#explore-range")
    page.click("[role=option]:has-text('Last 7 days')")
    page.wait_for_function("() => location.search.includes('range=7d')")
    _settle(page)
    assert "Last 7 days" in page.inner_text("#explore-about")
    # click a district on the ranking: every view filters to it
    top = page.locator("#explore-ranking .bars .point path").last  # the top (best) bar
    top.scroll_into_view_if_needed()
    bar = top.bounding_box()
    page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.wait_for_function("() => location.search.includes('districts=')")
    _settle(page)
    chosen = _query(page)["districts"]
    assert _table_ids(page) == ["city", chosen]
    assert page.locator("#explore-kpis .kpi-card").count() == 2
    _shot(page, "explore-district-selected")
    # back restores the earlier view
    page.go_back()
    page.wait_for_function("() => !location.search.includes('districts=')")
    _settle(page)
    assert len(_table_ids(page)) > 10 and _query(page)["range"] == "7d"
    page.go_forward()
    page.wait_for_function("() => location.search.includes('districts=')")
    _settle(page)
    shared = page.url
    expected = _table_ids(page)
    about = page.inner_text("#explore-about")
    # the copied URL opens the same view in a new browser context
    context, other = _page(browser, server)
    try:
        other.goto(shared)
        _settle(other)
        assert _table_ids(other) == expected and other.inner_text("#explore-about") == about
        assert other.errors == []
    finally:
        context.close()
    assert page.errors == []


def test_map_click_filters_every_view(page, server):
    page.goto(server + "/explore?metric=parking_occupancy_pct&range=30d")
    _settle(page)
    canvas = page.locator("#explore-map .maplibregl-canvas, #explore-map canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for fx, fy in ((0.5, 0.45), (0.55, 0.6), (0.4, 0.4), (0.6, 0.5), (0.45, 0.55)):
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
        page.mouse.move(x, y)
        page.wait_for_timeout(400)  # a click counts on a district the pointer is over (its hover label shows)
        if page.evaluate("() => document.querySelector('#explore-map .hoverlayer').textContent"):
            break
    page.mouse.click(x, y)
    page.wait_for_function("() => location.search.includes('districts=')", timeout=10_000)
    _settle(page)
    chosen = _query(page)["districts"]
    assert _table_ids(page) == ["city", chosen]
    assert page.errors == []


def test_csv_export_rows_equal_the_table(page, server):
    page.goto(server + "/explore?metric=bike_trips&range=30d&districts=301,302,101&scale=per1k")
    _settle(page)
    shown = _table_ids(page)
    with page.expect_download() as info:
        page.click("#explore-exports a:has-text('CSV')")
    text = open(info.value.path(), encoding="utf-8").read()
    table, series = text.split("# series", 1)  # the table, then the series on screen
    rows = [line for line in table.splitlines() if line and not line.startswith("#")]
    exported = [r["District id"] for r in csv.DictReader(io.StringIO("\n".join(rows)))]
    assert exported == shown
    assert "# data version" in text
    areas = {r["District id"] for r in csv.DictReader(io.StringIO(series.split("\n", 1)[1]))}
    assert areas == {"city", "301", "302", "101"}
    _shot(page, "explore")
    assert page.errors == []


def test_bad_url_shows_a_notice_not_an_error(page, server):
    page.goto(server + "/explore?metric=nope&range=custom&start=2026-02-30&grain=fortnight&districts=999")
    _settle(page)
    notice = page.inner_text("#explore-notice")
    assert "Unknown metric" in notice and "Invalid custom dates" in notice
    assert page.errors == []
