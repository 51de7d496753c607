"""NYC DOT automated traffic volume counts (→ ``traffic_counts_borough``, or ``traffic_counts``
with a segment map).

The published rows locate a counter only by borough and LION street segment id
(``Boro, SegmentID, street, fromSt, toSt, Direction``); no coordinates, and the segment
geometry is not in the pack. ``traffic_counts`` needs a district, and a borough spans up to
18 districts, so — by design — rows go to ``traffic_counts_borough(ts, segment_id, borough,
direction, street, from_street, to_street, volume)``, a table of ``data/schema.sql``: the
data is kept and can feed borough-level or citywide views, but no district figure is
invented. Give ``--segments FILE.csv`` (columns ``segment_id`` and either ``district_id`` or
``lon``/``lat``) to place counters in districts: mapped segments then go to ``traffic_counts``.

ts = Yr-M-D HH:MM (MM when the file has it, else :00). Volumes carry thousands commas.
Two counts of the same segment, direction and hour with different volumes are kept (separate
counters or lanes); exact duplicate rows are quarantined.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data.ingest.batch import Batch
from data.ingest.errors import FormatError, MissingColumnsError
from data.ingest.fields import Field
from data.ingest.source import Source
from data.ingest.sql import qi

SOURCE = Source(
    "nyc_dot_traffic_counts", "NYC DOT automated traffic volume counts", "transport",
    "NYC Open Data terms of use",
    "NYC Department of Transportation automated traffic recorder counts by street segment and hour "
    "(borough known; district only where a segment map is given).")


def _segment_map(batch: Batch, path: Path) -> None:
    try:
        frame = pd.read_csv(path, dtype=str)
    except Exception as exc:  # noqa: BLE001
        raise FormatError(f"segment map {path.name}: {str(exc).splitlines()[0]}") from None
    if "segment_id" not in frame.columns:
        raise MissingColumnsError(f"segment map {path.name}: needs a segment_id column")
    if "district_id" not in frame.columns:
        if not {"lon", "lat"} <= set(frame.columns):
            raise MissingColumnsError(f"segment map {path.name}: needs district_id or lon and lat")
        ids, _ = batch.districts().locate(pd.to_numeric(frame["lon"], errors="coerce").values,
                                          pd.to_numeric(frame["lat"], errors="coerce").values)
        frame["district_id"] = ids
    frame = frame[["segment_id", "district_id"]].dropna()
    batch.con.register("ingest_segment_frame", frame)
    batch.con.execute("CREATE OR REPLACE TEMP TABLE ingest_segments AS SELECT DISTINCT ON (segment_id) "
                      "trim(segment_id) AS segment_id, trim(district_id) AS district_id FROM ingest_segment_frame "
                      "WHERE trim(district_id) IN (SELECT district_id FROM districts)")
    batch.con.unregister("ingest_segment_frame")


def load(batch: Batch) -> None:
    header = batch.read_csv(["Boro", "Yr", "M", "D", "HH", "Vol", "SegmentID"])
    segments = batch.options.get("segments")
    if segments:
        _segment_map(batch, Path(segments))

    def opt(c: str) -> str | None:
        """The quoted column when the file has it (older exports lack some)."""
        return qi(c) if c in header else None

    mm = "coalesce(nullif(trim(\"MM\"), ''), '0')" if "MM" in header else "'0'"
    ts_sql = ("try_strptime(concat_ws(' ', concat_ws('-', trim(\"Yr\"), trim(\"M\"), trim(\"D\")), "
              f"concat_ws(':', trim(\"HH\"), {mm})), '%Y-%m-%d %H:%M')")
    fields = [
        Field("ts", "concat_ws(' ', \"Yr\", \"M\", \"D\", \"HH\")", "timestamp", required=True, sql=ts_sql,
              label="Yr/M/D/HH"),
        Field("segment_id", qi("SegmentID"), required=True),
        Field("borough", qi("Boro"), required=True),
        Field("direction", opt("Direction")), Field("street", opt("street")),
        Field("from_street", opt("fromSt")), Field("to_street", opt("toSt")),
        Field("volume", qi("Vol"), "int", required=True, thousands=",", label="Vol"),
        Field("row_key", None, sql="md5(" + " || '|' || ".join(f"coalesce({qi(c)}, '')" for c in header) + ")"),
    ]
    if segments:
        fields.append(Field("mapped_district", None, sql="(SELECT s.district_id FROM ingest_segments s WHERE "
                                                     "s.segment_id = trim(raw.\"SegmentID\"))"))
    batch.stage(fields, [("volume < 0", "negative volume")], dedup=["row_key"], dedup_reason="duplicate row")
    batch.insert("traffic_counts_borough", {c: c for c in ("ts", "segment_id", "borough", "direction", "street",
                                                           "from_street", "to_street", "volume")},
                 where="mapped_district IS NULL" if segments else "", time_expr="ts")
    if segments:
        batch.insert("traffic_counts", {"ts": "ts", "segment_id": "segment_id", "district_id": "mapped_district",
                                        "volume": "volume"}, where="mapped_district IS NOT NULL", time_expr="ts")
