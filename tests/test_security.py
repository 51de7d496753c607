"""Issue 14: the findings of an independent probe, each written the way the attacker worked.
(Slow clients and the access log are in tests/test_serving.py.)"""
from __future__ import annotations

import json

import pytest

from data import publish, snapshot, users, warehouse
from data.ingest import load
from tests import dash_http
from tests.conftest import ADMIN, FIXTURE_END, signed_in

PERSONAL = ("742 Evergreen Terrace", "Maria Callers", "555-0142", "XYZ1234")


# ------------------------------------------------------------------ 2. quarantine: nothing personal
def test_ingest_quarantine_keeps_the_judged_field_only(tmp_path):
    """A 311 export with an address, a free-text column naming the caller and her phone number:
    quarantined rows keep file, line, reason and the judged values, never the other columns,
    and the district where the row says it."""
    from data.settings import ROOT

    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        load(con, "boundaries", ROOT / "data" / "boundaries" / "community_districts.geojson", key="district_id")
        csv = tmp_path / "311.csv"
        header = ("Unique Key,Created Date,Closed Date,Complaint Type,Descriptor,Status,Community Board,"
                  "Incident Address,Resolution Description,Latitude,Longitude\n")
        rows = [
            f"1,yesterday,,Noise,Loud Music,Open,01 MANHATTAN,{PERSONAL[0]},"
            f"Caller {PERSONAL[1]} at {PERSONAL[2]},40.71,-74.0\n",                      # bad date, district 101
            f"2,03/01/2025 10:00,02/01/2025 10:00,Noise,Loud Music,Closed,05 BRONX,{PERSONAL[0]},"
            f"{PERSONAL[1]} {PERSONAL[2]},40.85,-73.9\n",                                  # closed before created
            f"3,03/01/2025 10:00,,Noise,Banging,Open,0 Unspecified,{PERSONAL[0]},{PERSONAL[2]},,\n",
        ]
        csv.write_text(header + "".join(rows), encoding="utf-8")
        result = load(con, "nyc311", csv)[-1]
        assert result.rows_quarantined == 3
        got = con.execute("SELECT line_no, reason, raw, district_id FROM quarantine ORDER BY line_no").fetchall()
    finally:
        con.close()
    stored = json.dumps(got)
    for value in PERSONAL + ("Loud Music", "Banging"):
        assert value not in stored, value
    by_line = {line: (reason, json.loads(raw), district) for line, reason, raw, district in got}
    assert by_line[2] == ("bad date: Created Date", {"Created Date": "yesterday"}, "101")
    assert by_line[3][1] == {"Created Date": "03/01/2025 10:00", "Closed Date": "02/01/2025 10:00"}
    assert by_line[3][2] == "205"
    assert by_line[4][1] == {"Community Board": "0 Unspecified"} and by_line[4][2] is None


@pytest.fixture()
def quarantined(writer):
    """Quarantine rows as an older ingest left them (whole raw rows with personal data), of
    district 101, of district 205 and of no district, published; removed afterwards."""
    next_id = writer.execute("SELECT coalesce(max(batch_id), 0) + 1000 FROM load_batches").fetchone()[0]
    raw = json.dumps({"Incident Address": PERSONAL[0], "Resolution Description": f"{PERSONAL[1]} {PERSONAL[2]}",
                      "Plate ID": PERSONAL[3]})
    for i, district in enumerate(("101", "205", None)):
        writer.execute("INSERT INTO quarantine (batch_id, source_id, file, line_no, reason, raw, district_id) "
                       "VALUES ($b, 'demo_311', '/srv/cityops/incoming/311-export.csv', $l, $r, $raw, $d)",
                       {"b": next_id, "l": 10 + i, "r": f"probe reason {district}", "raw": raw, "d": district})
    writer.execute("INSERT INTO load_batches (batch_id, source_id, file, started_at, finished_at, rows_read, "
                   "rows_loaded, rows_quarantined, status) VALUES ($b, 'demo_311', "
                   "'/srv/cityops/incoming/311-export.csv', now(), now(), 3, 0, 3, 'ok')", {"b": next_id})
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()
    yield
    writer.execute("DELETE FROM quarantine WHERE batch_id = $b", {"b": next_id})
    writer.execute("DELETE FROM load_batches WHERE batch_id = $b", {"b": next_id})
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()


def _data_health(client) -> str:
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "data-quarantine"), [1])
    assert status == 200, text[:300]
    return json.dumps(body)


def test_data_page_shows_an_official_no_quarantined_row(dash_app, accounts, quarantined):
    official = _data_health(signed_in(dash_app, "test-official", "official-password-1"))  # district 101
    for value in PERSONAL:
        assert value not in official
    assert "probe reason 205" not in official          # another district's row
    assert "probe reason 101" in official and "probe reason None" in official  # counts of its own
    assert "/srv/cityops" not in official and "311-export.csv" in official  # file name, not the path
    admin = _data_health(signed_in(dash_app, *ADMIN))
    assert "probe reason 205" in admin and "/srv/cityops/incoming/311-export.csv" in admin
