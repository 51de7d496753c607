"""Issue 17, the district official's task in a real browser, step by step: sign in, land on the
district, read a rank, export the series, annotate and edit the annotation, see it on the
district's trend; no console error; screenshots at 1920×1080 and 390×844."""
from __future__ import annotations

import os

import pytest

from tests.live import ensure_user, record_errors, require_chromium, running, settle, shot

pytestmark = pytest.mark.browser
require_chromium(pytest)


@pytest.fixture(scope="module")
def server(published):
    with running("all") as base:
        yield base


def _show_row(page, text: str) -> None:
    """Page and scroll the annotations grid to the row holding `text` (20 rows a page, and ag-grid
    draws only the rows in view; annotations other tests made may list before this one)."""
    page.wait_for_function("""(text) => {
        const api = window.dash_ag_grid && window.dash_ag_grid.getApi('notes-grid');
        if (!api) return false;
        let found = null;
        api.forEachNode(n => { if (!found && n.data && String(n.data.title || '').includes(text)) found = n; });
        if (found) {  // to its page (20 rows a page), as a user pages to it, then into view
            api.paginationGoToPage(Math.floor(found.rowIndex / api.paginationGetPageSize()));
            api.ensureNodeVisible(found, 'top');
        }
        return !!found;
    }""", arg=text, timeout=30_000)
    page.wait_for_selector(f"#notes-grid .ag-row:has-text('{text}')")

def test_official_signs_in_lands_reads_a_rank_exports_annotates_and_edits(browser, server, tmp_path):
    username, password = ensure_user(os.environ["CITYOPS_VAR_DIR"], "browser-official", "official-password-9",
                                     role="official", districts="101")
    # annotations other tests made list before the official's own (newer starts): the grid must
    # still show the one just saved (in the full suite 30 such rows pushed it out of view)
    from datetime import datetime

    from data import annotations
    for i in range(30):
        annotations.add(created_by="test-admin", title=f"earlier session note {i}", kind="note",
                        starts_at=datetime(2026, 10, 28, i % 24), ends_at=datetime(2026, 10, 29), district_id="101",
                        known_districts=frozenset({"101"}))
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
    page = record_errors(context.new_page())
    # 1. sign in: the official lands on their district, not the city overview
    page.goto(server + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/district/101")
    settle(page, "#district-kpis .kpi-card")
    assert page.locator("h1").inner_text() == "Manhattan CD 1"
    assert page.locator("#shell-my-district").get_attribute("href") == "/district/101"
    # 2. read a rank: among ALL districts, with n (or why there is none)
    ranks = page.locator("#district-kpis .district-rank").all_inner_texts()
    assert ranks and any("highest of 59 districts · n = " in r for r in ranks), ranks[:5]
    assert all(("highest of" in r) or r.startswith("no rank: ") for r in ranks)
    settle(page, "#district-trend .main-svg")
    shot(page, "official-district-1920x1080")
    # 3. export the series on screen
    with page.expect_download() as info:
        page.click("#district-series-export a:has-text('CSV')")
    saved = tmp_path / "series.csv"
    info.value.save_as(saved)
    text = saved.read_text()
    assert "# data version," in text and "# district,101 Manhattan CD 1" in text and "Whole city" in text
    # 4. annotate (the picker offers only district 101), then edit it
    page.click("#shell-my-district")  # My district from any page goes back to the district
    settle(page, "#district-kpis .kpi-card")
    page.click(".app-navbar >> text=Annotations")
    settle(page, "#notes-grid")
    page.click("#notes-district")
    page.wait_for_selector("[role=option]")
    options = page.locator("[role=option]").all_inner_texts()
    assert options == ["Manhattan CD 1"], options
    page.keyboard.press("Escape")
    page.fill("#notes-title", "Depot closed: lorries late")
    page.fill("#notes-start", "2026-10-20")
    page.fill("#notes-end", "2026-10-22")
    page.click("#notes-save")
    page.wait_for_selector("#notes-result:has-text('saved')")
    _show_row(page, "Depot closed: lorries late")
    page.click("#notes-grid .ag-row:has-text('Depot closed: lorries late') .ag-cell >> nth=0")
    page.wait_for_function("() => document.querySelector('#notes-title').value === 'Depot closed: lorries late'")
    page.fill("#notes-title", "Depot closed: lorries late (two days)")
    page.click("#notes-save")
    page.wait_for_selector("#notes-result:has-text('changed')")
    page.wait_for_selector("#notes-history li:has-text('edit')")  # the audit trail shows the change
    _show_row(page, "(two days)")
    shot(page, "official-annotations-1920x1080")
    # 5. back on the district, the edited annotation explains the period
    page.click("#shell-my-district")
    settle(page, "#district-trend .main-svg")
    page.locator("#district-events").scroll_into_view_if_needed()
    shot(page, "official-district-events-1920x1080")
    page.wait_for_selector("#district-events:has-text('Depot closed: lorries late (two days)')")
    # 6. on a phone
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    settle(page, "#district-kpis .kpi-card")
    shot(page, "official-district-390x844")
    page.locator("#district-trend").scroll_into_view_if_needed()
    settle(page, "#district-trend .main-svg")
    shot(page, "official-district-trend-390x844")
    assert page.errors == []
    context.close()
