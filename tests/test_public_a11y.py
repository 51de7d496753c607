"""The public site in headless Chromium, run as its own process (CITYOPS_MODE=public):
axe-core finds no serious or critical WCAG 2.1 A/AA violation on any public page, pages
reflow at 320 px (= 1280 px at 400 % zoom) without sideways scrolling, the page language is
set, the district picker works from the keyboard, and no page sets a cookie.

axe-core comes from npm (tests/a11y/package.json, pinned in its package-lock.json); the test
installs it with `npm ci` when it is missing."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
A11Y = ROOT / "tests" / "a11y"
AXE = A11Y / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
# page path -> a selector that appears once its callbacks have filled it in
PAGES = {
    "/": "#public-kpis .kpi-card",
    "/district": "#public-district-card table",
    "/metric/sr_opened": "#public-metric-map-text:not(:empty)",
    "/metric/satisfaction_score": "#public-metric-map-text:not(:empty)",
    "/methodology": ".method-entry",
    "/district?lang=es": "#public-district-card table",
}

pytestmark = pytest.mark.browser
if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is required in CI (make test installs it)")
    pytest.skip("chromium is not installed (make test installs it when root)", allow_module_level=True)


def _ensure_axe() -> Path:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:  # `make test` installs npm (apt) when root; see the Makefile's a11y target
            pytest.skip("npm is not installed: cannot fetch axe-core (apt-get install npm)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=A11Y, check=True, timeout=300)
    return AXE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def public_server(published):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{port}", "app:server"],
        cwd=ROOT, env={**os.environ, "CITYOPS_MODE": "public"}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/_dash-layout", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("public server did not start")
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield b
        b.close()


def _open(browser, base: str, path: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
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
        before = page.inner_text("#public-district-summary")
        page.focus("#public-district-pick")
        page.keyboard.press("Control+A")
        page.keyboard.type("Bronx CD 2")
        page.keyboard.press("Enter")
        page.wait_for_function("(b) => document.querySelector('#public-district-summary').innerText !== b",
                               arg=before, timeout=15_000)
        assert page.inner_text("#public-district-summary").startswith("Bronx CD 2")
    finally:
        context.close()
