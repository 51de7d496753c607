"""What a journalist relies on, over HTTP (demo mode 'all', pages under /public): a district
in the address, the API at /api/v1 with a page that explains it, district names in natural
order, withheld wording that is true for every withheld cell, sources by their published
names, whole-card links, figures in the page's locale."""
from __future__ import annotations

import json
import re

import pytest

from data import i18n, lookups, repository, settings
from tests import dash_http


@pytest.fixture()
def client(anon_client):
    return anon_client


def _route(client, path: str) -> str:
    pathname, _, search = path.partition("?")
    status, text = dash_http.route(client, pathname, "?" + search if search else "")
    assert status == 200
    return json.dumps(json.loads(text), ensure_ascii=False).replace("\\u002f", "/")


def _components(node, out=None):
    """Every component of a rendered Dash tree (JSON), depth first."""
    out = [] if out is None else out
    if isinstance(node, list):
        for item in node:
            _components(item, out)
    elif isinstance(node, dict):
        if "type" in node and "props" in node:
            out.append(node)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _components(value, out)
    return out


def _tree(client, path: str):
    pathname, _, search = path.partition("?")
    status, text = dash_http.route(client, pathname, "?" + search if search else "")
    assert status == 200
    return json.loads(text)


def _picker_value(client, path: str):
    return next(c["props"].get("value") for c in _components(_tree(client, path)) if c["props"].get("id") == "public-district-pick")


def _card(client, value, lang="en"):
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "public-district-card"), [value], [lang])
    assert status == 200
    return body["response"], text


# --------------------------------------------------------------------------- 1. district in the URL
def test_a_shared_district_link_opens_that_district(client):
    frame = lookups.districts("public")
    frame = frame[~frame["is_joint_area"].astype(bool)]
    names = dict(zip(frame["district_id"], frame["name"], strict=False))
    other = sorted(names)[-1]  # not the first district shown by default
    assert _picker_value(client, f"/public/district?district={other}") == names[other]  # not the first district
    response, _ = _card(client, names[other])
    assert response["public-district-chosen"]["data"] == {"district": other}  # → ?district=<id> in the browser


@pytest.mark.parametrize("bad", ["banana", "999", "<script>alert(1)</script>", "x" * 500, "city"])
def test_an_unknown_district_in_the_link_gets_a_notice_not_another_district(client, bad):
    page = _route(client, f"/public/district?district={bad}")
    assert "There is no public district" in page
    assert "<script>" not in page.replace("\\u003c", "<").split("There is no public district")[0][-5:]
    assert _picker_value(client, f"/public/district?district={bad}") == ""  # not silently another district


# --------------------------------------------------------------------------- 4. the API
def test_the_api_answers_at_api_v1_in_mode_all_as_under_public(client):
    for path in ("/api/v1", "/api/v1/metrics", "/api/v1/districts", "/api/v1/openapi.json",
                 "/api/v1/metrics/sr_opened/values?grain=month"):
        root, under = client.get(path), client.get("/public" + path)
        assert root.status_code == 200 and root.mimetype == "application/json", path
        assert root.get_json() == under.get_json(), path
    assert client.get("/api/v1/metrics/nope").status_code == 404


def test_the_api_page_explains_every_endpoint_of_the_openapi_document(client):
    from data.web import public_api

    page = _route(client, "/public/api")
    for path in public_api.openapi_document()["paths"]:
        assert "GET /public/api/v1" + path in page, path
    assert "/public/api/v1/openapi.json" in page and "ETag" in page and "suppressed = true" in page
    spanish = _route(client, "/public/api?lang=es")
    assert "API de datos abiertos" in spanish and "Puntos de acceso" in spanish


@pytest.mark.parametrize("path", ["/public", "/public/metric/sr_opened", "/public/methodology"])
def test_site_links_to_the_api_open_the_readable_page(client, path):
    page = _route(client, path)
    assert '"href": "/public/api"' in page
    assert '"href": "/public/api/v1/openapi.json"' not in page


# --------------------------------------------------------------------------- 5. natural sort
def _natural(names):
    def key(name):
        return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]
    return sorted(names, key=key)


def test_district_names_are_in_natural_order_in_the_picker_links_tables_and_api(client):
    tree = _components(_tree(client, "/public/district"))
    options = [c["props"]["value"] for c in tree if c["type"] == "Option"]
    assert len(options) > 10 and options == _natural(options)
    cds = [o for o in options if o.startswith("Bronx CD ")]
    assert cds[:3] == ["Bronx CD 1", "Bronx CD 2", "Bronx CD 3"]
    deps = dash_http.dependencies(client)
    _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), ["bike_trips"])
    table = json.dumps(body["response"]["public-metric-table"], ensure_ascii=False)
    names = set(lookups.district_names("public").values())
    rows = [n for n in re.findall(r'"children": "([^"]+)"', table) if n in names]
    assert len(rows) > 10 and rows == _natural(rows)
    api = [d["name"] for d in client.get("/api/v1/districts").get_json()["districts"]]
    assert api == _natural(api)


# --------------------------------------------------------------------------- 6. withheld wording
def _complementary_cells(warehouse_path, k):
    """Released cells that are withheld although their own count is k or more (complementary)."""
    import duckdb

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return con.execute("SELECT metric_id, grain, district_id, period, n FROM public_release_cells "
                           "WHERE suppressed AND n >= ? AND district_id <> 'city' ORDER BY n DESC", [k]).df()
    finally:
        con.close()


def test_a_complementary_withheld_cell_is_not_called_fewer_than_k(client, warehouse_path):
    k = int(settings.get("suppression_k"))
    cells = _complementary_cells(warehouse_path, k)
    assert not cells.empty, "the fixture has complementary cells (withheld with n >= k)"
    names = lookups.district_names("public")
    deps = dash_http.dependencies(client)
    checked = 0
    for metric_id, part in cells.groupby("metric_id"):
        latest = repository.run("public/metric_map", metric=metric_id, grain="month")
        if latest.empty:
            continue
        chosen = part[(part["grain"] == "month") & (part["period"] == latest["period"].iloc[0])]
        if chosen.empty:
            continue
        for lang in ("en", "es"):
            _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"),
                                        [{"metric": metric_id, "lang": lang}])
            table = body["response"]["public-metric-table"]
            text = json.dumps(table, ensure_ascii=False)
            for district in chosen["district_id"]:
                row = re.search(re.escape(json.dumps(names[district], ensure_ascii=False)) + r'.{0,400}', text)
                assert row, district
                assert i18n.t("withheld", lang) in row.group(0)
            assert "fewer than" not in text and "menos de" not in text
            checked += 1
    assert checked, "a complementary cell in a published latest month"


def test_every_withheld_cell_reads_the_same_so_the_wording_tells_a_solver_nothing(client):
    """Small (primary) and complementary cells are indistinguishable on the page: one wording."""
    deps = dash_http.dependencies(client)
    wordings = set()
    for metric in ("satisfaction_score", "sr_opened", "missed_collections", "sr_closed_within_sla_pct"):
        _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"), [metric])
        out = body["response"]
        repository.run("public/metric_map", metric=metric, grain="month")
        for key in ("public-metric-table", "public-metric-series-table"):
            cells = re.findall(r'"children": "([^"]*)"', json.dumps(out[key], ensure_ascii=False))
            wordings |= {c for c in cells if "withheld" in c or "fewer" in c}
    assert wordings == {"withheld*"}


def test_the_methodology_page_explains_the_single_wording(client):
    page = _route(client, "/public/methodology")
    assert "Why every withheld figure reads the same" in page and "complementary" in page
    assert "Por qué todas las cifras ocultas se leen igual" in _route(client, "/public/methodology?lang=es")


# --------------------------------------------------------------------------- 7. sources, cards
def test_sources_are_shown_by_their_published_names_not_internal_ids(client):
    sources = repository.run("public/metrics")
    for row in sources.itertuples():
        if row.metric_id not in ("sr_opened", "bike_trips", "waste_tonnage_total"):
            continue
        page = _route(client, f"/public/metric/{row.metric_id}")
        assert row.source_name and row.source_name in page
        assert f"Source: {row.source}." not in page and f" {row.source}" not in page.split("Source:")[1][:200]
    methodology = _route(client, "/public/methodology")
    for source_id in set(sources["source"]):
        assert f"Source: {source_id}." not in methodology


def test_every_overview_card_is_a_link_over_the_whole_card(client):
    deps = dash_http.dependencies(client)
    _, body, text = dash_http.call(client, dash_http.find(deps, "public-kpis"), ["/public"], ["en"])
    cards = body["response"]["public-kpis"]["children"]
    assert cards
    for card in cards:
        link = json.dumps(card)
        assert "stretched-link" in link and "/public/metric/" in link.replace("\\u002f", "/")


# --------------------------------------------------------------------------- 2. locale
def test_spanish_figures_use_the_spanish_locale(client):
    deps = dash_http.dependencies(client)
    _, body, _ = dash_http.call(client, dash_http.find(deps, "public-metric-series"),
                                [{"metric": "bike_trips", "lang": "es"}])
    table = json.dumps(body["response"]["public-metric-series-table"], ensure_ascii=False)
    assert re.search(r'"\d{1,3}\.\d{3}"', table), "thousands with a point in Spanish"
    assert not re.search(r'"\d{1,3},\d{3}"', table)
    page = _route(client, "/public/metric/bike_trips?lang=es")
    assert '"locale": "es-es"' in page and '"decimal": ","' in page and '"enero"' in page
    axis = body["response"]["public-metric-series"]["figure"]["layout"]["yaxis"]["title"]["text"]
    assert axis == "viajes"


def test_a_city_adds_a_language_by_adding_a_file(tmp_path, monkeypatch):
    """A catalogue file is all a language needs: LANGS, numbers and dates follow its locale."""
    import importlib
    import shutil

    import data.i18n as module

    folder = tmp_path / "i18n"
    folder.mkdir()
    for name in ("__init__.py", "en.yaml", "es.yaml"):
        shutil.copy(module.FOLDER / name, folder / name)
    text = (module.FOLDER / "es.yaml").read_text(encoding="utf-8").replace("locale: es_ES", "locale: fr_FR", 1)
    (folder / "fr.yaml").write_text(text.replace("date_day: \"d 'de' MMMM 'de' y\"", "date_day: \"d MMMM y\"", 1),
                                    encoding="utf-8")
    spec = importlib.util.spec_from_file_location("i18n_copy", folder / "__init__.py")
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    assert copy.LANGS == ("en", "es", "fr")
    assert copy.date("2026-09-04", "fr") == "4 septembre 2026"
    assert copy.number(12345.5, ",.1f", "fr") == "12\u202f345,5"
    assert copy.plotly_config("fr")["locale"] == "fr-fr"
