"""The weekly briefing in a real browser: an official opens it from their district page, reads
it, and the print view hides the on-screen links; screenshots of screen and print."""
from __future__ import annotations

import os

import pytest

from tests.live import ROOT, ensure_user, record_errors, require_chromium, running, sign_in

SHOTS = ROOT / "tests" / "screenshots"

pytestmark = pytest.mark.browser
require_chromium(pytest)


@pytest.fixture(scope="module")
def server(published):
    with running("all") as base:
        yield base


def test_official_opens_the_briefing_from_the_district_page_and_prints_it(browser, server):
    username, password = ensure_user(os.environ["CITYOPS_VAR_DIR"], "briefing-official", "official-password-8",
                                     role="official", districts="101")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = record_errors(context.new_page())
    sign_in(page, server, username=username, password=password)
    page.wait_for_selector("text=weekly briefing (print, PDF)", timeout=60_000)
    with page.expect_navigation():
        page.click("text=weekly briefing (print, PDF)")
    assert "/district/101/briefing" in page.url
    assert "weekly briefing, week of Mon 19 Oct 2026" in page.inner_text("h1")
    assert page.is_visible("text=Off target") and page.is_visible(".actions")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "briefing-screen.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.is_visible(".actions")  # no links on paper
    page.screenshot(path=str(SHOTS / "briefing-print.png"), full_page=True)
    assert (SHOTS / "briefing-print.png").stat().st_size > 5_000
    assert page.errors == []
    context.close()
