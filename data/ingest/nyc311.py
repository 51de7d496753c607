"""NYC 311 service requests (→ ``service_requests``), both published formats:

* the classic export (Title Case columns: ``Unique Key, Created Date, ..., Community Board``,
  dates like "3/14/2025 1:20" or "03/14/2025 01:20:00 AM"),
* the Open Data API / SODA format (snake_case: ``unique_key, created_date, ...``, ISO dates,
  ``open_data_channel_type``).

District from ``community_board`` ("05 BROOKLYN" → 305, "81 QUEENS" → 481); when the board is
empty, by point-in-polygon on latitude/longitude. "Unspecified" boards ("Unspecified QUEENS",
"0 Unspecified") are quarantined "unspecified community board": 311 could not place them.
Status "Closed" → closed, anything else → open. Channel PHONE → phone, ONLINE → online,
MOBILE → app. Complaint Type → category, Descriptor → description. A request loaded again
from a later export replaces the earlier row (the newer status wins).
"""
from __future__ import annotations

from data.ingest.batch import Batch
from data.ingest.errors import FormatError
from data.ingest.fields import Districting, Field
from data.ingest.source import Source
from data.ingest.sql import qi
from data.ingest.targets import CHANNEL_SQL, TARGETS

SOURCE = Source(
    "nyc_311", "NYC 311 service requests", "satisfaction", "NYC Open Data terms of use",
    "NYC 311 service requests from 2010 to present: complaint type, agency, created/closed/due dates, "
    "community board and location. Contains exact locations and free text: never published row by row.")

CLASSIC = {"id": "Unique Key", "created": "Created Date", "closed": "Closed Date", "due": "Due Date",
           "type": "Complaint Type", "descriptor": "Descriptor", "status": "Status", "board": "Community Board",
           "lat": "Latitude", "lon": "Longitude", "channel": "Open Data Channel Type"}
API = {"id": "unique_key", "created": "created_date", "closed": "closed_date", "due": "due_date",
       "type": "complaint_type", "descriptor": "descriptor", "status": "status", "board": "community_board",
       "lat": "latitude", "lon": "longitude", "channel": "open_data_channel_type"}
FORMATS = ["%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p",
           "%Y-%m-%dT%H:%M:%S.%g", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y"]
BOARD_SQL = ("CASE WHEN regexp_full_match({x}, '(?i)\\d{1,2}\\s+(MANHATTAN|BRONX|BROOKLYN|QUEENS|STATEN ISLAND)') "
             "THEN CAST((CASE upper(trim(regexp_extract({x}, '^\\d+\\s+(.*)$', 1))) WHEN 'MANHATTAN' THEN 1 "
             "WHEN 'BRONX' THEN 2 WHEN 'BROOKLYN' THEN 3 WHEN 'QUEENS' THEN 4 ELSE 5 END) * 100 "
             "+ CAST(regexp_extract({x}, '^(\\d+)', 1) AS INTEGER) AS VARCHAR) END")


def load(batch: Batch) -> None:
    from data.ingest.files import read_header

    header = read_header(batch.path, ",", '"', "utf-8")
    names = CLASSIC if "Unique Key" in header else API if "unique_key" in header else None
    if names is None:
        raise FormatError("not a 311 export: no 'Unique Key' (classic) or 'unique_key' (API) column; "
                          f"found {', '.join(repr(c) for c in header[:6])}")
    header = batch.read_csv([names[k] for k in ("id", "created", "type", "status", "board")],
                            any_of=[(names["lat"],), (names["lon"],)])

    def opt(k: str) -> str | None:
        """The quoted column of field k when the file has it (an API export lacks some)."""
        return qi(names[k]) if names[k] in header else None

    fields = [
        Field("request_id", opt("id"), required=True, label=names["id"]),
        Field("created_at", opt("created"), "timestamp", required=True, formats=FORMATS, label=names["created"]),
        Field("closed_at", opt("closed"), "timestamp", formats=FORMATS, label=names["closed"]),
        Field("due_at", opt("due"), "timestamp", formats=FORMATS, future_ok=True, label=names["due"]),
        Field("category", opt("type"), required=True, label=names["type"]),
        Field("description", opt("descriptor")),
        Field("channel", opt("channel"), sql=CHANNEL_SQL if opt("channel") else None, label=names["channel"],
              strict=False),
        Field("status", opt("status"), required=True, sql="CASE WHEN lower({x}) = 'closed' THEN 'closed' ELSE 'open' END",
              label=names["status"]),
        Field("board", opt("board")),
        Field("district_key", None, sql=BOARD_SQL.replace("{x}", f"nullif(trim({opt('board')}), '')")
              if opt("board") else None),
        Field("lat", opt("lat"), "double", label=names["lat"]),
        Field("lon", opt("lon"), "double", label=names["lon"]),
    ]
    checks = [("board ILIKE '%unspecified%'", "unspecified community board"),
              ("board IS NOT NULL AND district_key IS NULL", "unknown community board"),
              *TARGETS["service_requests"].rules]
    batch.stage(fields, checks, district=Districting(key="district_key", lon="lon", lat="lat"),
                dedup=["request_id"], dedup_reason=f"duplicate {names['id']}")
    batch.insert("service_requests", {c: c for c in ("request_id", "created_at", "closed_at", "due_at", "category",
                                                     "channel", "status", "lat", "lon", "description")},
                 upsert_key=("request_id",), time_expr="created_at")
