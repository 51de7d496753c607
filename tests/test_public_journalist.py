"""The journalist's task in a real browser, against the public site as its own process
(CITYOPS_MODE=public), on a phone (390×844) and in Spanish: open a number on the overview,
understand it (method, n, completeness, withheld wording), download it — with no console
error, no English word left, no sideways scrolling, no clipped chart label. And the district
in the address bar: a shared link opens that district; an unknown one gets a notice.
Screenshots: tests/screenshots/journalist-*.png."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.live import record_errors, require_chromium, running, settle, shot

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser
require_chromium(pytest)


@pytest.fixture(scope="module")
def public_server(published):
    with running("public") as base:
        yield base


@pytest.fixture()
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  accept_downloads=True)
    page = record_errors(context.new_page())
    yield page
    context.close()


def _shot(page, name: str, full_page: bool = True) -> None:
    shot(page, f"journalist-{name}", full_page=full_page)


# Every text a reader sees or hears: the rendered text (all <details> opened), the text of
# every chart (SVG), and the titles and labels of elements (tooltips, screen readers, the
# chart mode bar); code (API paths) is left out.
PAGE_TEXT = """() => {
    document.querySelectorAll('details').forEach(d => d.open = true);
    const codes = [...document.querySelectorAll('code')];
    codes.forEach(c => c.style.display = 'none');  // code (an API path) is not prose
    const parts = [document.body.innerText];
    codes.forEach(c => c.style.display = '');
    document.querySelectorAll('svg text').forEach(t => parts.push(t.textContent));
    document.querySelectorAll('[title],[aria-label],[placeholder],[alt],[data-title]').forEach(e => {
        for (const a of ['title', 'aria-label', 'placeholder', 'alt', 'data-title']) {
            if (e.getAttribute(a)) parts.push(e.getAttribute(a));
        }
    });
    return parts.join('\\n');
}"""


def _english(page) -> list[str]:
    from tests import english

    text = page.evaluate(PAGE_TEXT)
    return english.english_in(text, english.vocabulary("es", allow=english.proper_nouns()))


def _assert_spanish(page) -> None:
    """No English word on the page; the failure shows each word in its context."""
    words = _english(page)
    if words:
        text = page.evaluate(PAGE_TEXT)
        where = {w: re.search(r".{0,60}\b" + re.escape(w) + r"\b.{0,60}", text, re.I | re.S) for w in words}
        pytest.fail("English on a Spanish page: " + "; ".join(
            f"{w!r} in {m.group(0)!r}" if m else repr(w) for w, m in where.items()))


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways: {width}px wide"
    wide = page.evaluate("""() => [...document.querySelectorAll('table')].filter(t => t.offsetParent !== null)
        .filter(t => t.getBoundingClientRect().right > window.innerWidth + 1
                     || t.scrollWidth > t.parentElement.clientWidth + 1)
        .map(t => t.className)""")
    assert wide == [], f"tables wider than the phone: {wide}"


def _no_clipped_chart_label(page) -> None:
    """Every axis label, tick and legend text of every chart lies inside its chart."""
    clipped = page.evaluate("""() => {
        const out = [];
        document.querySelectorAll('.js-plotly-plot').forEach(plot => {
            const box = plot.getBoundingClientRect();
            plot.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .legendtext, .cbtitle text, .cbaxis text')
                .forEach(t => { const r = t.getBoundingClientRect();
                    if (r.width && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
                                    || r.bottom > box.bottom + 1)) out.push(t.textContent); });
        });
        return out;
    }""")
    assert clipped == [], f"chart labels cut off: {clipped}"


def test_journalist_opens_understands_and_downloads_a_number_on_a_phone_in_spanish(public_server, phone):
    page = phone
    # 1. the overview, in Spanish, on a phone
    page.goto(public_server + "/?lang=es")
    settle(page, "#public-kpis .kpi-card")
    settle(page, "#shell-status:not(:empty)")
    _shot(page, "1-overview-es-390")
    assert page.evaluate("document.documentElement.lang") == "es"
    _assert_spanish(page)
    _no_sideways_scroll(page)
    # 2. a number: a tap anywhere on its card (here on the figure, not the title) opens its page
    card = page.locator("#public-kpis .kpi-card[data-metric=bike_trips]")
    card.scroll_into_view_if_needed()
    box = card.locator(".kpi-value").bounding_box()
    with page.expect_navigation():
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert "/metric/bike_trips" in page.url and "lang=es" in page.url
    settle(page, "#public-metric-series .main-svg")
    settle(page, "#public-metric-map-text:not(:empty)")
    # 3. understand it: the figure with its n and completeness, the method, the withheld wording
    summary = page.inner_text("#public-metric-summary")
    assert "Basado en" in summary and "registros" in summary and "completo" in summary
    body = page.inner_text("main")
    assert "Método" in body and "Cada viaje se cuenta una vez" in body
    assert "menos de 10*" not in body and "fewer than" not in body
    page.click("text=El mapa como tabla")
    page.click("text=La evolución como tabla")
    assert "Oculto para proteger la privacidad" in page.inner_text("main")
    ticks = page.evaluate("() => [...document.querySelectorAll('#public-metric-series .xtick text')].map(t => t.textContent)")
    assert ticks and not any(m in " ".join(ticks) for m in ("Oct", "Nov", "Sep", "Dec"))
    _shot(page, "2-metric-es-390")
    _assert_spanish(page)
    _no_sideways_scroll(page)
    _no_clipped_chart_label(page)
    # 4. download it
    with page.expect_download() as info:
        page.click(".public-downloads a:text-is('CSV')")
    rows = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert rows and {"value", "n", "suppressed", "data_version", "licence"} <= set(rows[0])
    assert all(r["value"] == "" for r in rows if r["suppressed"] == "True")  # withheld: empty, never a figure
    # 5. how all numbers are made, and the API explained
    page.click("text=Cómo se elaboran todas las cifras (metodología)")
    settle(page, ".method-entry")
    assert "Por qué todas las cifras ocultas se leen igual" in page.inner_text("main")
    _shot(page, "3-methodology-es-390", full_page=False)
    _assert_spanish(page)
    _no_sideways_scroll(page)
    page.goto(public_server + "/api?lang=es")
    settle(page, ".api-endpoint")
    _shot(page, "4-api-es-390", full_page=False)
    _assert_spanish(page)
    _no_sideways_scroll(page)
    assert page.errors == []


@pytest.mark.parametrize("path", ["/district?lang=es", "/metric/satisfaction_score?lang=es",
                                  "/metric/waste_tonnage_total?lang=es", "/metric/bike_trips"])
def test_public_pages_reflow_on_a_phone_and_charts_keep_their_labels(public_server, phone, path):
    page = phone
    page.goto(public_server + path)
    settle(page, "#public-district-card table, #public-metric-map-text:not(:empty)")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    _shot(page, "reflow-" + path.strip("/").replace("/", "-").replace("?lang=", "-"))
    _no_sideways_scroll(page)
    _no_clipped_chart_label(page)
    if "lang=es" in path:
        _assert_spanish(page)
    assert page.errors == []


def test_a_shared_district_link_opens_that_district_and_a_bad_one_says_so(public_server, browser):
    context = browser.new_context(viewport=PHONE)
    page = record_errors(context.new_page())
    try:
        page.goto(public_server + "/district?lang=es")
        page.wait_for_function("() => document.querySelector('#public-district-summary')?.innerText.trim()",
                               timeout=30_000)
        page.fill("#public-district-pick", "")
        page.type("#public-district-pick", "Bronx CD 2", delay=40)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#public-district-summary').innerText.startsWith('Bronx CD 2')",
            timeout=30_000)
        page.wait_for_function("() => location.search.includes('district=')", timeout=10_000)
        shared = page.url
        assert "lang=es" in shared
        switch = page.get_attribute("a.public-lang-switch", "href")
        assert "district=" in switch and shared.split("district=")[1][:5] in switch
        _shot(page, "district-picked-es", full_page=False)
        other = record_errors(context.new_page())  # the link, opened by whoever it was sent to
        other.goto(shared)
        other.wait_for_function(
            "() => document.querySelector('#public-district-summary')?.innerText.startsWith('Bronx CD 2')",
            timeout=30_000)
        assert other.input_value("#public-district-pick") == "Bronx CD 2"
        other.goto(public_server + "/district?district=banana&lang=es")
        other.wait_for_selector(".notice", timeout=30_000)
        assert "No existe el distrito público «banana»" in other.inner_text(".notice")
        assert other.input_value("#public-district-pick") == ""
        _shot(other, "district-unknown-es", full_page=False)
        assert page.errors == [] and other.errors == []
    finally:
        context.close()
