"""The public site's translation catalogue (data/i18n): English and Spanish hold the same
keys and placeholders, every public metric has a name and description in both, and
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
    assert len(en["months"]) == len(es["months"]) == 12


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_public_metric_has_a_name_and_description(lang):
    entries = i18n.catalogue(lang)["metrics"]
    for metric in registry.public_metrics():
        assert entries[metric.id]["label"] and entries[metric.id]["description"], (lang, metric.id)
    en = i18n.catalogue("en")["metrics"]
    for metric in registry.public_metrics():  # English catalogue = the registry (one source of truth)
        assert en[metric.id]["label"] == metric.label


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
