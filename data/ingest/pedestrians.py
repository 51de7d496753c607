"""NYC DOT bi-annual pedestrian counts (→ ``pedestrian_counts``).

Wide format as published: one row per count location (``the_geom`` a WKT ``POINT (lon lat)``,
``loc``, ``borough``, street names) and one column per count session, named
``<month>_<yy>_<session>``: ``may_07_am``, ``sept_07_pm``, ``oct24_md``, ``june_24_am`` and,
as published, ``may_22_p_m``. Sessions: ``am`` weekday morning, ``pm`` weekday evening, ``md``
Saturday midday. The file gives the month and year of a count, not its day, so each count is
dated the 1st of its month and the source is monthly (its metrics publish months only).

Each location row becomes one ``pedestrian_counts`` row per non-empty session column. The
district comes from the point (point-in-polygon); a point outside every district, a malformed
point, a negative or non-integer count quarantine the location's row with the reason. Columns
that look like counts but do not parse (an unknown month name) are named in the error.
"""
from __future__ import annotations

import re
from datetime import date

from data.ingest.batch import Batch
from data.ingest.errors import MissingColumnsError
from data.ingest.fields import Districting, Field
from data.ingest.source import Source
from data.ingest.sql import qi

SOURCE = Source(
    "nyc_dot_pedestrian_counts", "NYC DOT bi-annual pedestrian counts", "transport", "NYC Open Data terms of use",
    "NYC Department of Transportation pedestrian counts at fixed locations, twice a year (May/June and "
    "September/October): weekday morning, weekday evening and Saturday midday sessions.",
    grain="month")

MONTHS = {"may": 5, "jun": 6, "june": 6, "sep": 9, "sept": 9, "oct": 10, "apr": 4, "jul": 7, "aug": 8, "nov": 11}
COUNT_COLUMN = re.compile(r"^(?P<month>[a-z]+)_?(?P<yy>\d{2})_(?P<session>am|pm|md|p_m)$")
METADATA = {"the_geom", "objectid", "loc", "borough", "street_nam", "from_stree", "to_street", "iex"}
POINT = r"^\s*POINT\s*\(\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s+(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s*\)\s*$"


def count_columns(header: list[str]) -> list[tuple[str, int, int, str]]:
    """(column, year, month, session) of every count column; raises on one it cannot read."""
    out, unreadable = [], []
    for column in header:
        name = column.strip().lower()
        if name in METADATA:
            continue
        m = COUNT_COLUMN.match(name)
        if not m or m.group("month") not in MONTHS:
            unreadable.append(column)
            continue
        session = "pm" if m.group("session") == "p_m" else m.group("session")
        out.append((column, 2000 + int(m.group("yy")), MONTHS[m.group("month")], session))
    if unreadable:
        raise MissingColumnsError(f"count columns not understood (expected <month>_<yy>_<am|pm|md>): "
                                  f"{', '.join(unreadable[:5])}")
    if not out:
        raise MissingColumnsError("no count columns (<month>_<yy>_<am|pm|md>, e.g. may_07_am)")
    return out


def load(batch: Batch) -> None:
    header = batch.read_csv(["the_geom", "loc"])
    counts = count_columns(header)
    fields = [
        Field("location_id", qi("loc"), required=True, label="loc"),
        Field("lon", qi("the_geom"), "double", label="the_geom", sql=f"TRY_CAST(regexp_extract({{x}}, {batch.bind(POINT)}, 1) AS DOUBLE)"),
        Field("lat", qi("the_geom"), "double", label="the_geom", sql=f"TRY_CAST(regexp_extract({{x}}, {batch.bind(POINT)}, 2) AS DOUBLE)"),
    ]
    fields += [Field(f"c{i}", qi(col), "int", label=col, thousands=",") for i, (col, *_rest) in enumerate(counts)]
    names = [f"c{i}" for i in range(len(counts))]
    checks = [(" OR ".join(f"{c} < 0" for c in names), "negative count")]
    batch.stage(fields, checks, district=Districting(lon="lon", lat="lat"), dedup=["location_id"],
                dedup_reason="duplicate location")
    parts = [f"SELECT _reason, CAST({batch.bind(date(year, month, 1))} AS DATE) AS day, district_id, location_id, "
             f"{batch.bind(session)} AS session, c{i} AS pedestrians FROM checked"
             for i, (_col, year, month, session) in enumerate(counts)]
    batch.insert("pedestrian_counts", {"day": "day", "location_id": "location_id", "district_id": "district_id",
                                       "session": "session", "pedestrians": "pedestrians"},
                 source="(" + " UNION ALL ".join(parts) + ") u", where="pedestrians IS NOT NULL",
                 upsert_key=("day", "location_id", "session"), time_expr="day")
