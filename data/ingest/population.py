"""Population denominators (→ ``districts.population``).

Default: the NYC DCP ACS table by community district equivalent
(``nyc_cdta_demographics_acs*.csv``): ``GeoID`` "BK01" → district 301 (MN=1, BX=2, BK=3,
QN=4, SI=5), ``Pop_1E`` with thousands commas. Any CSV works with ``--key-column`` (holding
a district id, or an NYC-style GeoID) and ``--population-column``.

Rows for joint interest areas (parks, airports) are quarantined with the reason "joint
interest area (no resident population)": their few residents would make per-capita figures
meaningless, so their population stays empty (as in data/boundaries/SOURCES.md).
"""
from __future__ import annotations

from data.ingest.batch import Batch
from data.ingest.fields import Districting, Field
from data.ingest.source import Source
from data.ingest.sql import qi

SOURCE = Source(
    "nyc_acs_population", "NYC population by community district (ACS 2019-2023)", "geography",
    "US Census Bureau ACS (public domain), tabulated by NYC DCP; NYC Open Data terms of use",
    "American Community Survey 5-year population estimates (Pop_1E) by community district tabulation "
    "area, the denominator of per-1,000-residents views.")

GEOID_SQL = ("CASE WHEN regexp_full_match({x}, '(?i)(MN|BX|BK|QN|SI)\\d{1,2}') THEN CAST("
             "(CASE upper(left({x}, 2)) WHEN 'MN' THEN 1 WHEN 'BX' THEN 2 WHEN 'BK' THEN 3 WHEN 'QN' THEN 4 "
             "ELSE 5 END) * 100 + CAST(substr({x}, 3) AS INTEGER) AS VARCHAR) "
             "WHEN regexp_full_match({x}, '\\d+(\\.0+)?') THEN CAST(CAST(CAST({x} AS DOUBLE) AS BIGINT) AS VARCHAR) "
             "ELSE {x} END")


def load(batch: Batch) -> None:
    key = batch.options.get("key_column") or "GeoID"
    pop = batch.options.get("population_column") or "Pop_1E"
    batch.read_csv([key, pop])
    fields = [
        Field("district_key", qi(key), required=True, sql=GEOID_SQL, label=key),
        Field("population", qi(pop), "int", required=True, thousands=",", label=pop),
    ]
    batch.stage(fields, [("population < 0", "negative population"),
                         ("district_key IN (SELECT district_id FROM districts WHERE is_joint_area)",
                          "joint interest area (no resident population)")],
                district=Districting(key="district_key"), dedup=["district_id"], dedup_reason="duplicate district")
    n = batch.con.execute(
        "UPDATE districts SET population = c.population FROM checked c "
        "WHERE c._reason IS NULL AND districts.district_id = c.district_id").fetchone()[0]
    batch.written["districts"] += int(n)
