"""Issue 15: any city's own data by a YAML mapping, and never a silent wrong number.

Small CSVs written inside the tests are SYNTHETIC inputs for one rule each (labelled so);
the files under tests/ingest_corpus/real/ are real open data (see SOURCES.md), loaded by a
mapping only, with a known answer on the published figure.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from data import settings, warehouse
from data.ingest import MappingError, QuarantineShareError, load
from data.ingest.__main__ import main
from data.ingest.generic import Mapping

ROOT = settings.ROOT
REAL = ROOT / "tests" / "ingest_corpus" / "real"
BOUNDARIES = ROOT / "data" / "boundaries" / "community_districts.geojson"


@pytest.fixture()
def con(tmp_path):
    c = warehouse.connect(tmp_path / "w.duckdb")
    load(c, "boundaries", BOUNDARIES, key="district_id")
    yield c
    c.close()


@pytest.fixture()
def bare(tmp_path):
    """A warehouse with no districts at all (a new city)."""
    c = warehouse.connect(tmp_path / "bare.duckdb")
    yield c
    c.close()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def sr_mapping(**over) -> dict:
    doc = {"source": {"id": "t_sr", "name": "Test requests", "licence": "synthetic"},
           "target": "service_requests",
           "fields": {"request_id": "id", "created_at": "opened", "category": "type", "status": "state"},
           "district": {"column": "district"}}
    for key, value in over.items():
        doc[key] = value
    return doc


# ------------------------------------------------------------------------------ never a silent wrong number
def test_a_load_that_quarantines_every_row_fails_with_reasons_and_a_date_format_hint(con, tmp_path, capsys):
    # SYNTHETIC: US spreadsheet dates (m/d/yy H:MM) and no timestamp_format in the mapping
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\n"
                + "".join(f"R{i},3/{i + 1}/25 9:05,Noise,Open,105\n" for i in range(5)))
    mapping = write(tmp_path, "sr.yaml", json.dumps(sr_mapping()))
    rc = main(["generic", str(csv), "--mapping", str(mapping), "--db", str(tmp_path / "w.duckdb"), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2
    line = next(x for x in err.splitlines() if x.startswith("error:"))
    assert "every row quarantined" in line and "date out of range (5)" in line   # read as the year 25
    assert 'timestamp_format' in line and "%m/%d/%y %H:%M" in line
    assert con.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0
    # fixed mapping: the same file loads (it was not recorded as loaded)
    mapping.write_text(json.dumps(sr_mapping(timestamp_format="%m/%d/%y %H:%M")))
    assert main(["generic", str(csv), "--mapping", str(mapping), "--db", str(tmp_path / "w.duckdb"), "--quiet"]) == 0


def test_more_than_half_quarantined_fails_unless_the_share_is_allowed(con, tmp_path):
    # SYNTHETIC: 3 of 4 rows have an unknown status
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\nA,2025-03-01 10:00,Noise,Open,105\n"
                "B,2025-03-01 10:00,Noise,Wibble,105\nC,2025-03-01 10:00,Noise,Wibble,105\n"
                "D,2025-03-01 10:00,Noise,Wibble,105\n")
    with pytest.raises(QuarantineShareError, match=r"3 of 4 rows \(75 %, more than 50 %\).*bad value: state \(3\)"):
        load(con, "generic", csv, mapping=Mapping(sr_mapping()))
    assert con.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0
    r = load(con, "generic", csv, mapping=Mapping(sr_mapping(max_quarantined_share=0.8)))[-1]
    assert (r.rows_loaded, r.rows_quarantined) == (1, 3)


def test_key_districting_before_boundaries_fails_and_loads_after_them(bare, tmp_path):
    # SYNTHETIC: a district key, but the warehouse has no districts yet
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\nA,2025-03-01 10:00,Noise,Open,105\n"
                "B,2025-03-02 10:00,Noise,Open,301\n")
    mp = Mapping(sr_mapping())
    with pytest.raises(QuarantineShareError, match="load boundaries first"):
        load(bare, "generic", csv, mapping=mp)
    load(bare, "boundaries", BOUNDARIES, key="district_id")
    r = load(bare, "generic", csv, mapping=mp)[-1]
    assert r.status == "ok" and r.rows_loaded == 2   # not "already loaded, nothing to do"


def test_a_recorded_load_that_loaded_nothing_is_not_unchanged(bare, tmp_path):
    """A warehouse from before this rule may hold an 'ok' load with 0 rows loaded: loading the
    same file again after fixing the cause loads it."""
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\nA,2025-03-01 10:00,Noise,Open,105\n")
    mp = Mapping(sr_mapping(max_quarantined_share=1.0))
    with pytest.raises(QuarantineShareError):
        load(bare, "generic", csv, mapping=mp)
    load(bare, "boundaries", BOUNDARIES, key="district_id")
    assert load(bare, "generic", csv, mapping=mp)[-1].rows_loaded == 1
    assert load(bare, "generic", csv, mapping=mp)[-1].status == "unchanged"


def test_impossible_coordinates_are_quarantined_even_with_a_district_key(con, tmp_path):
    # SYNTHETIC: the key places every row; the points of B and C are impossible
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district,lat,lon\n"
                "A,2025-03-01 10:00,Noise,Open,105,40.758,-73.9855\nB,2025-03-01 10:00,Noise,Open,105,407.58,-73.98\n"
                "C,2025-03-01 10:00,Noise,Open,105,0,0\nD,2025-03-01 10:00,Noise,Open,105,,\n")
    doc = sr_mapping()
    doc["fields"].update(lat="lat", lon="lon")
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.reasons == {"bad coordinates": 2}
    assert sorted(x[0] for x in con.execute("SELECT request_id FROM service_requests").fetchall()) == ["A", "D"]
    # the same through the district point (x/y) with a key
    doc = sr_mapping()
    doc["district"] = {"column": "district", "lon": "lon", "lat": "lat"}
    r = load(con, "generic", csv, mapping=Mapping(doc), force=True)[-1]
    assert r.reasons == {"bad coordinates": 2}


def test_a_channel_outside_the_vocabulary_is_quarantined_or_emptied_as_the_mapping_says(con, tmp_path):
    # SYNTHETIC: request channels as one city's CRM writes them
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district,how\n"
                "A,2025-03-01 10:00,Noise,Open,105,Phone\nB,2025-03-01 10:00,Noise,Open,105,Walk-in\n"
                "C,2025-03-01 10:00,Noise,Open,105,Counter\nD,2025-03-01 10:00,Noise,Open,105,Web\n")
    doc = sr_mapping(max_quarantined_share=1.0)
    doc["fields"]["channel"] = "how"
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.reasons == {"bad value: how (not phone/online/app)": 2}
    doc["fields"]["channel"] = {"column": "how", "map": {"Walk-in": "phone"}, "unmapped": "null"}
    load(con, "generic", csv, mapping=Mapping(doc), force=True)
    got = dict(con.execute("SELECT request_id, channel FROM service_requests").fetchall())
    assert got == {"A": "phone", "B": "phone", "C": None, "D": "online"}


@pytest.mark.parametrize("value,expected", [
    ("2025-03-14T13:20:00Z", datetime(2025, 3, 14, 9, 20)),        # UTC -> New York (EDT)
    ("2025-03-14T13:20:00+01:00", datetime(2025, 3, 14, 8, 20)),
    ("2025-03-14 13:20:00", datetime(2025, 3, 14, 13, 20)),         # naive: city time
])
def test_generic_honours_utc_offsets_and_z(con, tmp_path, value, expected):
    csv = write(tmp_path, "sr.csv", f"id,opened,type,state,district\nA,{value},Noise,Open,105\n")
    load(con, "generic", csv, mapping=Mapping(sr_mapping()))
    assert con.execute("SELECT created_at FROM service_requests").fetchone()[0] == expected


def test_mapping_timezone_converts_naive_times_and_offsets_still_win(con, tmp_path):
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\nA,2025-03-14 13:20:00,Noise,Open,105\n"
                "B,2025-03-14T13:20:00-04:00,Noise,Open,105\n")
    load(con, "generic", csv, mapping=Mapping(sr_mapping(timezone="UTC")))
    got = dict(con.execute("SELECT request_id, created_at FROM service_requests").fetchall())
    assert got == {"A": datetime(2025, 3, 14, 9, 20), "B": datetime(2025, 3, 14, 13, 20)}
    with pytest.raises(MappingError, match="timezone: unknown time zone 'Mars/Olympus'"):
        Mapping(sr_mapping(timezone="Mars/Olympus"))


def waste_doc(**fields) -> dict:
    return {"source": {"id": "t_waste", "grain": "month"}, "target": "waste_tonnage", "date_format": "%Y-%m",
            "fields": {"day": "month", "stream": {"value": "paper"}, **fields}, "district": {"column": "district"}}


def test_a_percentage_is_refused_as_tonnes(con, tmp_path):
    """A department's diversion rate loaded as 'paper tonnes' would publish '100 % diverted'."""
    with pytest.raises(MappingError, match=r"fields.tons: column 'diversion_rate_pct' looks like a rate"):
        Mapping(waste_doc(tons="diversion_rate_pct"))
    with pytest.raises(MappingError, match=r"fields.tons: unit '%' cannot be converted to t"):
        Mapping(waste_doc(tons={"column": "diversion", "unit": "%"}))
    # a real unit converts: pounds -> tonnes
    csv = write(tmp_path, "w.csv", "month,district,paper_lb\n2025-01,105,2204.62262\n")
    load(con, "generic", csv, mapping=Mapping(waste_doc(tons={"column": "paper_lb", "unit": "lb"})))
    assert con.execute("SELECT round(tons, 4) FROM waste_tonnage").fetchone()[0] == 1.0


def test_projected_polygons_without_a_crs_give_one_line_naming_crs(bare, tmp_path, capsys):
    # SYNTHETIC: a square in NY State Plane feet (EPSG:2263) with no crs member
    ring = [[988000, 215000], [989000, 215000], [989000, 216000], [988000, 216000], [988000, 215000]]
    gj = write(tmp_path, "d.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"district_id": "1"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    rc = main(["boundaries", str(gj), "--db", str(tmp_path / "bare.duckdb"), "--quiet"])
    _, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in err
    line = [x for x in err.splitlines() if x.strip()]
    assert len(line) == 1 and "--crs" in line[0] and "not lon/lat" in line[0]
    assert main(["boundaries", str(gj), "--db", str(tmp_path / "bare.duckdb"), "--quiet", "--crs", "EPSG:2263"]) == 0


# ------------------------------------------------------------------------------ shapes a mapping expresses
def test_map_text_status_to_numbers(con, tmp_path):
    # SYNTHETIC: a bay sensor's status
    csv = write(tmp_path, "bays.csv", "ts,bay,status,district\n2025-03-01 10:00,1,occupied,105\n"
                "2025-03-01 10:00,2,vacant,105\n2025-03-01 10:00,3,unknown,105\n")
    doc = {"source": {"id": "t_bays"}, "target": "parking_occupancy", "max_quarantined_share": 1.0,
           "fields": {"ts": "ts", "facility_id": "bay", "capacity": {"value": 1},
                      "occupied": {"column": "status", "map": {"occupied": 1, "vacant": 0}}},
           "district": {"column": "district"}}
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.reasons == {"bad value: status": 1}
    assert dict(con.execute("SELECT facility_id, occupied FROM parking_occupancy").fetchall()) == {"1": 1, "2": 0}
    doc["fields"]["occupied"]["map"] = {"occupied": "yes"}
    with pytest.raises(MappingError, match="fields.occupied.map: 'occupied' -> 'yes': occupied is a number"):
        Mapping(doc)


def test_arithmetic_transforms_compile_with_bound_literals(con, tmp_path):
    # SYNTHETIC: a bin sensor that reports the space left, and a fill ratio
    csv = write(tmp_path, "bins.csv", "ts,bin,left_pct,district\n2025-03-01 10:00,1,20,105\n"
                "2025-03-01 11:00,1,x,105\n2025-03-01 12:00,1,130,105\n")
    doc = {"source": {"id": "t_bins"}, "target": "bin_fill", "max_quarantined_share": 1.0,
           "fields": {"ts": "ts", "bin_id": "bin", "fill_pct": {"expr": "100 - left_pct"}},
           "district": {"column": "district"}}
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.reasons == {"bad number: 100 - left_pct": 1, "fill level out of range": 1}
    assert con.execute("SELECT fill_pct FROM bin_fill").fetchall() == [(80.0,)]


@pytest.mark.parametrize("expr,fragment", [
    ("100 - x; DROP TABLE districts", "cannot read ';"),
    ("x' OR '1'='1", "cannot read"),
    ("system(x)", "unknown function 'system'"),
    ("read_csv(x)", "unknown function 'read_csv'"),
    ("(x + 1", "expected ')'"),
    ("x +", "expected a number"),
    ("nosuchcolumn * 2", "column 'nosuchcolumn'"),
    ("42", "uses no column"),
])
def test_transforms_reject_anything_but_the_grammar(con, tmp_path, expr, fragment):
    csv = write(tmp_path, "bins.csv", "ts,bin,x,district\n2025-03-01 10:00,1,20,105\n")
    doc = {"source": {"id": "t_bins"}, "target": "bin_fill",
           "fields": {"ts": "ts", "bin_id": "bin", "fill_pct": {"expr": expr}}, "district": {"column": "district"}}
    with pytest.raises(MappingError, match="fields.fill_pct") as info:
        load(con, "generic", csv, mapping=Mapping(doc))
    assert fragment in str(info.value)
    assert con.execute("SELECT count(*) FROM districts").fetchone()[0] == 71


def test_expressions_divide_and_use_bracketed_columns(con, tmp_path):
    csv = write(tmp_path, "p.csv", "ts,lot,Spaces Used,Spaces,district\n2025-03-01 10:00,L1,30,40,105\n"
                "2025-03-01 10:00,L2,5,0,105\n")
    doc = {"source": {"id": "t_lots"}, "target": "bin_fill", "max_quarantined_share": 1.0,
           "fields": {"ts": "ts", "bin_id": "lot", "fill_pct": {"expr": "round(100 * [Spaces Used] / Spaces, 1)"}},
           "district": {"column": "district"}}
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.reasons == {"bad number: round(100 * [Spaces Used] / Spaces, 1)": 1}   # 5 / 0
    assert con.execute("SELECT fill_pct FROM bin_fill").fetchall() == [(75.0,)]


@pytest.mark.parametrize("fmt,value", [
    ("lat,lon", "(40.7580, -73.9855)"),
    ("lat,lon", "40.7580, -73.9855"),
    ("wkt", "POINT (-73.9855 40.7580)"),
    ("lon,lat", "-73.9855 40.7580"),
])
def test_coordinates_in_one_field(con, tmp_path, fmt, value):
    csv = write(tmp_path, "sr.csv", f'id,opened,type,state,where\nA,2025-03-01 10:00,Noise,Open,"{value}"\n'
                'B,2025-03-01 10:00,Noise,Open,"somewhere"\n')
    doc = sr_mapping(max_quarantined_share=1.0)
    doc["fields"].update(lat={"column": "where", "coordinate": "lat", "point_format": fmt},
                         lon={"column": "where", "coordinate": "lon", "point_format": fmt})
    doc["district"] = {"point": "where", "point_format": fmt}
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.rows_loaded == 1 and r.reasons == {"bad number: where": 1}
    assert con.execute("SELECT district_id, lat, lon FROM service_requests").fetchone() == ("105", 40.758, -73.9855)


def test_whole_city_district_for_a_city_without_boundaries(bare, tmp_path):
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,lat,lon\nA,2025-03-01 10:00,Noise,Open,-37.81,144.96\n"
                "B,2025-03-01 11:00,Noise,Open,-37.82,144.97\n")
    doc = sr_mapping()
    doc["district"] = {"whole_city": True, "lon": "lon", "lat": "lat"}
    r = load(bare, "generic", csv, mapping=Mapping(doc))[-1]
    assert r.rows_loaded == 2
    assert bare.execute("SELECT district_id, name FROM districts").fetchall() == [("all", "Whole city")]
    assert bare.execute("SELECT DISTINCT district_id FROM service_requests").fetchall() == [("all",)]


@pytest.mark.parametrize("shape,cell_area", [("hex", 0.866), ("square", 1.0)])
def test_generated_grid_covers_the_points(bare, tmp_path, shape, cell_area):
    csv = write(tmp_path, "pts.csv", "lat,lon\n-37.80,144.94\n-37.83,144.98\n")
    r = load(bare, "grid", csv, lat="lat", lon="lon", shape=shape, cell_km=1.0)[-1]
    n, area = bare.execute("SELECT count(*), min(area_km2) FROM districts").fetchone()
    assert r.rows_loaded == n and n >= 12 and abs(area - cell_area) < 0.01
    from data.ingest.geo import DistrictIndex

    index = DistrictIndex.from_warehouse(bare)
    assert index.locate_one(144.94, -37.80) is not None and index.locate_one(144.98, -37.83) is not None


def _square(x0, y0, d=0.01):
    return [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]]


def test_several_polygons_per_district_are_dissolved(bare, tmp_path):
    gj = write(tmp_path, "d.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ward": "1"}, "geometry": {"type": "Polygon", "coordinates": _square(0.5, 0.5)}},
        {"type": "Feature", "properties": {"ward": "1"}, "geometry": {"type": "Polygon", "coordinates": _square(0.6, 0.5)}},
        {"type": "Feature", "properties": {"ward": "2"}, "geometry": {"type": "Polygon", "coordinates": _square(0.7, 0.5)}}]}))
    r = load(bare, "boundaries", gj, key="ward", dissolve=True, tolerance_m=0)[-1]
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 3, 0)
    from data.ingest.geo import DistrictIndex

    index = DistrictIndex.from_warehouse(bare)
    assert index.locate_one(0.505, 0.505) == "1" and index.locate_one(0.605, 0.505) == "1"


def test_a_second_boundary_layer_never_overwrites_the_first(bare, tmp_path):
    def layer(name, key):
        return write(tmp_path, name, json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {key: "1", "name": name},
             "geometry": {"type": "Polygon", "coordinates": _square(0.5, 0.5)}}]}))
    load(bare, "boundaries", layer("council.geojson", "id"), key="id")
    with pytest.raises(MappingError, match=r"district id\(s\) '1' already exist from another boundary file"):
        load(bare, "boundaries", layer("neighbourhoods.geojson", "id"), key="id")
    load(bare, "boundaries", layer("neighbourhoods.geojson", "id"), key="id", layer="nbhd")
    assert bare.execute("SELECT district_id, name FROM districts ORDER BY 1").fetchall() == [
        ("1", "council.geojson"), ("nbhd:1", "neighbourhoods.geojson")]


def test_values_inside_a_geojson_are_read_with_their_points(con, tmp_path):
    # SYNTHETIC: a GeoJSON of bins with fill values and a point each
    gj = write(tmp_path, "bins.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "b1", "fill": 55, "when": "2025-03-01T10:00:00-05:00"},
         "geometry": {"type": "Point", "coordinates": [-73.9855, 40.758]}},
        {"type": "Feature", "properties": {"id": "b2", "fill": 10, "when": "2025-03-01T10:00:00-05:00"},
         "geometry": {"type": "Point", "coordinates": [-73.9571, 40.7081]}}]}))
    doc = {"source": {"id": "t_geo"}, "target": "bin_fill",
           "fields": {"ts": "when", "bin_id": "id", "fill_pct": "fill"}, "district": {"geometry": True}}
    load(con, "generic", gj, mapping=Mapping(doc))
    assert con.execute("SELECT bin_id, district_id, fill_pct, ts FROM bin_fill ORDER BY 1").fetchall() == [
        ("b1", "105", 55.0, datetime(2025, 3, 1, 10)), ("b2", "301", 10.0, datetime(2025, 3, 1, 10))]


# ------------------------------------------------------------------------------ real files
def test_melbourne_bay_sensor_snapshots_become_a_time_series_with_known_occupancy(tmp_path, monkeypatch):
    """Two real polls of the City of Melbourne bay sensors (40 bays each, 12 and 9 'Present'),
    a city with no boundaries: a generated hex grid, the point in one "(lat, lon)" field, the
    status mapped to 1/0, the poll time from the file name. Published: 30.0 % at 11:00 and
    22.5 % at 16:00 (ops, hourly), 26.25 % for the day; the public site publishes weeks and
    months only and this part-week is not published as complete."""
    from data import publish, snapshot

    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    files = sorted(REAL.glob("melbourne_bay_sensors_*.csv"))
    assert len(files) == 2
    con = warehouse.connect(warehouse.path())
    try:
        load(con, "grid", files[0], point="location", cell_km=1.0)
        results = [load(con, "generic", f, mapping=REAL / "melbourne_bay_sensors.yaml", tz="Australia/Melbourne")[-1]
                   for f in files]
        assert [(r.rows_read, r.rows_loaded) for r in results] == [(40, 40), (40, 40)]
        publish.publish(con, now=datetime(2018, 9, 9))
    finally:
        con.close()
    snapshot.reset()
    try:
        with snapshot.cursor("ops") as (cur, _v):
            got = dict(((g, p), v) for g, p, v in cur.execute(
                "SELECT grain, period, value FROM metric_values WHERE metric_id = 'parking_occupancy_pct' "
                "AND district_id = 'city'").fetchall())
        assert got[("hour", datetime(2018, 9, 8, 11))] == pytest.approx(30.0)
        assert got[("hour", datetime(2018, 9, 8, 16))] == pytest.approx(22.5)
        assert got[("day", datetime(2018, 9, 8))] == pytest.approx(26.25)
        with snapshot.cursor("public") as (cur, _v):
            source = cur.execute("SELECT source FROM metrics WHERE metric_id = 'parking_occupancy_pct'").fetchone()
            licence = cur.execute("SELECT licence FROM sources WHERE source_id = 'melbourne_bay_sensors'").fetchone()
            partial = cur.execute("SELECT count(*) FROM metric_values WHERE metric_id = 'parking_occupancy_pct' "
                                  "AND grain = 'week'").fetchone()[0]
        assert source == ("melbourne_bay_sensors",)
        assert licence == ("CC BY 4.0 (City of Melbourne Open Data)",)
        assert partial == 0
    finally:
        snapshot.reset()


FREIBURG = REAL / "freiburg_car_parks_2024-06-10T10-20.geojson"


def test_freiburg_car_parks_geojson_values_in_a_projected_crs_with_a_known_occupancy(tmp_path, monkeypatch):
    """A real GeoJSON snapshot of Freiburg's 19 car parks (EPSG:25832, values as text, local
    times, two car parks closed): 17 open car parks, 2,422 of 4,775 spaces occupied =
    50.72 % at 10:00 Berlin time. The file's own "prozent" is the share of FREE spaces (53 %
    for P5, whose 49 of 105 spaces are taken); the mapping computes occupied = obs_max -
    obs_free instead."""
    from data import publish, snapshot

    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    con = warehouse.connect(warehouse.path())
    try:
        load(con, "grid", FREIBURG, shape="hex", cell_km=1.0)
        r = load(con, "generic", FREIBURG, mapping=REAL / "freiburg_car_parks.yaml", tz="Europe/Berlin")[-1]
        assert (r.rows_read, r.rows_loaded) == (19, 17)
        assert r.reasons == {"excluded by the mapping: obs_state not 1": 2}
        assert con.execute("SELECT occupied, capacity FROM parking_occupancy WHERE facility_id = 'P5'").fetchone() == (49, 105)
        assert con.execute("SELECT DISTINCT ts FROM parking_occupancy").fetchall() == [(datetime(2024, 6, 10, 10, 20),)]
        publish.publish(con, now=datetime(2024, 6, 11))
    finally:
        con.close()
    snapshot.reset()
    try:
        with snapshot.cursor("ops") as (cur, _v):
            value, n = cur.execute(
                "SELECT value, n FROM metric_values WHERE metric_id = 'parking_occupancy_pct' AND district_id = 'city' "
                "AND grain = 'hour' AND period = TIMESTAMP '2024-06-10 10:00'").fetchone()
        assert value == pytest.approx(100 * 2422 / 4775) and n == 17
    finally:
        snapshot.reset()


def test_freiburg_times_convert_to_another_city_zone(bare, tmp_path):
    """The same naive Berlin times loaded into a New York warehouse: 10:20 CEST = 04:20 EDT."""
    load(bare, "grid", FREIBURG, shape="city")
    load(bare, "generic", FREIBURG, mapping=REAL / "freiburg_car_parks.yaml")
    assert bare.execute("SELECT DISTINCT ts FROM parking_occupancy").fetchall() == [(datetime(2024, 6, 10, 4, 20),)]


def test_a_projected_geojson_without_its_crs_member_names_the_crs_setting(bare, tmp_path):
    """The real Freiburg file with its "crs" member removed (UTM metres read as degrees)."""
    doc = json.loads(FREIBURG.read_text(encoding="utf-8"))
    del doc["crs"]
    path = write(tmp_path, "freiburg_no_crs.geojson", json.dumps(doc))
    with pytest.raises(MappingError, match=r"not lon/lat .* declares no CRS: give it as district.crs"):
        load(bare, "generic", path, mapping=REAL / "freiburg_car_parks.yaml")
    with pytest.raises(MappingError, match="give it with --crs"):
        load(bare, "grid", path)
    load(bare, "grid", path, crs="EPSG:25832")
    assert bare.execute("SELECT count(*) FROM districts").fetchone()[0] > 0


# ------------------------------------------------------------------------------ the city's own sources, published
@pytest.fixture(scope="module")
def melbourne_site(tmp_path_factory, published, accounts):
    """The two real Melbourne polls as the whole city, published into their own var dir (the
    signed-in test users kept); the demo city's var dir comes back afterwards."""
    import sqlite3

    from data import ops_store, publish, repository, snapshot

    var = tmp_path_factory.mktemp("melbourne-site")
    with sqlite3.connect(settings.var_dir() / ops_store.FILE) as old, sqlite3.connect(var / ops_store.FILE) as new:
        old.backup(new)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYOPS_VAR_DIR", str(var))
        con = warehouse.connect(warehouse.path())
        try:
            files = sorted(REAL.glob("melbourne_bay_sensors_*.csv"))
            load(con, "grid", files[0], point="location", cell_km=1.0)
            for f in files:
                load(con, "generic", f, mapping=REAL / "melbourne_bay_sensors.yaml", tz="Australia/Melbourne")
            publish.publish(con, now=datetime(2018, 9, 30))
        finally:
            con.close()
        snapshot.reset()
        repository.clear_cache()
        yield var
    snapshot.reset()
    repository.clear_cache()


def test_api_and_methodology_list_only_this_citys_metrics_with_its_own_source(melbourne_site, anon_client):
    """Melbourne has a source for parking occupancy only: the API lists no other metric and
    names the mapping's source and licence; the methodology page describes no demo source."""
    from tests import dash_http

    doc = anon_client.get("/public/api/v1/metrics").get_json()
    assert [m["metric_id"] for m in doc["metrics"]] == ["parking_occupancy_pct"]
    assert doc["metrics"][0]["source_name"] == "City of Melbourne on-street parking bay sensors"
    assert doc["metrics"][0]["licence"] == "CC BY 4.0 (City of Melbourne Open Data)"
    assert doc["metrics"][0]["publisher"] == "City of Melbourne"   # source.publisher of the mapping
    assert anon_client.get("/public/api/v1/metrics/sr_opened").status_code == 404
    _, text = dash_http.route(anon_client, "/public/methodology")
    text = text.replace("\\u002f", "/")
    assert ("City of Melbourne on-street parking bay sensors, published by City of Melbourne "
            "(CC BY 4.0 (City of Melbourne Open Data))") in text
    assert "/public/download/parking_occupancy_pct.csv" in text
    assert "/public/download/sr_opened.csv" not in text and "demo_" not in text


def test_a_polled_snapshot_feed_becomes_a_time_series_even_when_it_did_not_change(tmp_path, capsys):
    """Three polls of the same real Melbourne snapshot (a local mirror of the feed), one
    minute apart on the poller's clock: three points of the series, not one load and two
    'already loaded'."""
    from datetime import timedelta

    from data.ingest import poll

    db = tmp_path / "w.duckdb"
    first = sorted(REAL.glob("melbourne_bay_sensors_*.csv"))[0]
    con = warehouse.connect(db)
    try:
        load(con, "grid", first, point="location", cell_km=1.0)
        doc = json.loads(json.dumps(Mapping.load(REAL / "melbourne_bay_sensors.yaml").doc))
        doc["fields"]["ts"] = {"filename": "bays_%Y-%m-%dT%H-%M-%S.csv"}
        times = iter([datetime(2018, 9, 8, 11, 18) + timedelta(minutes=i) for i in range(3)])
        results = poll.poll(con, str(first), Mapping(doc), tmp_path / "polls", name="bays_%Y-%m-%dT%H-%M-%S.csv",
                            every=0, count=3, tz="Australia/Melbourne", clock=lambda: next(times))
        assert [r.status for r in results] == ["ok", "ok", "ok"]
        assert con.execute("SELECT ts, count(*), sum(occupied) FROM parking_occupancy GROUP BY 1 ORDER BY 1").fetchall() == [
            (datetime(2018, 9, 8, 11, 18), 40, 12), (datetime(2018, 9, 8, 11, 19), 40, 12),
            (datetime(2018, 9, 8, 11, 20), 40, 12)]
        assert len(list((tmp_path / "polls").glob("bays_*.csv"))) == 3
        # a feed that cannot be fetched is reported; the poller goes on
        bad = poll.poll(con, str(tmp_path / "missing.csv"), Mapping(doc), tmp_path / "polls",
                        name="bays_%Y-%m-%dT%H-%M-%S.csv", every=0, count=1, clock=lambda: datetime(2018, 9, 8, 12))
        assert bad[0].status == "failed" and "no such file" in bad[0].message
    finally:
        con.close()


def test_a_wide_table_is_unpivoted_by_the_mapping(con, tmp_path):
    # SYNTHETIC: monthly tonnes per district, one column per month, an empty cell = not reported
    csv = write(tmp_path, "wide.csv", "district,stream,Jan 2025,Feb 2025,Mar 2025,note\n"
                "105,refuse,100.5,,98,x\n301,paper,20,21,-3,y\n")
    doc = {"source": {"id": "t_wide", "grain": "month"}, "target": "waste_tonnage", "max_quarantined_share": 1.0,
           "unpivot": {"pattern": r"[A-Z][a-z]{2} \d{4}", "name": "month", "value": "tonnes"},
           "date_format": "%b %Y", "fields": {"day": "month", "stream": "stream", "tons": "tonnes"},
           "district": {"column": "district"}}
    r = load(con, "generic", csv, mapping=Mapping(doc))[-1]
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (5, 4, 1)
    assert con.execute("SELECT line_no, reason FROM quarantine").fetchall() == [(3, "negative tonnage")]
    assert con.execute("SELECT district_id, day, tons FROM waste_tonnage ORDER BY 1, 2").fetchall() == [
        ("105", date(2025, 1, 1), 100.5), ("105", date(2025, 3, 1), 98.0),
        ("301", date(2025, 1, 1), 20.0), ("301", date(2025, 2, 1), 21.0)]
    doc["source"] = {"id": "t_wide"}
    with pytest.raises(MappingError, match="a wide table holds totals per period: give source.grain"):
        Mapping(doc)
    doc["source"]["grain"] = "year"   # a year's total is never fed to a monthly metric (reported_measures instead)
    with pytest.raises(MappingError, match="a yearly total cannot feed them.*target: reported_measures"):
        Mapping(doc)
    doc["source"]["grain"] = "fortnight"
    with pytest.raises(MappingError, match="source.grain must be one of hour, day, week, month"):
        Mapping(doc)


def test_data_health_counts_exclude_replaced_batches(con, tmp_path):
    """A corrected export at the same path replaces the first load: /data's trend counts the
    rows that are in the warehouse (3), not both loads (2 + 3)."""
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\nA,2025-03-01 10:00,Noise,Open,105\n"
                "B,2025-03-01 10:00,Noise,Open,105\n")
    load(con, "generic", csv, mapping=Mapping(sr_mapping()))
    csv.write_text(csv.read_text() + "C,2025-03-01 10:00,Noise,Open,105\n")
    load(con, "generic", csv, mapping=Mapping(sr_mapping()))
    sql = (ROOT / "queries" / "ops" / "load_trend.sql").read_text()
    rows = con.execute(sql, {"since": datetime(2000, 1, 1)}).fetchall()
    assert [(r[0], r[2]) for r in rows if r[0] == "t_sr"] == [("t_sr", 3)]
    assert con.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 3


@pytest.mark.parametrize("change,fragment", [
    (lambda d: d["fields"].update(tons={"column": "t", "scale": 2}), "fields.tons: unknown key(s) scale"),
    (lambda d: d["fields"].update(tons={"column": "t", "unmapped": "drop"}), "fields.tons.unmapped must be one of"),
    (lambda d: d["fields"].update(stream={"column": "s", "expr": "s * 2"}), "fields.stream: expr is for number fields"),
    (lambda d: d["fields"].update(tons={"column": "t", "coordinate": "z"}), "fields.tons.coordinate must be lat or lon"),
    (lambda d: d["fields"].update(day={"filename": "%Y.csv", "format": "%Y"}), None),
    (lambda d: d["fields"].update(tons={"filename": "%Y.csv"}), "fields.tons: filename (the time in the file's name) is for time fields"),
    (lambda d: d["district"].update(point_format="xy", point="p"), "district.point_format must be one of"),
    (lambda d: d["district"].update(shape="hex"), "district: unknown key(s) shape"),
    (lambda d: d.update(keep_rows={"column": "x"}), "keep_rows must be {column: COLUMN, values: [value, ...]}"),
    (lambda d: d.update(unpivot={"name": "m", "value": "v"}), "unpivot must be {columns"),
    (lambda d: d.update(max_quarantined_share=2), "max_quarantined_share must be a number from 0 to 1"),
])
def test_mapping_errors_name_the_field(change, fragment):
    doc = waste_doc(tons="t")
    change(doc)
    if fragment is None:
        Mapping(doc)
        return
    with pytest.raises(MappingError) as info:
        Mapping(doc)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_geopackage_values_and_shapefile_boundaries_are_read_through_pyogrio(bare, tmp_path):
    # SYNTHETIC: a shapefile of two wards in UTM 18N (with its .prj) and a GeoPackage of bins
    import geopandas as gpd
    import shapely

    wards = gpd.GeoDataFrame({"ward": ["W1", "W2"]}, geometry=[shapely.box(583000, 4506000, 584000, 4507000),
                                                                shapely.box(584000, 4506000, 585000, 4507000)],
                             crs="EPSG:32618")
    wards.to_file(tmp_path / "wards.shp")
    r = load(bare, "boundaries", tmp_path / "wards.shp", key="ward", tolerance_m=0)[-1]
    assert r.rows_loaded == 2
    bins = gpd.GeoDataFrame({"id": ["b1", "b2"], "fill": [40.0, 70.0], "ts": ["2025-03-01 10:00", "2025-03-01 10:00"]},
                            geometry=list(wards.geometry.representative_point()), crs="EPSG:32618")
    bins.to_file(tmp_path / "bins.gpkg", layer="bins", driver="GPKG")
    doc = {"source": {"id": "t_gpkg"}, "target": "bin_fill",
           "fields": {"ts": "ts", "bin_id": "id", "fill_pct": "fill"}, "district": {"geometry": True}}
    load(bare, "generic", tmp_path / "bins.gpkg", mapping=Mapping(doc))
    assert bare.execute("SELECT bin_id, district_id, fill_pct FROM bin_fill ORDER BY 1").fetchall() == [
        ("b1", "W1", 40.0), ("b2", "W2", 70.0)]


def test_a_failed_attempt_can_be_cleared(bare, tmp_path, capsys):
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,district\nA,2025-03-01 10:00,Noise,Open,105\n")
    db = tmp_path / "bare.duckdb"
    mapping = write(tmp_path, "sr.yaml", json.dumps(sr_mapping()))
    bare.close()
    assert main(["generic", str(csv), "--mapping", str(mapping), "--db", str(db), "--quiet"]) == 2   # no districts
    assert main(["boundaries", str(BOUNDARIES), "--db", str(db), "--quiet"]) == 0
    assert main(["generic", str(csv), "--mapping", str(mapping), "--db", str(db), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["clear-failed", "--file", "sr.csv", "--db", str(db)]) == 0
    assert "cleared 1 failed load batch(es)" in capsys.readouterr().out
    c = warehouse.connect(db)
    try:
        got = c.execute("SELECT status, count(*) FROM load_batches WHERE source_id = 't_sr' GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        c.close()
    assert got == [("cleared", 1), ("ok", 1)]


def test_lon_and_lat_the_wrong_way_round_fail_with_a_precise_hint(con, tmp_path):
    # SYNTHETIC: an export whose "lat" column holds longitudes and "lon" latitudes
    csv = write(tmp_path, "sr.csv", "id,opened,type,state,lat,lon\n"
                + "".join(f"R{i},2025-03-01 10:00,Noise,Open,-73.98{i},40.75{i}\n" for i in range(4)))
    doc = sr_mapping()
    doc["district"] = {"lon": "lon", "lat": "lat"}
    with pytest.raises(QuarantineShareError, match=r"outside boundaries \(4\).*lon and lat look swapped \(4 of 4 sampled"):
        load(con, "generic", csv, mapping=Mapping(doc))
