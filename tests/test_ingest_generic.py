"""The generic YAML-mapped CSV adapter end to end, reprojection and point-in-polygon."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from data import settings, warehouse
from data.ingest import MappingError, QuarantineShareError, load
from data.ingest.generic import Mapping
from data.ingest.geo import DistrictIndex

ROOT = settings.ROOT
MAPPINGS = ROOT / "data" / "samples" / "mappings"
BOUNDARIES = ROOT / "data" / "boundaries" / "community_districts.geojson"


@pytest.fixture()
def con(tmp_path):
    c = warehouse.connect(tmp_path / "w.duckdb")
    load(c, "boundaries", BOUNDARIES, key="district_id")
    yield c
    c.close()


def test_known_points_fall_in_known_districts(con):
    index = DistrictIndex.from_warehouse(con)
    ids, why = index.locate(np.array([-73.9855, -73.9571, -74.0431, -73.9654, np.nan]),
                            np.array([40.7580, 40.7081, 40.7178, 40.7829, 40.7]))
    # Times Square (Midtown, MN 5), Williamsburg (BK 1), Jersey City, Central Park (joint area 164), missing
    assert list(ids) == ["105", "301", None, "164", None]
    assert list(why) == [None, None, "outside boundaries", None, "missing coordinates"]


def test_epsg2263_point_is_reprojected_to_the_right_district(con):
    index = DistrictIndex.from_warehouse(con)
    # Times Square in NY State Plane Long Island (US feet); read as lon/lat it would be nowhere
    assert index.locate_one(988267.1, 215436.9, "EPSG:2263") == "105"
    assert index.locate_one(962714.8, 173803.2, "EPSG:2263") == "501"     # St George, Staten Island
    ids, why = index.locate(np.array([988267.1]), np.array([215436.9]))
    assert why[0] == "bad coordinates"


def test_generic_parking_tickets_semicolons_decimal_commas_and_state_plane(con):
    r = load(con, "generic", MAPPINGS / "parking_tickets.csv", mapping=MAPPINGS / "parking_tickets.yaml")[-1]
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (12, 6, 6)
    got = dict(con.execute("SELECT line_no, reason FROM quarantine").fetchall())
    assert got == {8: "bad date: issued", 9: "negative fine", 10: "outside boundaries", 11: "missing coordinates",
                   12: "duplicate violation_code, issued_at, district_id", 13: "bad number: x_ft"}
    rows = con.execute("SELECT issued_at, district_id, violation_code, fine FROM parking_citations "
                       "ORDER BY issued_at").fetchall()
    assert rows[0] == (datetime(2025, 3, 14, 13, 20), "105", "38", 65.0)
    assert [r[1] for r in rows] == ["105", "301", "403", "205", "501", "314"]
    source = con.execute("SELECT name, domain, simulated, licence FROM sources WHERE source_id = "
                         "'example_parking_tickets'").fetchone()
    assert source == ("Example city parking tickets", "parking", False, "CC BY 4.0 (example data written for CityOps)")
    assert con.execute("SELECT min(since) FROM rollup_dirty").fetchone()[0] == datetime(2025, 3, 14, 13, 20)


def test_generic_waste_by_key_with_value_maps(con):
    r = load(con, "generic", MAPPINGS / "waste_by_ward.csv", mapping=MAPPINGS / "waste_tonnage.yaml")[-1]
    assert (r.rows_read, r.rows_loaded) == (12, 7)
    assert r.reasons == {"bad value: material": 1, "unknown district": 1, "negative tonnage": 1,
                         "duplicate day, district_id, stream": 1, "bad date: month": 1}
    assert con.execute("SELECT day, tons FROM waste_tonnage WHERE district_id = '301' AND stream = 'organics'"
                       ).fetchall() == [(date(2025, 1, 1), 88.1)]
    # monthly totals: the mapping says so, and the waste metrics will publish months only
    assert con.execute("SELECT grain FROM sources WHERE source_id = 'example_waste_tonnage'").fetchone() == ("month",)


def test_generic_service_requests_lon_lat(con):
    r = load(con, "generic", MAPPINGS / "service_requests.csv", mapping=MAPPINGS / "service_requests.yaml",
             max_quarantined_share=1.0)[-1]
    assert r.rows_loaded == 2
    assert r.reasons == {"closed before created": 1, "outside boundaries": 1, "bad value: state": 1,
                         "date in the future": 1}
    assert con.execute("SELECT request_id, district_id, channel, status FROM service_requests ORDER BY 1"
                       ).fetchall() == [("SR-1", "105", "phone", "closed"), ("SR-2", "301", "app", "open")]


@pytest.mark.parametrize("change,fragment", [
    ({"target": "nope"}, "target must be one of"),
    ({"fields": {"issued_at": "issued", "colour": "x"}}, "colour not in parking_citations"),
    ({"fields": {"fine": "amount_eur"}}, "required field 'issued_at'"),
    ({"district": {"crs": "EPSG:2263"}}, "district needs column"),
    ({"district": {"x": "x_ft", "y": "y_ft", "crs": "EPSG:999999"}}, "unknown CRS"),
    ({"source": {"name": "no id"}}, "source.id is required"),
    ({"source": {"id": "x", "grain": "fortnight"}}, "source.grain must be one of hour, day, week, month"),
    ({"extra_key": 1}, "unknown key(s) extra_key"),
])
def test_invalid_mappings_are_rejected_with_the_field_named(change, fragment):
    doc = yaml.safe_load((MAPPINGS / "parking_tickets.yaml").read_text())
    doc.update(change)
    with pytest.raises(MappingError, match=None) as info:
        Mapping(doc, "m.yaml")
    assert fragment in str(info.value)


def test_mapping_naming_an_absent_column_is_a_clear_error(con, tmp_path):
    doc = yaml.safe_load((MAPPINGS / "parking_tickets.yaml").read_text())
    doc["fields"]["fine"] = {"column": "amount_usd", "decimal": ","}
    with pytest.raises(Exception) as info:
        load(con, "generic", MAPPINGS / "parking_tickets.csv", mapping=Mapping(doc, "m.yaml"))
    assert "missing column(s) 'amount_usd'" in str(info.value)


CELL = st.one_of(st.sampled_from(["", "x", "-1", "1e400", "NaN", "2025-13-01 00:00:00", "40.7580", "-73.9855"]),
                 st.text(alphabet="0123456789.,-: ;\"", max_size=12))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL), min_size=1, max_size=30))
def test_any_garbage_rows_keep_read_equal_loaded_plus_quarantined(con, tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("prop") / "f.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        import csv

        w = csv.writer(fh)
        w.writerow(["opened", "id", "type", "lat", "lon"])
        w.writerows(rows)
    doc = {"source": {"id": "prop"}, "target": "service_requests",
           "fields": {"created_at": "opened", "request_id": "id", "category": "type", "status": {"value": "open"},
                      "lat": "lat", "lon": "lon"},
           "district": {"lon": "lon", "lat": "lat"}}
    # a deliberately bad file: any share of bad rows is allowed, except all of them (issue 15)
    try:
        r = load(con, "generic", path, mapping=Mapping(doc, "prop"), force=True, max_quarantined_share=1.0)[-1]
    except QuarantineShareError as exc:
        assert "every row quarantined" in str(exc)
        assert con.execute("SELECT status FROM load_batches ORDER BY batch_id DESC LIMIT 1").fetchone() == ("failed",)
        return
    assert r.rows_read == len(rows)
    assert r.rows_read == r.rows_loaded + r.rows_quarantined
    batch = con.execute("SELECT rows_read, rows_loaded, rows_quarantined FROM load_batches WHERE batch_id = $b",
                        {"b": r.batch_id}).fetchone()
    assert batch == (r.rows_read, r.rows_loaded, r.rows_quarantined)
    lines = [x[0] for x in con.execute("SELECT line_no FROM quarantine WHERE batch_id = $b", {"b": r.batch_id}).fetchall()]
    assert len(set(lines)) == len(lines) and all(2 <= n <= len(rows) + 1 for n in lines)
