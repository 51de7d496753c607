"""NYC Department of Finance parking violations (→ ``parking_citations``) and the DOF
violation-code table (→ ``parking_violation_codes``, a table added by the ingest, data/ingest/tables.py).

* ``parking-codes``: ``CODE, DEFINITION, MANHATTAN_96_AND_BELOW, ALL_OTHER_AREAS`` (fines in $).
* ``parking``: ``Summons Number, Issue Date, Violation Code, Violation Precinct, Violation
  Time`` ("0143A" = 01:43, "1210P" = 12:10). No coordinates: the district comes from the
  precinct via ``precinct_districts`` (built by the ``precincts`` adapter from the police
  precinct polygons: the district containing each precinct's representative point — an
  approximation, since precincts and districts do not nest). Precinct 0 or empty →
  quarantined "unknown precinct" (the red-light and bus-lane camera tickets); a precinct with
  no polygon → "precinct not in precinct map". The fine is the code's Manhattan-96th-St-and-
  below amount when the precinct lies there, else the other-areas amount; an unknown code
  gives fine NULL (the revenue metric leaves those out). A missing Violation Time counts as
  midnight of the issue date; an unreadable one is quarantined "bad time: Violation Time".
"""
from __future__ import annotations

from data.ingest.batch import Batch
from data.ingest.errors import WarehouseStateError
from data.ingest.fields import Districting, Field
from data.ingest.source import Source
from data.ingest.sql import qi

SOURCE = Source(
    "nyc_dof_parking_violations", "NYC parking violations (DOF)", "parking", "NYC Open Data terms of use",
    "NYC Department of Finance parking violations issued: issue date and time, violation code, precinct; "
    "fine from the DOF violation-code table; district via the police precinct.")
CODES_SOURCE = Source(
    "nyc_dof_violation_codes", "NYC parking violation codes and fines (DOF)", "parking",
    "NYC Open Data terms of use",
    "NYC Department of Finance parking violation codes with the fine in Manhattan at or below 96th "
    "Street and in all other areas.")

TIME_SQL = ("CASE WHEN regexp_full_match({x}, '(?i)(0\\d|1[0-2])[0-5]\\d[AP]') THEN "
            "(CAST(substr({x}, 1, 2) AS INTEGER) % 12 + CASE WHEN upper(substr({x}, 5, 1)) = 'P' THEN 12 ELSE 0 END) * 60 "
            "+ CAST(substr({x}, 3, 2) AS INTEGER) "
            "WHEN regexp_full_match({x}, '([01]\\d|2[0-3]):?[0-5]\\d') THEN "
            "CAST(substr({x}, 1, 2) AS INTEGER) * 60 + CAST(right({x}, 2) AS INTEGER) END")
CODE_SQL = "coalesce(CAST(TRY_CAST({x} AS INTEGER) AS VARCHAR), {x})"   # '07' -> '7'


def load_codes(batch: Batch) -> None:
    batch.read_csv(["CODE", "MANHATTAN_96_AND_BELOW", "ALL_OTHER_AREAS"])
    fields = [
        Field("code", qi("CODE"), required=True, sql=CODE_SQL, label="CODE"),
        Field("definition", qi("DEFINITION") if "DEFINITION" in batch.raw_columns else None),
        Field("fine_manhattan_96_below", qi("MANHATTAN_96_AND_BELOW"), "double", thousands=",",
              label="MANHATTAN_96_AND_BELOW"),
        Field("fine_elsewhere", qi("ALL_OTHER_AREAS"), "double", thousands=",", label="ALL_OTHER_AREAS"),
    ]
    batch.stage(fields, [("fine_manhattan_96_below < 0 OR fine_elsewhere < 0", "negative fine")],
                dedup=["code"], dedup_reason="duplicate CODE")
    batch.insert("parking_violation_codes", {c: c for c in ("code", "definition", "fine_manhattan_96_below",
                                                            "fine_elsewhere")}, replace_pk=True)


# The district of the row's precinct, and whether the precinct is in Manhattan at or below 96th
# Street (its fines differ), from the precinct map (static statements).
PRECINCT_DISTRICT = ("(SELECT p.district_id FROM precinct_districts p WHERE p.precinct = "
                     "CAST(TRY_CAST(nullif(trim(raw.\"Violation Precinct\"), '') AS INTEGER) AS VARCHAR))")
PRECINCT_BELOW_96 = ("(SELECT p.manhattan_96_below FROM precinct_districts p WHERE p.precinct = "
                     "CAST(TRY_CAST(nullif(trim(raw.\"Violation Precinct\"), '') AS INTEGER) AS VARCHAR))")


def load(batch: Batch) -> None:
    if not batch.con.execute("SELECT count(*) FROM precinct_districts").fetchone()[0]:
        raise WarehouseStateError("no precinct map: load the police precincts first "
                                  "(python -m data.ingest precincts police_precincts.geojson, or --precincts)")
    if not batch.con.execute("SELECT count(*) FROM parking_violation_codes").fetchone()[0]:
        raise WarehouseStateError("no violation codes: load them first (python -m data.ingest parking-codes "
                                  "dof_parking_violation_codes.csv, or --codes)")
    header = batch.read_csv(["Summons Number", "Issue Date", "Violation Code", "Violation Precinct"])
    fields = [
        Field("summons", qi("Summons Number"), required=True),
        Field("issue_date", qi("Issue Date"), "date", required=True,
              formats=["%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S.%g", "%Y-%m-%dT%H:%M:%S"], label="Issue Date"),
        Field("minutes", qi("Violation Time") if "Violation Time" in header else None, "int", sql=TIME_SQL,
              label="Violation Time", bad="bad time: Violation Time"),
        Field("violation_code", qi("Violation Code"), sql=CODE_SQL),
        Field("precinct", qi("Violation Precinct"), "int", label="Violation Precinct"),
        Field("district_key", None, sql=PRECINCT_DISTRICT),
        Field("below96", None, sql=PRECINCT_BELOW_96),
    ]
    checks = [("precinct IS NULL OR precinct = 0", "unknown precinct"),
              ("district_key IS NULL", "precinct not in precinct map")]
    batch.stage(fields, checks, district=Districting(key="district_key"), dedup=["summons"],
                dedup_reason="duplicate Summons Number")
    issued = "CAST(issue_date AS TIMESTAMP) + to_minutes(coalesce(minutes, 0))"
    batch.insert("parking_citations", {
        "issued_at": issued, "district_id": "district_id", "violation_code": "c.violation_code",
        "fine": "CASE WHEN below96 THEN k.fine_manhattan_96_below ELSE k.fine_elsewhere END"},
        source="checked c LEFT JOIN parking_violation_codes k ON k.code = c.violation_code", time_expr=issued)
