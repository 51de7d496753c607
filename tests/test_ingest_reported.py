"""Issue 15: a department's own figures (reported measures) and tables by year or fiscal year.

The Trafford file under tests/ingest_corpus/real/ is real open data (see SOURCES.md), loaded
by its mapping only, with a known answer on the figure that reaches the public snapshot and
the API. Small CSVs written inside the tests are SYNTHETIC inputs for one rule each.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from data import settings, warehouse
from data.ingest import MappingError, load
from data.ingest.generic import Mapping

ROOT = settings.ROOT
REAL = ROOT / "tests" / "ingest_corpus" / "real"
TRAFFORD = REAL / "trafford_household_waste_recycling.csv"
TRAFFORD_MAP = REAL / "trafford_household_waste_recycling.yaml"


@pytest.fixture()
def bare(tmp_path):
    c = warehouse.connect(tmp_path / "bare.duckdb")
    yield c
    c.close()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def measure_mapping(**over) -> dict:
    doc = {"source": {"id": "t_rep", "name": "Test department figures", "licence": "synthetic",
                      "publisher": "Test Department"},
           "target": "reported_measures",
           "measure": {"id": "test_diversion_pct", "label": "Diversion rate", "unit": "%", "grain": "fiscal_year",
                       "fiscal_year_start": 7, "method": "Recycled tonnes / collected tonnes, as the department reports it."},
           "fields": {"period": "fy", "value": "rate"},
           "district": {"whole_city": True}}
    doc.update(over)
    return doc


def rows(con):
    return con.execute("SELECT label, period, value FROM reported_measures ORDER BY period").fetchall()


# ------------------------------------------------------------------------------ fiscal years
def test_a_wide_table_by_fiscal_year_is_unpivoted_with_the_fiscal_year_rule(bare, tmp_path):
    # SYNTHETIC: one column per fiscal year, named three ways; the year starts in July
    csv = write(tmp_path, "fy.csv", "Indicator,FY2021,FY 22,2022-23,2023/2024,FY2024-25\n"
                "Curbside diversion,17.4,17.0,17.9,18.2,\n")
    mp = write(tmp_path, "fy.yaml", json.dumps(measure_mapping(
        unpivot={"pattern": r"FY.*|\d{4}[-/]\d{2,4}", "name": "fy", "value": "rate"})))
    r = load(bare, "generic", csv, mapping=mp)[-1]
    assert (r.rows_read, r.rows_loaded) == (4, 4)   # the empty FY2024-25 is not reported
    assert rows(bare) == [("FY2020-21", date(2020, 7, 1), 17.4), ("FY2021-22", date(2021, 7, 1), 17.0),
                          ("FY2022-23", date(2022, 7, 1), 17.9), ("FY2023-24", date(2023, 7, 1), 18.2)]
    assert {d for (d,) in bare.execute("SELECT DISTINCT period_end - period FROM reported_measures").fetchall()} <= {365, 366}


def test_a_fiscal_year_that_is_not_one_is_quarantined_not_guessed(bare, tmp_path):
    # SYNTHETIC: "2023-25" spans two years; a bare "2024" does not say which fiscal year it is
    csv = write(tmp_path, "fy.csv", "fy,rate\n2022-23,17.9\n2023-25,18.0\n2024,18.5\n2021/22,17.0\n")
    r = load(bare, "generic", csv, mapping=write(tmp_path, "fy.yaml", json.dumps(measure_mapping())))[-1]
    assert r.rows_loaded == 2
    assert r.reasons == {"bad date: fy (not a fiscal year like FY2024 or 2023-24)": 2}


def test_calendar_years_and_a_january_fiscal_year(bare, tmp_path):
    # SYNTHETIC
    csv = write(tmp_path, "y.csv", "year,index\n2022,71.5\nCY2023,73\n")
    doc = measure_mapping(fields={"period": "year", "value": "index"})
    doc["measure"] = {"id": "test_satisfaction_index", "label": "Resident satisfaction index", "unit": "index",
                      "range": [0, 100], "grain": "year", "method": "The city's annual resident survey."}
    load(bare, "generic", csv, mapping=write(tmp_path, "y.yaml", json.dumps(doc)))
    assert rows(bare) == [("2022", date(2022, 1, 1), 71.5), ("2023", date(2023, 1, 1), 73.0)]


def test_a_yearly_total_cannot_feed_a_monthly_metric(bare, tmp_path):
    """A year's tonnage loaded into waste_tonnage would publish as one month's (issue 15)."""
    doc = {"source": {"id": "t_w", "grain": "fiscal_year"}, "target": "waste_tonnage",
           "fields": {"day": "fy", "stream": {"value": "refuse"}, "tons": "t"}, "district": {"column": "d"}}
    with pytest.raises(MappingError, match="target: reported_measures"):
        Mapping(doc)


# ------------------------------------------------------------------------------ unit and range
def test_a_percentage_above_100_is_quarantined_and_fractions_are_refused(bare, tmp_path):
    # SYNTHETIC: tonnes in a percentage measure; then a file of shares (0.62) given as %
    csv = write(tmp_path, "fy.csv", "fy,rate\n2021-22,58.8\n2022-23,50755\n2023-24,61.0\n")
    r = load(bare, "generic", csv, mapping=write(tmp_path, "fy.yaml", json.dumps(measure_mapping())))[-1]
    assert r.reasons == {"Diversion rate: above 100 %": 1}
    shares = write(tmp_path, "shares.csv", "fy,rate\n2021-22,0.588\n2022-23,0.61\n")
    with pytest.raises(MappingError, match="look like fractions.*unit: fraction"):
        load(bare, "generic", shares, mapping=write(tmp_path, "s.yaml", json.dumps(measure_mapping())))
    doc = measure_mapping(fields={"period": "fy", "value": {"column": "rate", "unit": "fraction"}})
    load(bare, "generic", shares, mapping=write(tmp_path, "s2.yaml", json.dumps(doc)), force=True)
    assert [v for _l, p, v in rows(bare) if p.year == 2022] == [pytest.approx(61.0)]


def test_a_rate_is_refused_as_a_tonnage_measure_and_ids_never_clash(tmp_path):
    doc = measure_mapping(fields={"period": "fy", "value": "diversion_rate"})
    doc["measure"] = {**doc["measure"], "unit": "t", "id": "test_tonnes"}
    with pytest.raises(MappingError, match="looks like a rate or index, not tonnes"):
        Mapping(doc)
    doc = measure_mapping()
    doc["measure"] = {**doc["measure"], "id": "recycling_diversion_pct"}
    with pytest.raises(MappingError, match="is a metric the dashboard computes"):
        Mapping(doc)
    with pytest.raises(MappingError, match="fiscal_year_start is required"):
        Mapping(measure_mapping(measure={k: v for k, v in measure_mapping()["measure"].items()
                                         if k != "fiscal_year_start"}))


def test_the_same_measure_id_from_another_source_stops_the_load(bare, tmp_path):
    csv = write(tmp_path, "fy.csv", "fy,rate\n2021-22,58.8\n")
    load(bare, "generic", csv, mapping=write(tmp_path, "a.yaml", json.dumps(measure_mapping())))
    other = measure_mapping()
    other["source"] = {**other["source"], "id": "t_other"}
    with pytest.raises(MappingError, match="already reported by source 't_rep'"):
        load(bare, "generic", csv, mapping=write(tmp_path, "b.yaml", json.dumps(other)))


# ------------------------------------------------------------------------------ the real Trafford file
def test_trafford_rates_by_financial_year_load_and_tonnage_rows_are_not_the_measure(bare, tmp_path):
    """DEFRA's ENV18 figures for Trafford: 12 percentages by UK financial year (April), and 8
    tonnage rows of the same indicator, excluded by the mapping. Without that exclusion the
    tonnages (43,481 ... 50,939) are quarantined as above 100 %, never published as a rate."""
    r = load(bare, "generic", TRAFFORD, mapping=TRAFFORD_MAP)[-1]
    assert (r.rows_read, r.rows_loaded) == (20, 12)
    assert r.reasons == {"excluded by the mapping: measure not Percentage": 8}
    got = rows(bare)
    assert got[0] == ("FY2010-11", date(2010, 4, 1), 40.8) and got[-1] == ("FY2021-22", date(2021, 4, 1), 58.8)
    doc = Mapping.load(TRAFFORD_MAP).doc
    del doc["keep_rows"]
    doc["dedup"] = []
    doc["source"] = {**doc["source"], "id": "trafford_unfiltered"}
    doc["measure"] = {**doc["measure"], "id": "trafford_unfiltered_pct"}
    r = load(bare, "generic", TRAFFORD, mapping=write(tmp_path, "t.yaml", json.dumps(doc)))[-1]
    assert r.rows_loaded == 12
    assert r.reasons == {"Household waste sent for reuse, recycling or composting: above 100 %": 8}


def _trafford_published(tmp_path_factory, name: str, now: datetime):
    """The real Trafford file as the whole city, published with the data clock at `now` into
    its own var dir (a copy of the test ops store); yields the var dir."""
    import sqlite3

    from data import ops_store, publish, repository, snapshot

    var = tmp_path_factory.mktemp(name)
    with sqlite3.connect(settings.var_dir() / ops_store.FILE) as old, sqlite3.connect(var / ops_store.FILE) as new:
        old.backup(new)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYOPS_VAR_DIR", str(var))
        con = warehouse.connect(warehouse.path())
        try:
            load(con, "generic", TRAFFORD, mapping=TRAFFORD_MAP)
            publish.publish(con, now=now)
        finally:
            con.close()
        snapshot.reset()
        repository.clear_cache()
        yield var
    snapshot.reset()
    repository.clear_cache()


@pytest.fixture(scope="module")
def trafford_site(tmp_path_factory, published, accounts):
    """The real Trafford file as the whole city, published after its last fiscal year ended."""
    yield from _trafford_published(tmp_path_factory, "trafford-site", datetime(2023, 6, 1))


def test_trafford_rate_reaches_the_public_snapshot_api_and_methodology_as_reported(trafford_site, anon_client):
    from data import snapshot
    from tests import dash_http

    with snapshot.cursor("public") as (cur, _v):
        got = cur.execute("SELECT label, value, district_id FROM reported_measures WHERE period = DATE '2021-04-01'"
                          ).fetchall()
    assert got == [("FY2021-22", 58.8, "city")]
    doc = anon_client.get("/public/api/v1/metrics").get_json()
    entry = next(m for m in doc["metrics"] if m["metric_id"] == "household_waste_recycled_pct")
    assert entry["aggregate"] == "reported" and entry["grains"] == "fiscal_year" and entry["unit"] == "%"
    assert entry["publisher"] == "Department for Environment, Food & Rural Affairs (DEFRA), via Trafford Data Lab"
    assert entry["licence"] == "Open Government Licence v3.0"
    assert entry["method"].startswith("Computed by DEFRA from WasteDataFlow returns")
    assert entry["latest_label"] == "FY2021-22"
    assert anon_client.get("/public/api/v1/metrics/household_waste_recycled_pct").status_code == 200
    values = anon_client.get("/public/api/v1/metrics/household_waste_recycled_pct/values").get_json()
    assert values["reported"] is True and len(values["values"]) == 12
    last = values["values"][-1]
    assert (last["period"], last["period_end"], last["period_label"], last["value"]) == (
        "2021-04-01", "2022-04-01", "FY2021-22", 58.8)
    assert anon_client.get("/public/api/v1/metrics/household_waste_recycled_pct/values?grain=month").status_code == 400
    assert anon_client.get("/public/api/v1/metrics/no_such_measure/values").status_code == 404
    _, text = dash_http.route(anon_client, "/public/methodology")
    assert "Figures reported by departments" in text
    assert "Latest reported: 58.8 % (FY2021-22)." in text
    assert "Reported by fiscal year (starting in April)." in text
    assert "published by Department for Environment, Food" in text
    # the overview headlines it as reported (not "nothing published": this city has no computed metric)
    deps = dash_http.dependencies(anon_client)
    status, body, _ = dash_http.call(anon_client, dash_http.find(deps, "public-kpis"), ["/public"], ["en"])
    body = json.dumps(body, ensure_ascii=False)
    assert status == 200 and "Nothing is published here yet" not in body
    assert "58.8 % in FY2021-22, as reported by Department for Environment, Food & Rural Affairs (DEFRA)" in body


# ------------------------------------------------------------------------------ a period not over yet
@pytest.fixture(scope="module")
def trafford_mid_year_site(tmp_path_factory, published, accounts):
    """The real Trafford file published with the data clock on 15 January 2022: FY2021-22 (April
    2021 - March 2022) is in the file but not over, as a department's year-to-date figure is."""
    yield from _trafford_published(tmp_path_factory, "trafford-mid-year", datetime(2022, 1, 15))


def test_a_fiscal_year_not_over_is_marked_partial_and_never_headlined(trafford_mid_year_site, anon_client):
    from data import snapshot
    from tests import dash_http

    with snapshot.cursor("public") as (cur, _v):
        got = cur.execute("SELECT label, value, partial FROM reported_measures ORDER BY period DESC LIMIT 2").fetchall()
    assert got == [("FY2021-22", 58.8, True), ("FY2020-21", 53.3, False)]
    doc = anon_client.get("/public/api/v1/metrics").get_json()
    entry = next(m for m in doc["metrics"] if m["metric_id"] == "household_waste_recycled_pct")
    assert entry["grains"] == "fiscal_year"
    assert (entry["latest_label"], entry["latest_value"]) == ("FY2020-21", 53.3)   # not the year to date
    values = anon_client.get("/public/api/v1/metrics/household_waste_recycled_pct/values").get_json()["values"]
    assert [(v["period_label"], v["partial"]) for v in values[-2:]] == [("FY2020-21", False), ("FY2021-22", True)]
    _, text = dash_http.route(anon_client, "/public/methodology")
    assert "Latest reported: 53.3 % (FY2020-21)." in text
    assert "FY2021-22 is not over yet: its figure is partial" in text
    assert "Latest reported: 58.8 %" not in text
    deps = dash_http.dependencies(anon_client)
    status, body, _ = dash_http.call(anon_client, dash_http.find(deps, "public-kpis"), ["/public"], ["en"])
    body = json.dumps(body, ensure_ascii=False)
    assert status == 200 and "53.3 % in FY2020-21" in body and "58.8 %" not in body


# ------------------------------------------------------------------------------ a single snapshot
@pytest.fixture(scope="module")
def one_poll_site(tmp_path_factory, published, accounts):
    """The first real Melbourne poll only (40 bays at 11:18 on 8 September 2018), published."""
    import sqlite3

    from data import ops_store, publish, repository, snapshot

    var = tmp_path_factory.mktemp("one-poll-site")
    with sqlite3.connect(settings.var_dir() / ops_store.FILE) as old, sqlite3.connect(var / ops_store.FILE) as new:
        old.backup(new)
    first = sorted(REAL.glob("melbourne_bay_sensors_*.csv"))[0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYOPS_VAR_DIR", str(var))
        con = warehouse.connect(warehouse.path())
        try:
            load(con, "grid", first, point="location", cell_km=1.0)
            load(con, "generic", first, mapping=REAL / "melbourne_bay_sensors.yaml", tz="Australia/Melbourne")
            publish.publish(con, now=datetime(2018, 9, 9))
        finally:
            con.close()
        snapshot.reset()
        repository.clear_cache()
        yield var
    snapshot.reset()
    repository.clear_cache()


def test_a_single_snapshot_is_explained_on_the_public_overview(one_poll_site, anon_client):
    """One poll is no published period: the overview says so, with the reading's time (was: an
    empty overview with no word of why)."""
    from tests import dash_http

    deps = dash_http.dependencies(anon_client)
    for lang, fragment in (("en", "City of Melbourne on-street parking bay sensors: one reading so far, taken "
                                  "08 September 2018 11:18. A trend appears after the next reading"),
                           ("es", "una sola lectura por ahora, tomada el 8 de septiembre de 2018 11:18")):
        status, body, _ = dash_http.call(anon_client, dash_http.find(deps, "public-kpis"), ["/public"], [lang])
        assert status == 200
        assert fragment in json.dumps(body, ensure_ascii=False)
        assert "kpi-card kpi-card--" not in str(body)


# ------------------------------------------------------------------------------ two boundary layers
def _square(x, y, size=0.1):
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def test_each_source_places_its_rows_in_one_boundary_layer(bare, tmp_path):
    """SYNTHETIC: wards W1/W2 and, over the same ground, neighbourhoods A:N1 (layer 'A'). A
    point used to go to whichever id sorts first ('A:N1' < 'W1'), so the ward layer silently
    lost every row; now a source names its layer (district.layer) and the base layer is the
    default."""
    def layer(name, ids):
        return write(tmp_path, name, json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": i}, "geometry": {"type": "Polygon", "coordinates": _square(x, 0.5)}}
            for i, x in ids]}))
    load(bare, "boundaries", layer("wards.geojson", [("W1", 0.5), ("W2", 0.6)]), key="id", tolerance_m=0)
    load(bare, "boundaries", layer("nbhd.geojson", [("N1", 0.5)]), key="id", layer="A", tolerance_m=0)
    csv = write(tmp_path, "bins.csv", "ts,bin,fill,lon,lat,code\n2025-03-01 10:00,b1,50,0.55,0.55,N1\n"
                "2025-03-01 10:00,b2,70,0.65,0.55,N1\n")
    doc = {"source": {"id": "t_bins"}, "target": "bin_fill", "fields": {"ts": "ts", "bin_id": "bin", "fill_pct": "fill"},
           "district": {"lon": "lon", "lat": "lat"}}
    load(bare, "generic", csv, mapping=write(tmp_path, "a.yaml", json.dumps(doc)))
    assert bare.execute("SELECT bin_id, district_id FROM bin_fill ORDER BY 1").fetchall() == [("b1", "W1"), ("b2", "W2")]
    doc["source"] = {"id": "t_bins_nbhd"}
    doc["district"] = {"lon": "lon", "lat": "lat", "layer": "A"}
    r = load(bare, "generic", csv, mapping=write(tmp_path, "b.yaml", json.dumps(doc)), max_quarantined_share=1.0)[-1]
    assert r.reasons == {"outside boundaries": 1}   # b2 lies in no neighbourhood, not in a ward instead
    assert bare.execute("SELECT bin_id, district_id FROM bin_fill WHERE source_id = 't_bins_nbhd'").fetchall() == [
        ("b1", "A:N1")]
    # by key: the layer's own ids ("N1" -> "A:N1")
    doc["source"] = {"id": "t_bins_key"}
    doc["district"] = {"column": "code", "layer": "A"}
    load(bare, "generic", csv, mapping=write(tmp_path, "c.yaml", json.dumps(doc)))
    assert {d for (d,) in bare.execute("SELECT district_id FROM bin_fill WHERE source_id = 't_bins_key'").fetchall()} == {"A:N1"}
    doc["district"] = {"lon": "lon", "lat": "lat", "layer": "B"}
    doc["source"] = {"id": "t_bins_b"}
    with pytest.raises(Exception, match="no districts in layer 'B' \\(layers: A\\)"):
        load(bare, "generic", csv, mapping=write(tmp_path, "d.yaml", json.dumps(doc)))

