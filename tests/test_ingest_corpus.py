"""Malformed input: every file in tests/ingest_corpus gives a clear one-line error (a specific
exception class; the CLI prints it without a traceback and exits 2) or quarantine entries —
never a crash, never a partial load that looks complete."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from data import settings, warehouse
from data.ingest import EmptyFileError, FormatError, IngestError, MappingError, MissingColumnsError, load
from data.ingest.__main__ import main

ROOT = settings.ROOT
CORPUS = ROOT / "tests" / "ingest_corpus"
BOUNDARIES = ROOT / "data" / "boundaries" / "community_districts.geojson"


@pytest.fixture()
def con(tmp_path):
    c = warehouse.connect(tmp_path / "w.duckdb")
    load(c, "boundaries", BOUNDARIES, key="district_id")
    yield c
    c.close()


def counts(con):
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("waste_tonnage", "service_requests", "bike_trips", "bike_stations", "districts", "quarantine")}


ERRORS = [
    # adapter, file, options, exception, message fragment
    ("dsny", "dsny_semicolon.csv", {}, MissingColumnsError, "wrong delimiter? expected ',', the header contains ';'"),
    ("dsny", "dsny_renamed_column.csv", {}, MissingColumnsError, "missing column(s) 'REFUSETONSCOLLECTED'"),
    ("dsny", "dsny_missing_column.csv", {}, MissingColumnsError, "missing column(s) 'MONTH'"),
    ("dsny", "empty.csv", {}, EmptyFileError, "file is empty"),
    ("dsny", "dsny_header_only.csv", {}, EmptyFileError, "no data rows"),
    ("dsny", "binary_gzip.csv", {}, MissingColumnsError, "missing column(s)"),
    ("nyc311", "dsny_bad_rows.csv", {}, FormatError, "not a 311 export"),
    ("boundaries", "truncated.geojson", {"key": "district_id"}, FormatError, "looks truncated"),
    ("boundaries", "dsny_bad_rows.csv", {"key": "district_id"}, FormatError, "not valid JSON"),
    ("boundaries", BOUNDARIES, {"key": "BoroCD"}, MappingError, "no feature has the key property 'BoroCD'"),
    ("gbfs", "gbfs_truncated.json", {}, FormatError, "looks truncated"),
    ("gbfs", "gbfs_not_stations.json", {}, FormatError, "not a GBFS station feed"),
    ("open311", "gbfs_not_stations.json", {}, FormatError, "not a GeoReport v2 requests list"),
    ("generic", "dsny_bad_rows.csv", {"mapping": CORPUS / "missing.yaml"}, MappingError, "no such mapping file"),
    ("dsny", "no_such_file.csv", {}, IngestError, "no such file"),
]


@pytest.mark.parametrize("adapter,name,options,exc,fragment", ERRORS, ids=[f"{e[0]}-{e[1]}" for e in ERRORS])
def test_bad_file_gives_specific_one_line_error_and_loads_nothing(con, adapter, name, options, exc, fragment):
    before = counts(con)
    path = name if not isinstance(name, str) else CORPUS / name
    with pytest.raises(exc) as info:
        load(con, adapter, path, **options)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 400
    assert counts(con) == before
    last = con.execute("SELECT status FROM load_batches ORDER BY batch_id DESC LIMIT 1").fetchone()[0]
    if adapter != "generic" and name != "no_such_file.csv":   # a batch was opened: it is marked failed
        assert last == "failed"


def test_bad_rows_are_quarantined_with_line_numbers(con):
    r = load(con, "dsny", CORPUS / "dsny_bad_rows.csv", max_quarantined_share=1.0)[-1]
    assert r.rows_read == 14 and r.rows_read == r.rows_loaded + r.rows_quarantined
    got = dict(con.execute("SELECT line_no, reason FROM quarantine").fetchall())
    assert got == {
        3: "bad date: MONTH",                      # "2025 / 13"
        4: "bad date: MONTH",                      # "yesterday"
        5: "bad number: REFUSETONSCOLLECTED",      # "1e400" (not finite)
        6: "tonnage out of range",                 # 99,999,999,999 t
        7: "negative tonnage",
        8: "unknown district",                     # BOROUGH_ID 9
        9: "malformed row: missing columns",
        10: "malformed row: too many columns",
        11: "duplicate month and district",        # same as line 2
        12: "no tonnage reported",
        13: "bad number: REFUSETONSCOLLECTED",     # "abc"
        14: "date in the future",                  # 2099
    }
    raw = json.loads(con.execute("SELECT raw FROM quarantine WHERE line_no = 5").fetchone()[0])
    assert raw == {"REFUSETONSCOLLECTED": "1e400"}  # the judged field only (issue 14)
    malformed = json.loads(con.execute("SELECT raw FROM quarantine WHERE line_no = 9").fetchone()[0])
    assert "line" not in malformed and malformed["error"]  # the reader's message, not the line's content
    # line 15: "1,234.5" is a valid number with a thousands separator
    assert con.execute("SELECT tons FROM waste_tonnage WHERE district_id = '212' AND stream = 'refuse'").fetchone()[0] == 1234.5


def test_non_utf8_bytes_quarantine_only_that_row(con):
    r = load(con, "dsny", CORPUS / "dsny_latin1_bytes.csv")[-1]
    assert (r.rows_read, r.rows_loaded) == (3, 2)
    assert con.execute("SELECT line_no, reason FROM quarantine").fetchall() == [(3, "malformed row: invalid encoding")]


def test_quoted_line_breaks_keep_line_numbers_right(con):
    r = load(con, "nyc311", CORPUS / "nyc311_multiline.csv", max_quarantined_share=1.0)[-1]
    assert r.rows_read == 6 and r.rows_loaded == 2
    got = dict(con.execute("SELECT line_no, reason FROM quarantine").fetchall())
    # record 1 spans lines 2-3, so record 2 starts on line 4
    assert got == {4: "unspecified community board", 5: "closed before created", 7: "outside boundaries",
                   8: "missing coordinates"}
    assert con.execute("SELECT description FROM service_requests WHERE request_id = '1'").fetchone()[0] == "Loud\nMusic"


def test_bad_coordinates(con):
    r = load(con, "citibike", CORPUS / "citibike_bad_coords.csv", max_quarantined_share=1.0)[-1]
    assert r.rows_loaded == 1
    got = dict(con.execute("SELECT line_no, reason FROM quarantine").fetchall())
    assert got == {3: "bad number: start_lat", 4: "bad coordinates", 5: "missing coordinates",
                   6: "bad coordinates",   # (0, 0): a failed geocode's placeholder (was 'outside boundaries')
                   7: "ended before started", 8: "duplicate ride_id",
                   9: "bad value: member_casual"}


def test_bad_features_in_geojson_are_quarantined(con):
    r = load(con, "boundaries", CORPUS / "boundaries_bad_features.geojson", key="id", max_quarantined_share=1.0)[-1]
    assert (r.rows_read, r.rows_loaded) == (5, 1)
    assert r.reasons == {"not a polygon": 1, "missing key property: id": 1, "duplicate district key": 1,
                         "missing geometry": 1}
    assert con.execute("SELECT name FROM districts WHERE district_id = 'B'").fetchone()[0] == "District B"


# ------------------------------------------------------------------------------ the command line
def test_cli_prints_one_line_error_and_exits_2(tmp_path, capsys):
    db = tmp_path / "w.duckdb"
    rc = main(["dsny", str(CORPUS / "dsny_semicolon.csv"), "--db", str(db), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "wrong delimiter" in errors[0]
    assert "Traceback" not in err + out


def test_cli_summary_counts_and_reasons(tmp_path, capsys):
    db = tmp_path / "w.duckdb"
    assert main(["boundaries", str(BOUNDARIES), "--db", str(db), "--quiet"]) == 0
    rc = main(["citibike", str(CORPUS / "citibike_bad_coords.csv"), "--db", str(db), "--quiet",
               "--max-quarantined-share", "1"])
    out, _ = capsys.readouterr()
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("citibike_bad_coords.csv"))
    assert row.split()[3:6] == ["8", "1", "7"]          # read, loaded, quarantined
    assert "quarantined by reason:" in out and "bad coordinates" in out


def test_cli_subprocess_no_traceback_on_truncated_geojson(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "data.ingest", "boundaries", str(CORPUS / "truncated.geojson"),
                           "--db", str(tmp_path / "w.duckdb"), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: truncated.geojson: not valid JSON")
    assert "Traceback" not in proc.stderr
