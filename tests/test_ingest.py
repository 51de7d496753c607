"""Ingest adapters on the real NYC pack (data/samples/nyc), the generic YAML adapter, district
assignment, idempotency and the accounting invariant (read == loaded + quarantined)."""
from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from data import settings, warehouse
from data.ingest import IngestError, WarehouseStateError, load
from data.ingest.runner import run_file
from data.ingest.source import Source

ROOT = settings.ROOT
PACK = ROOT / "data" / "samples" / "nyc"
MAPPINGS = ROOT / "data" / "samples" / "mappings"
CORPUS = ROOT / "tests" / "ingest_corpus"
BOUNDARIES = ROOT / "data" / "boundaries" / "community_districts.geojson"
SHARED_PACK = Path("/work/shared/data/nyc")


def one(results):
    """The last LoadResult (the file asked for), after checking the invariant on all."""
    for r in results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined, r
        assert sum(r.reasons.values()) == r.rows_quarantined
    return results[-1]


def scalar(con, sql, params=None):
    return con.execute(sql, params or {}).fetchone()[0]


def check_batches(con):
    """Every finished batch: read == loaded + quarantined, and its quarantine rows match."""
    rows = con.execute("SELECT b.batch_id, rows_read, rows_loaded, rows_quarantined, "
                       "(SELECT count(*) FROM quarantine q WHERE q.batch_id = b.batch_id) "
                       "FROM load_batches b WHERE status = 'ok'").fetchall()
    assert rows
    for batch_id, read, loaded, quarantined, q in rows:
        assert read == loaded + quarantined, batch_id
        assert q == quarantined, batch_id


@pytest.fixture()
def con(tmp_path):
    """A fresh warehouse with the project's district boundaries loaded by the adapter."""
    c = warehouse.connect(tmp_path / "w.duckdb")
    one(load(c, "boundaries", BOUNDARIES, key="district_id"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def nyc(tmp_path_factory):
    """The whole sample pack loaded once with `nyc` (read-only use)."""
    path = tmp_path_factory.mktemp("nyc") / "w.duckdb"
    c = warehouse.connect(path)
    results = load(c, "nyc", PACK)
    yield c, {Path(r.file).name: r for r in results}
    c.close()


# ------------------------------------------------------------------------------ boundaries & population
def test_boundaries_adapter_loads_71_valid_districts(con):
    import shapely

    rows = con.execute("SELECT district_id, name, borough, population, area_km2, geometry, is_joint_area "
                       "FROM districts ORDER BY district_id").fetchall()
    assert len(rows) == 71
    assert sum(r[6] for r in rows) == 12
    by_id = {r[0]: r for r in rows}
    assert by_id["301"][1:4] == ("Brooklyn CD 1", "Brooklyn", 203002)
    assert by_id["101"][4] == pytest.approx(3.949, rel=0.05)   # recomputed from the simplified outline
    geoms = [shapely.geometry.shape(json.loads(r[5])) for r in rows]
    assert all(g.is_valid and not g.is_empty for g in geoms)


def test_boundaries_from_published_borocd_file_with_nyc_naming(tmp_path):
    src = SHARED_PACK / "community_districts.geojson"
    if not src.exists():
        pytest.skip("shared NYC pack not available")
    c = warehouse.connect(tmp_path / "w.duckdb")
    r = one(load(c, "boundaries", src, key="BoroCD", nyc=True, tolerance_m=30))
    assert (r.rows_read, r.rows_loaded) == (71, 71)
    assert scalar(c, "SELECT name FROM districts WHERE district_id = '311'") == "Brooklyn CD 11"
    assert scalar(c, "SELECT count(*) FROM districts WHERE is_joint_area") == 12
    # simplified: far fewer characters than the 3.7 MB source
    assert scalar(c, "SELECT sum(length(geometry)) FROM districts") < 600_000
    c.close()


def test_population_adapter_updates_districts_and_quarantines_joint_areas(con):
    con.execute("UPDATE districts SET population = NULL")
    r = one(load(con, "population", PACK / "nyc_cdta_demographics_acs2019_2023.csv"))
    assert r.rows_read == 71 and r.rows_loaded == 59
    assert r.reasons == {"joint interest area (no resident population)": 12}
    assert scalar(con, "SELECT population FROM districts WHERE district_id = '301'") == 203002
    assert scalar(con, "SELECT count(*) FROM districts WHERE population IS NULL") == 12


# ------------------------------------------------------------------------------ NYC adapters
def test_dsny_tonnage_streams_organics_and_first_of_month(con):
    r = one(load(con, "dsny", PACK / "dsny_monthly_tonnage_1990_2025.csv"))
    assert r.rows_read == 24647 and r.rows_quarantined == 0   # "1,114.2" style values parse
    rows = dict(con.execute("SELECT stream, tons FROM waste_tonnage WHERE day = DATE '2025-10-01' "
                            "AND district_id = '201'").fetchall())
    assert rows["refuse"] == pytest.approx(3352.0)
    assert rows["paper"] == pytest.approx(235.0)
    assert rows["mgp"] == pytest.approx(124.8)
    assert rows["organics"] == pytest.approx(16.7 + 85.9)
    assert scalar(con, "SELECT count(*) FROM waste_tonnage WHERE dayofmonth(day) <> 1") == 0
    assert scalar(con, "SELECT count(DISTINCT district_id) FROM waste_tonnage") == 59
    assert scalar(con, "SELECT min(since) FROM rollup_dirty") == datetime(1990, 1, 1)


def test_mta_goes_to_citywide_table_with_baseline(con):
    r = one(load(con, "mta", PACK / "mta_daily_ridership_2020_2024.csv"))
    assert (r.rows_read, r.rows_loaded) == (1706, 1706)
    assert scalar(con, "SELECT count(*) FROM transit_ridership") == 0
    row = con.execute("SELECT riders, unit, baseline_pct, baseline_riders FROM transit_ridership_city "
                      "WHERE day = DATE '2020-03-01' AND mode = 'subway'").fetchone()
    assert row == (2212965, "riders", 97.0, round(2212965 * 100 / 97))
    units = dict(con.execute("SELECT mode, any_value(unit) FROM transit_ridership_city GROUP BY 1").fetchall())
    assert units["bridges_tunnels"] == "vehicles" and units["access_a_ride"] == "trips"
    assert len(units) == 7


def test_traffic_counts_by_borough_and_with_segment_map(con):
    r = one(load(con, "traffic", PACK / "traffic_volume_counts_2024_sample.csv"))
    assert (r.rows_read, r.rows_loaded) == (5000, 5000)
    assert scalar(con, "SELECT count(*) FROM traffic_counts_borough") == 5000
    assert scalar(con, "SELECT count(*) FROM traffic_counts") == 0
    r = one(load(con, "traffic", CORPUS / "traffic_thousands.csv", segments=CORPUS / "traffic_segments.csv"))
    assert r.reasons == {"bad date: Yr/M/D/HH": 1, "duplicate row": 1}
    assert con.execute("SELECT district_id, sum(volume) FROM traffic_counts GROUP BY 1").fetchall() == [("408", 1312 + 1149)]
    assert scalar(con, "SELECT max(volume) FROM traffic_counts_borough WHERE segment_id = '9012153'") == 1503


def test_citibike_trips_point_in_polygon(con):
    r = one(load(con, "citibike", PACK / "citibike_trips_sample_2024-09.csv"))
    assert r.rows_read == 3000 and r.rows_loaded > 2900
    # first trip: Vernon Blvd & 50 Ave, Long Island City = Queens CD 2
    row = con.execute("SELECT district_id, rider_type FROM bike_trips "
                      "WHERE started_at = TIMESTAMP '2024-09-06 16:30:38.511'").fetchone()
    assert row == ("402", "member")


def test_gbfs_stations_nj_outside_and_status(con):
    info = PACK / "citibike_station_information_2024-10-02.json"
    status = PACK / "citibike_station_status_2024-10-02.json"
    r1 = one(load(con, "gbfs", info))
    assert (r1.rows_read, r1.rows_loaded) == (2226, 2143)
    assert r1.reasons == {"outside boundaries": 83}
    r2 = one(load(con, "gbfs", status))
    assert r2.reasons == {"outside boundaries": 83, "station not installed": 26, "occupancy above capacity": 1}
    assert r2.rows_loaded == 2226 - 110
    # last_updated 1727895686 = 2024-10-02 19:01:26 UTC = 15:01:26 in New York (EDT)
    assert con.execute("SELECT DISTINCT ts FROM bike_station_status").fetchall() == [(datetime(2024, 10, 2, 15, 1, 26),)]
    assert scalar(con, "SELECT count(*) FROM bike_station_status s JOIN bike_stations b USING (station_id) "
                       "WHERE s.district_id <> b.district_id OR s.capacity <> b.capacity") == 0
    nj = con.execute("SELECT raw FROM quarantine WHERE batch_id = $b AND reason = 'outside boundaries' LIMIT 1",
                     {"b": r1.batch_id}).fetchone()[0]
    lat, lon = float(json.loads(nj)["lat"]), float(json.loads(nj)["lon"])
    assert lon < -74.0 and 40.6 < lat < 40.8    # Jersey City / Hoboken


def test_nyc311_classic_export(con):
    r = one(load(con, "nyc311", PACK / "nyc311_animals_2025_sample.csv"))
    assert r.rows_read == 2000
    assert set(r.reasons) == {"unspecified community board"}
    # "3/14/2025 1:20", board "05 BROOKLYN"
    row = con.execute("SELECT created_at, district_id, category, status, channel FROM service_requests "
                      "WHERE request_id = '64345465'").fetchone()
    assert row == (datetime(2025, 3, 14, 1, 20), "305", "Animal-Abuse", "open", None)
    assert scalar(con, "SELECT count(*) FROM service_requests WHERE district_id IN ('481', '482')") > 0


def test_nyc311_full_animals_file_matches_readme(tmp_path):
    src = SHARED_PACK / "nyc311_animals_2025_sample.csv"
    if not src.exists():
        pytest.skip("shared NYC pack not available")
    c = warehouse.connect(tmp_path / "w.duckdb")
    load(c, "boundaries", BOUNDARIES, key="district_id")
    r = one(load(c, "nyc311", src))
    assert (r.rows_read, r.rows_loaded) == (4969, 4905)    # "4,905 match a district" (pack README)
    c.close()


def test_nyc311_api_export(con):
    r = one(load(con, "nyc311", PACK / "nyc311_sample_2019-12-31_1000rows.csv"))
    assert (r.rows_read, r.rows_loaded) == (1000, 987)
    assert r.reasons == {"unspecified community board": 13}   # "Unspecified BROOKLYN", "0 Unspecified", ...
    channels = dict(con.execute("SELECT coalesce(channel, '-'), count(*) FROM service_requests GROUP BY 1").fetchall())
    assert channels == {"phone": 475, "online": 230, "app": 221, "-": 61}   # UNKNOWN -> NULL
    row = con.execute("SELECT created_at, closed_at, district_id FROM service_requests WHERE request_id = '45278137'"
                      ).fetchone()
    assert row == (datetime(2019, 12, 31, 23, 59, 11), datetime(2020, 1, 1, 3, 7, 18), "315")


def test_parking_needs_precincts_and_codes_then_fines_by_area(con):
    violations = PACK / "parking_violations_fy2017_sample.csv"
    with pytest.raises(WarehouseStateError, match="precinct"):
        load(con, "parking", violations)
    assert scalar(con, "SELECT status FROM load_batches ORDER BY batch_id DESC LIMIT 1") == "failed"
    results = load(con, "parking", violations, precincts=PACK / "police_precincts.geojson",
                   codes=PACK / "dof_parking_violation_codes.csv")
    r = one(results)
    assert [x.adapter for x in results] == ["precincts", "parking-codes", "parking"]
    assert r.rows_read == 2099
    assert r.reasons == {"unknown precinct": 392, "precinct not in precinct map": 8}   # precinct 121 (2013)
    below = {row[0] for row in con.execute("SELECT precinct FROM precinct_districts WHERE manhattan_96_below").fetchall()}
    assert below == {"1", "5", "6", "7", "9", "10", "13", "14", "17", "18", "19", "20", "22"}
    assert scalar(con, "SELECT district_id FROM precinct_districts WHERE precinct = '75'") == "305"
    # code 38: $65 in Manhattan below 96th St (UES, 108), $35 elsewhere (Central Harlem, 110)
    fines = dict(con.execute("SELECT district_id, any_value(fine) FROM parking_citations WHERE violation_code = '38' "
                             "AND district_id IN ('108', '110') GROUP BY 1").fetchall())
    assert fines == {"108": 65.0, "110": 35.0}
    # summons 8519703471: 02/24/2017 "1250P" (12:50), precinct 19 (Upper East Side, 108), code 37
    assert con.execute("SELECT district_id, fine FROM parking_citations WHERE issued_at = TIMESTAMP '2017-02-24 12:50' "
                       "AND violation_code = '37'").fetchall() == [("108", 65.0)]
    assert scalar(con, "SELECT count(*) FROM parking_citations WHERE hour(issued_at) = 0") < r.rows_loaded / 10


def test_open311_georeport(con):
    r = one(load(con, "open311", CORPUS / "open311_requests.json", max_quarantined_share=1.0))
    assert r.rows_read == 9 and r.rows_loaded == 2
    assert r.reasons == {"outside boundaries": 1, "closed before created": 1, "bad value: status": 1,
                         "missing: service_request_id": 1, "bad date: requested_datetime": 1,
                         "missing coordinates": 1, "duplicate service_request_id": 1}
    row = con.execute("SELECT created_at, closed_at, due_at, status, district_id FROM service_requests "
                      "WHERE request_id = '638344'").fetchone()
    # 09:01 -05:00 = 10:01 New York time (EDT from 9 March 2025)
    assert row == (datetime(2025, 3, 13, 10, 1), datetime(2025, 3, 14, 10, 20), datetime(2025, 3, 20, 9, 1),
                   "closed", "105")


# ------------------------------------------------------------------------------ the whole pack
def test_nyc_pack_loads_every_file_and_registers_real_sources(nyc):
    c, results = nyc
    assert {r.status for r in results.values()} <= {"ok", "skipped"}
    assert results["mta_daily_ridership_dictionary.csv"].status == "skipped"
    assert results["community_districts.geojson"].rows_loaded == 71
    check_batches(c)
    sources = c.execute("SELECT source_id, simulated, licence, description FROM sources").fetchall()
    assert len(sources) == 12
    assert all(not s[1] and s[2] and len(s[3]) > 20 for s in sources)
    for table in ("waste_tonnage", "bike_trips", "bike_station_status", "service_requests", "parking_citations",
                  "transit_ridership_city", "traffic_counts_borough", "pedestrian_counts"):
        assert scalar(c, f"SELECT count(*) FROM {table}") > 0, table
    assert scalar(c, "SELECT count(*) FROM load_batches WHERE status <> 'ok'") == 0


def test_pedestrian_counts_wide_file_as_published(nyc):
    """114 count points, one column per session (may_07_am ... oct25_md, with the published
    'may_22_p_m' and 'june_24_am'); points on bridges lie outside every district."""
    c, results = nyc
    r = results["pedestrian_counts_biannual.csv"]
    assert (r.rows_read, r.rows_loaded, r.reasons) == (114, 101, {"outside boundaries": 13})
    quarantined = c.execute("SELECT file, line_no, raw FROM quarantine "
                            "WHERE source_id = 'nyc_dot_pedestrian_counts'").fetchall()
    lines = Path(quarantined[0][0]).read_text(encoding="utf-8").splitlines()
    assert all("Bridge" in lines[line_no - 1] for _f, line_no, _r in quarantined)
    # only the judged field (the point) is kept, not the street names of the row
    assert all(set(json.loads(raw)) == {"the_geom"} for _f, _l, raw in quarantined)
    # location 1 (Broadway, Bronx): cells of the published file, dated the 1st of their month
    got = dict(((str(d), s), n) for d, s, n in c.execute(
        "SELECT day, session, pedestrians FROM pedestrian_counts WHERE location_id = '1'").fetchall())
    assert got[("2007-05-01", "am")] == 1189 and got[("2007-09-01", "pm")] == 2646
    assert got[("2022-05-01", "pm")] == 2343 and got[("2024-06-01", "am")] == 901 and got[("2025-10-01", "md")] == 2473
    # 339 empty cells are "not counted": no row, no zero
    assert scalar(c, "SELECT count(*) FROM pedestrian_counts") == r.written["pedestrian_counts"] == 10_689
    assert scalar(c, "SELECT grain FROM sources WHERE source_id = 'nyc_dot_pedestrian_counts'") == "month"


@pytest.mark.parametrize("header, fragment", [
    ("the_geom,loc,may_07_am,dec_07_am", "count columns not understood"),
    ("the_geom,loc,borough", "no count columns"),
])
def test_pedestrian_file_with_unreadable_columns_is_a_clear_error(con, tmp_path, header, fragment):
    path = tmp_path / "peds.csv"
    path.write_text(header + "\n" + ",".join(['"POINT (-73.95 40.78)"', "1"] + ["5"] * (header.count(",") - 1)) + "\n")
    with pytest.raises(IngestError) as info:
        load(con, "pedestrians", path)
    assert fragment in str(info.value)
    assert scalar(con, "SELECT count(*) FROM pedestrian_counts") == 0


def test_pedestrian_rows_with_a_bad_point_or_count_are_quarantined(con, tmp_path):
    path = tmp_path / "peds.csv"
    path.write_text("the_geom,loc,may_07_am,sept_07_pm\n"
                    '"POINT (-73.9855 40.7580)",1,"1,200",300\n'      # Times Square: loaded, thousands comma
                    '"POINT (abc)",2,10,20\n'                          # malformed point
                    '"POINT (-73.9855 40.7580)",3,-5,20\n'             # negative count
                    '"POINT (-73.9855 40.7580)",4,12.5,20\n'           # not an integer
                    '"POINT (-73.9855 40.7580)",5,,\n')                # not counted: no rows
    r = one(load(con, "pedestrians", path, max_quarantined_share=1.0))
    assert r.rows_read == 5 and r.rows_loaded == 2
    assert r.reasons == {"bad number: the_geom": 1, "negative count": 1, "bad integer: may_07_am": 1}
    assert con.execute("SELECT location_id, day, session, pedestrians FROM pedestrian_counts ORDER BY 2").fetchall() == [
        ("1", date(2007, 5, 1), "am", 1200), ("1", date(2007, 9, 1), "pm", 300)]


def test_quarantine_entries_have_file_line_reason_and_raw_json(nyc):
    c, results = nyc
    rows = c.execute("SELECT file, line_no, reason, raw FROM quarantine WHERE file LIKE '%parking_violations%' "
                     "AND reason = 'unknown precinct' ORDER BY line_no LIMIT 3").fetchall()
    assert rows
    path = Path(rows[0][0])
    lines = path.read_text(encoding="utf-8").splitlines()
    for _file, line_no, _reason, raw in rows:
        values = json.loads(raw)  # the judged field only (issue 14: no plate, no other column)
        assert values == {"Violation Precinct": "0"}
        assert ",0," in lines[line_no - 1]
    assert scalar(c, "SELECT count(*) FROM quarantine WHERE file IS NULL OR line_no IS NULL OR raw IS NULL") == 0


def test_nyc_pack_second_run_changes_nothing(nyc):
    c, _ = nyc
    before = {t: scalar(c, f"SELECT count(*) FROM {t}") for t in
              ("waste_tonnage", "service_requests", "quarantine", "load_batches", "districts", "bike_stations")}
    again = load(c, "nyc", PACK)
    assert {r.status for r in again} <= {"unchanged", "skipped"}
    after = {t: scalar(c, f"SELECT count(*) FROM {t}") for t in before}
    assert after == before


# ------------------------------------------------------------------------------ idempotency and rollback
def test_reload_same_file_is_a_no_op_and_force_replaces(con):
    path = PACK / "dsny_monthly_tonnage_1990_2025.csv"
    first = one(load(con, "dsny", path))
    n = scalar(con, "SELECT count(*) FROM waste_tonnage")
    con.execute("UPDATE sources SET grain = 'hour' WHERE source_id = 'nyc_dsny_tonnage'")  # an older warehouse
    second = one(load(con, "dsny", path))
    assert second.status == "unchanged" and second.rows_read == 0
    # the source's metadata still comes from the code: monthly tonnage is monthly again
    assert scalar(con, "SELECT grain FROM sources WHERE source_id = 'nyc_dsny_tonnage'") == "month"
    assert scalar(con, "SELECT count(*) FROM waste_tonnage") == n
    assert scalar(con, "SELECT count(*) FROM load_batches") == 2     # boundaries + one dsny batch
    forced = one(load(con, "dsny", path, force=True))
    assert forced.replaced == n and forced.rows_loaded == first.rows_loaded
    assert scalar(con, "SELECT count(*) FROM waste_tonnage") == n
    assert scalar(con, "SELECT status FROM load_batches WHERE batch_id = $b", {"b": first.batch_id}) == "replaced"


def test_batch_replacement_statements_cover_every_fact_table():
    from data.ingest.tables import BATCH_MIN_TIME, BATCH_TABLES, DELETE_BATCH_ROWS

    assert {s.split()[2] for s in DELETE_BATCH_ROWS} == set(BATCH_TABLES)
    for table, column in BATCH_TABLES.items():
        assert f"min({column})" in BATCH_MIN_TIME and f"FROM {table} WHERE" in BATCH_MIN_TIME, table


def test_changed_file_at_same_path_replaces_its_rows(con, tmp_path):
    src = PACK / "nyc311_sample_2019-12-31_1000rows.csv"
    path = tmp_path / "export.csv"
    shutil.copyfile(src, path)
    one(load(con, "nyc311", path))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:501]), encoding="utf-8")          # a corrected, shorter export
    r = one(load(con, "nyc311", path))
    assert r.status == "ok" and r.rows_read == 500
    assert scalar(con, "SELECT count(*) FROM service_requests") == r.rows_loaded
    assert scalar(con, "SELECT count(*) FROM quarantine") == r.rows_quarantined


def test_same_request_in_a_later_export_updates_the_row(con, tmp_path):
    header = "unique_key,created_date,closed_date,complaint_type,descriptor,status,community_board,latitude,longitude\n"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(header + '"9","2025-01-02T10:00:00.000",,"Noise","x","Open","05 BROOKLYN",,\n')
    b.write_text(header + '"9","2025-01-02T10:00:00.000","2025-01-03T10:00:00.000","Noise","x","Closed","05 BROOKLYN",,\n')
    one(load(con, "nyc311", a))
    r = one(load(con, "nyc311", b))
    assert r.replaced == 1
    assert con.execute("SELECT status, closed_at FROM service_requests").fetchall() == [("closed", datetime(2025, 1, 3, 10))]


def test_failed_load_rolls_back_and_marks_batch_failed(con):
    source = Source("test_src", "test", "waste", "none", "test source")

    def load_then_fail(batch):
        batch.read_csv(["MONTH"])
        con.execute("INSERT INTO waste_tonnage VALUES (DATE '2025-01-01', '101', 'refuse', 1.0, 'test_src', $b)",
                    {"b": batch.batch_id})
        batch.quarantine_frame(__import__("pandas").DataFrame({"line": [2], "reason": ["x"], "raw": ["{}"]}))
        raise IngestError("something went wrong half way")

    with pytest.raises(IngestError, match="dsny_monthly.*half way"):
        run_file(con, "test", source, PACK / "dsny_monthly_tonnage_1990_2025.csv", load_then_fail)
    assert scalar(con, "SELECT count(*) FROM waste_tonnage") == 0
    assert scalar(con, "SELECT count(*) FROM quarantine") == 0
    assert scalar(con, "SELECT count(*) FROM ingest_files WHERE source_id = 'test_src'") == 0
    assert scalar(con, "SELECT count(*) FROM sources WHERE source_id = 'test_src'") == 0
    assert scalar(con, "SELECT status FROM load_batches ORDER BY batch_id DESC LIMIT 1") == "failed"
    # the failed file is not remembered as loaded: a retry loads it
    r = one(load(con, "dsny", PACK / "dsny_monthly_tonnage_1990_2025.csv", source_id="test_src"))
    assert r.status == "ok" and r.rows_loaded == 24647


def test_point_in_polygon_needs_districts(tmp_path):
    c = warehouse.connect(tmp_path / "empty.duckdb")
    with pytest.raises(WarehouseStateError, match="no districts"):
        load(c, "citibike", PACK / "citibike_trips_sample_2024-09.csv")
    c.close()


def test_open311_naive_and_utc_datetimes_become_city_time(con, tmp_path):
    path = tmp_path / "requests.json"
    path.write_text(json.dumps([
        {"service_request_id": "1", "status": "open", "service_name": "Noise",
         "requested_datetime": "2025-07-01T12:00:00Z", "lat": 40.7580, "long": -73.9855},
        {"service_request_id": "2", "status": "open", "service_name": "Noise",
         "requested_datetime": "2025-07-01T12:00:00", "lat": 40.7580, "long": -73.9855},
    ]))
    tz_before = scalar(con, "SELECT current_setting('TimeZone')")
    one(load(con, "open311", path, tz="America/New_York"))
    assert scalar(con, "SELECT current_setting('TimeZone')") == tz_before     # the session setting is restored
    got = dict(con.execute("SELECT request_id, created_at FROM service_requests").fetchall())
    assert got == {"1": datetime(2025, 7, 1, 8, 0), "2": datetime(2025, 7, 1, 12, 0)}   # EDT = UTC-4
    with pytest.raises(IngestError, match="unknown time zone"):
        load(con, "open311", path, tz="Mars/Olympus_Mons", force=True)
