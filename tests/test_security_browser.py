"""Headless Chromium: the anonymous public pages of the local demo (mode all) work without
the ops pages' skeletons in their page config (issue 14.16), with no console error."""
from __future__ import annotations

import json

import pytest

from tests.live import record_errors, require_chromium, running

pytestmark = pytest.mark.browser
require_chromium(pytest)


@pytest.fixture(scope="module")
def server(published):
    with running("all") as base:
        yield base


@pytest.mark.parametrize("path,selector", [
    ("/public", "#public-kpis .kpi-card"),
    ("/public/metric/sr_median_hours_to_close", "#public-metric-series .main-svg"),
])
def test_anonymous_public_pages_render_without_console_errors(browser, server, path, selector):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = record_errors(context.new_page())
    try:
        page.goto(server + path)
        page.wait_for_selector(selector, timeout=20_000)
        page.wait_for_load_state("networkidle")
        config = json.loads(page.evaluate("() => document.getElementById('_dash-config').textContent"))
        assert "python_version" not in config
        # the ops pages' skeletons are not embedded: bare ids only (they are in /_dash-dependencies)
        stubs = config["validation_layout"]["props"]["children"]
        assert stubs and all(set(stub["props"]) == {"id"} for stub in stubs)
        assert "Quarantined rows" not in json.dumps(config) and "Recent loads" not in json.dumps(config)
        assert page.errors == []
    finally:
        context.close()
