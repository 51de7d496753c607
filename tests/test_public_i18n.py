"""The public site's translation catalogue (data/i18n): English and Spanish hold the same
keys and placeholders, every public metric has a name and description in both (its header), and
``?lang=es`` renders the pages and callbacks in Spanish with the page language set."""
import json
import re

import pytest

from data import i18n, registry
from tests import dash_http

PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture()
def client(anon_client):
    """The public site is for anonymous visitors."""
    return anon_client


def test_catalogues_hold_the_same_keys_and_placeholders():
    en, es = i18n.catalogue("en"), i18n.catalogue("es")
    assert set(en["ui"]) == set(es["ui"])
    for key, text in en["ui"].items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(es["ui"][key])), key
    assert en["locale"] and es["locale"] and "months" not in en  # month names come from the locale (Babel)


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_public_metric_has_a_name_and_description(lang):
    """Each language of the site names and describes every public metric itself (its header's
    i18n.<lang> block; English: the header's own fields)."""
    for metric in registry.public_metrics():
        assert i18n.has_own(metric, "label", lang) and i18n.has_own(metric, "description", lang), (lang, metric.id)
        assert i18n.metric_label(metric, lang) and i18n.metric_description(metric, lang), (lang, metric.id)
    for metric in registry.public_metrics():  # English = the registry (one source of truth)
        assert i18n.metric_label(metric, "en") == metric.label


@pytest.mark.parametrize("value", [None, "", "fr", "es ", ["es"], 3, "x" * 999])
def test_unknown_language_falls_back_to_english(value):
    assert i18n.valid_lang(value) == "en"


@pytest.mark.parametrize("path,spanish", [("/public", "¿Cómo le va a la ciudad?"), ("/public/district", "Mi distrito"),
                                          ("/public/metric/bike_trips", "Viajes en bicicleta compartida"),
                                          ("/public/methodology", "Metodología")])
def test_lang_es_renders_spanish(client, path, spanish):
    status, text = dash_http.route(client, path, "?lang=es")
    assert status == 200
    shown = json.dumps(json.loads(text), ensure_ascii=False)
    assert spanish in shown and '"lang": "es"' in shown
    assert b'<html lang="es">' in client.get(path + "?lang=es").data


def test_callbacks_answer_in_the_page_language(client):
    deps = dash_http.dependencies(client)
    _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"),
                                [{"metric": "satisfaction_score", "lang": "es"}])
    assert "semana" in str(body["response"]["public-metric-series-text"])
    _, body, text = dash_http.call(client, dash_http.find(deps, "public-district-card"), ["301"], ["es"])
    assert "Toda la ciudad" in text
    _, body, text = dash_http.call(client, dash_http.find(deps, "public-district-card"), ["301"], ["<script>"])
    assert "Whole city" in text  # unknown language: English


def test_kpi_cards_answer_in_the_page_language_and_link_to_their_metric(client):
    deps = dash_http.dependencies(client)
    dep = dash_http.find(deps, "public-kpis")
    _, _, spanish = dash_http.call(client, dep, ["/public"], ["es"])
    _, _, english = dash_http.call(client, dep, ["/public"], ["en"])
    spanish = json.dumps(json.loads(spanish), ensure_ascii=False).replace("\\u002f", "/")
    english = english.replace("\\u002f", "/")
    for text in ("Viajes en bicicleta compartida", "viajes", "semana del", "Transporte", "Servicio y satisfacción"):
        assert text in spanish, text
    assert any(word in spanish for word in ("últimos datos", "sin actualizar desde", "con retraso"))
    assert any(word in spanish for word in ("Cumple el objetivo", "Fuera del objetivo", "Atención", "Sin objetivo"))
    for text in ("Bike-share trips", "On target", "week of", "vs previous", "Off target", "stale since"):
        assert text not in spanish, text
    assert "Bike-share trips" in english and "week of" in english
    assert "/public/metric/bike_trips?lang=es" in spanish and '"/public/metric/bike_trips"' in english
    _, _, unknown = dash_http.call(client, dep, ["/public"], ["<script>"])
    assert "Bike-share trips" in unknown  # unknown language: English


def test_navigation_and_data_status_follow_the_page_language(client):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "shell-nav.children"), ["?lang=es"])
    assert status == 200
    assert "Mi distrito" in str(body) and "Metodología" in str(body) and "lang=es" in str(body)
    assert "Explore" not in str(body)  # ops pages stay out of an anonymous visitor's navigation
    status, body, text = dash_http.call(client, dash_http.find(deps, "shell-status"), [1, "?lang=es"])
    assert status == 200 and "Datos publicados" in str(body)
    status, body, text = dash_http.call(client, dash_http.find(deps, "shell-status"), [1, "?lang=xx"])
    assert "Data published" in str(body)


def test_methodology_is_translated():
    from layouts.public import methodology

    spanish = str(methodology.layout(lang="es"))
    assert "Cómo se protege la privacidad" in spanish and "Historial de revisiones" in spanish
    for english in ("How privacy is protected", "Published figures are weekly", "Revision log", "Download:"):
        assert english not in spanish
    assert "How privacy is protected" in str(methodology.layout(lang="en"))


# --------------------------------------------------------------------------- no English left
TEXT_PROPS = ("children", "title", "placeholder", "aria-label", "alt", "label", "value")
PLACEHOLDER_TOKENS = re.compile(r"%\{[^}]*\}|<[^>]+>")


def _texts(node, out: list[str]) -> list[str]:
    """Every text a visitor can see or hear in a rendered Dash tree (JSON): children strings,
    titles, labels, and the text of any figure (trace names, hover templates, axis and colour
    bar titles, annotations)."""
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, list):
        for item in node:
            _texts(item, out)
    elif isinstance(node, dict):
        if "props" in node and "type" in node:
            props = node["props"]
            if node["type"] in ("Store", "Location", "Interval", "Code"):
                return out  # no text; or code (an API path, a parameter name), not prose
            for key in TEXT_PROPS:
                if key in props and not (key == "value" and node["type"] in ("Input",)):
                    _texts(props[key], out)
            if "figure" in props:
                _figure_texts(props["figure"], out)
        elif "data" in node and "layout" in node:
            _figure_texts(node, out)
        else:
            for value in node.values():
                if isinstance(value, (dict, list)):
                    _texts(value, out)
    return out


def _figure_texts(fig, out: list[str]) -> None:
    if not isinstance(fig, dict):
        return
    for trace in fig.get("data", []):
        for key in ("name", "hovertemplate"):
            if isinstance(trace.get(key), str) and trace.get("showlegend", True) is not False or key == "hovertemplate":
                if isinstance(trace.get(key), str) and trace.get("hoverinfo") != "skip":
                    out.append(PLACEHOLDER_TOKENS.sub(" ", trace[key]))
        bar = (trace.get("colorbar") or {}).get("title") or {}
        out.append(str(bar.get("text", "")) if isinstance(bar, dict) else str(bar))
    layout = fig.get("layout", {})
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            title = axis.get("title") or {}
            out.append(str(title.get("text", "")) if isinstance(title, dict) else str(title))
    title = layout.get("title") or {}
    out.append(str(title.get("text", "")) if isinstance(title, dict) else str(title))
    for note in layout.get("annotations", []) or []:
        out.append(PLACEHOLDER_TOKENS.sub(" ", str(note.get("text", ""))))


def _spanish_outputs(client) -> dict[str, str]:
    """Every public page and every public callback answered in Spanish: name -> its text."""
    deps = dash_http.dependencies(client)
    shown: dict[str, str] = {}
    for path in ("/public", "/public/district", "/public/district?district=301",
                 "/public/metric/sr_opened", "/public/metric/satisfaction_score",
                 "/public/metric/waste_tonnage_total", "/public/methodology", "/public/api", "/public/metric/nope",
                 "/public/no/such/page", "/explore"):  # the 404 and "sign in required" too
        pathname, _, search = path.partition("?")
        status, text = dash_http.route(client, pathname, "?" + (search + "&" if search else "") + "lang=es")
        assert status == 200, path
        shown[path] = " ".join(_texts(json.loads(text), []))
    calls = [("public-kpis", ["/public"], ["es"]), ("shell-nav.children", ["?lang=es"], None),
             ("shell-status", [1, "?lang=es"], None)]
    for metric in ("sr_opened", "satisfaction_score", "bike_trips", "parking_fine_revenue", "waste_tonnage_total"):
        calls.append(("public-metric-series", [{"metric": metric, "lang": "es"}], None))
    for district in ("301", "101", "banana"):
        calls.append(("public-district-card", [district], ["es"]))
    for output, inputs, state in calls:
        dep = dash_http.find(deps, output)
        status, body, _ = dash_http.call(client, dep, inputs, state)
        assert status in (200, 204), output
        if status == 200:
            shown[f"{output}{inputs}"] = " ".join(_texts(body["response"], []))
    return shown


def test_no_english_word_on_any_spanish_page_or_callback(client):
    """Walk every public page and callback output rendered with ?lang=es (component text,
    titles, labels and chart text): no word of English is left but proper nouns and units."""
    from tests import english

    vocab = english.vocabulary("es", allow=english.proper_nouns())
    left = {}
    for name, text in _spanish_outputs(client).items():
        words = english.english_in(text, vocab)
        if words:
            left[name] = words[:12]
    assert left == {}, json.dumps(left, ensure_ascii=False, indent=1)


def test_the_english_detector_catches_english():
    from tests import english

    vocab = english.vocabulary("es")
    assert english.english_in("Semana del 3: 12 viajes. Sign in · fewer than 10 · Table", vocab) == \
        ["sign", "fewer", "than", "table"]
    assert english.english_in("¿Cómo le va a la ciudad? Toda la ciudad, oculto*, 1.234,5 viajes", vocab) == []


def test_page_titles_follow_the_page_language(client):
    """The browser tab, a bookmark and a shared link's preview name the page in its language:
    the title Dash sets after each page (its router's answer) and the first document's."""
    from tests import english

    vocab = english.vocabulary("es", allow=english.proper_nouns())
    for path in ("/public", "/public/district", "/public/metric/sr_opened", "/public/methodology",
                 "/public/api", "/public/no/such/page"):
        _, text = dash_http.route(client, path, "?lang=es")
        es = json.loads(text)["response"]["_pages_store"]["data"]["title"]
        _, text = dash_http.route(client, path, "")
        en = json.loads(text)["response"]["_pages_store"]["data"]["title"]
        assert es != en and english.english_in(es, vocab) == [], (path, es)
    document = client.get("/public/methodology?lang=es").get_data(as_text=True)
    assert 'og:title" content="Metodología — CityOps"' in document  # a shared link's preview
