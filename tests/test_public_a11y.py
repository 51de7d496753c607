"""The public site in headless Chromium, run as its own process (CITYOPS_MODE=public):
axe-core finds no serious or critical WCAG 2.1 A/AA violation on any public page, pages
reflow at 320 px (= 1280 px at 400 % zoom) without sideways scrolling, the page language is
set, the district picker works from the keyboard, and no page sets a cookie.

axe-core comes from npm (tests/a11y/package.json, pinned in its package-lock.json); the test
installs it with `npm ci` when it is missing (`make a11y`, run by `make test`, does it first;
in CI a missing axe-core fails the test instead of skipping it)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import ROOT, require_chromium, running

A11Y = ROOT / "tests" / "a11y"
AXE = A11Y / "node_modules" / "axe-core" / "axe.min.js"
# page path -> a selector that appears once its callbacks have filled it in
PAGES = {
    "/": "#public-kpis .kpi-card",
    "/district": "#public-district-card table",
    "/metric/sr_opened": "#public-metric-map-text:not(:empty)",
    "/metric/satisfaction_score": "#public-metric-map-text:not(:empty)",
    "/methodology": ".method-entry",
    "/district?lang=es": "#public-district-card table",
    "/?lang=es": "#public-kpis .kpi-card",
    "/metric/sr_opened?lang=es": "#public-metric-map-text:not(:empty)",
    "/methodology?lang=es": ".method-entry",
    "/api": ".api-endpoint",
    "/api?lang=es": ".api-endpoint",
    "/district?district=banana": ".notice",
}

pytestmark = pytest.mark.browser
require_chromium(pytest)


def _ensure_axe() -> Path:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:  # `make test` installs npm (apt) when root; see the Makefile's a11y target
            if os.environ.get("CI"):
                pytest.fail("axe-core is required in CI (make test installs it: make a11y)")
            pytest.skip("npm is not installed: cannot fetch axe-core (apt-get install npm)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=A11Y, check=True, timeout=300)
    return AXE


@pytest.fixture(scope="module")
def public_server(published):
    with running("public") as base:
        yield base


def _open(browser, base: str, path: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)  # axe is injected inline
    page = context.new_page()
    cookies_set = []
    page.on("response", lambda r: cookies_set.append(r.url) if "set-cookie" in r.headers else None)
    page.goto(base + path, wait_until="networkidle")
    page.wait_for_selector(PAGES[path], timeout=20_000)
    return context, page, cookies_set


@pytest.mark.parametrize("path", list(PAGES))
def test_no_serious_or_critical_axe_violation(public_server, browser, path):
    axe = _ensure_axe()
    context, page, cookies_set = _open(browser, public_server, path)
    try:
        page.add_script_tag(path=str(axe))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""")
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert bad == [], json.dumps(bad, indent=1)
        assert page.evaluate("document.documentElement.lang") == ("es" if "lang=es" in path else "en")
        assert context.cookies() == [] and cookies_set == []
    finally:
        context.close()


@pytest.mark.parametrize("path", list(PAGES))
def test_reflows_at_320_px(public_server, browser, path):
    context, page, _ = _open(browser, public_server, path, width=320)
    try:
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 322, f"{path}: page is {overflow}px wide at a 320px viewport"
    finally:
        context.close()


def test_district_picker_works_from_the_keyboard(public_server, browser):
    context, page, _ = _open(browser, public_server, "/district")
    try:
        # the first district's summary is there before we pick another (a slow machine may
        # still be rendering it, and its arrival must not be mistaken for our pick)
        page.wait_for_function("() => document.querySelector('#public-district-summary')?.innerText.trim()",
                               timeout=20_000)
        assert not page.inner_text("#public-district-summary").startswith("Bronx CD 2")
        page.focus("#public-district-pick")
        page.keyboard.press("Control+A")
        # at a typing speed a person can reach (25 keys/s): with no delay at all Playwright outran
        # dcc.Input's debounced state and about one run in four typed a scrambled name ("Bonx CD 2r")
        page.keyboard.type("Bronx CD 2", delay=40)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#public-district-summary').innerText.startsWith('Bronx CD 2')",
            timeout=20_000)
    finally:
        context.close()


SHOTS = ROOT / "tests" / "screenshots"


@pytest.mark.parametrize("width,height", [(1920, 1080), (390, 844)])
@pytest.mark.parametrize("path,name", [("/", "overview"), ("/metric/sr_opened", "metric"),
                                       ("/district", "district")])
def test_screenshots_for_review_and_nothing_broken_on_a_phone(public_server, browser, path, name, width, height):
    """Screenshots (tests/screenshots/public-<page>-<width>.png) of what a resident sees on a
    desktop and a phone; on both, no sideways scrolling and no number or word split across lines."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(public_server + path, wait_until="networkidle")
        page.wait_for_selector(PAGES[path], timeout=20_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"public-{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
        # text laid out on more than one line (distinct line tops of its text boxes)
        broken = page.evaluate("""() => [...document.querySelectorAll('.kpi-value, .kpi-unit, .public-scorecard td')]
            .filter(e => { const r = document.createRange(); r.selectNodeContents(e);
                           // a box on another line lies wholly below the first one (glyphs of a fallback
                           // font, such as the status icon, sit a pixel higher on the same line)
                           const boxes = [...r.getClientRects()].filter(x => x.width > 0);
                           return boxes.some(x => x.top >= boxes[0].bottom - 1); })
            .map(e => e.textContent).slice(0, 5)""")
        assert broken == []
    finally:
        context.close()
