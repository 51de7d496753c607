"""GBFS feeds (General Bikeshare Feed Specification, any city, v1.x / 2.x / 3.0).

* ``station_information.json`` → ``bike_stations`` (upsert by station_id): name, lat/lon,
  capacity; district by point-in-polygon. Stations outside every district (83 Citi Bike
  stations are in New Jersey) are quarantined "outside boundaries".
* ``station_status.json`` → ``bike_station_status``: one row per station at the feed's
  ``last_updated`` time (the snapshot time), bikes and docks available, the station's capacity
  and district from ``bike_stations``. Quarantined: stations outside boundaries (known from
  the information feed's quarantine), unknown stations, stations not installed
  (``is_installed`` false), negative counts, docked bikes (available + disabled) above
  capacity ("occupancy above capacity").

Load information before status (the CLI sorts them). Status snapshots are usually fetched to
the same path again and again, so a new status file at the same path *adds* a snapshot instead
of replacing the previous one; a repeated snapshot (same bytes) is skipped, and a snapshot with
the same (ts, station) replaces the earlier rows.
"""
from __future__ import annotations

from pathlib import Path

from data.ingest.batch import Batch
from data.ingest.errors import EmptyFileError, FormatError
from data.ingest.fields import Districting, Field
from data.ingest.files import read_json
from data.ingest.source import Source
from data.ingest.sql import qi
from data.ingest.targets import TARGETS

SOURCE = Source(
    "gbfs", "Bike-share stations (GBFS)", "transport",
    "as published by the operator (see its GBFS system_information and licence_url)",
    "General Bikeshare Feed Specification station information and status.")
NYC_SOURCE = Source(
    "nyc_citibike_gbfs", "Citi Bike stations and status (GBFS)", "transport",
    "Citi Bike Data License Agreement (Lyft Bikes and Scooters, LLC)",
    "Citi Bike GBFS station_information and station_status snapshots: station capacity, bikes and "
    "docks available.")


def read_feed(path: Path) -> tuple[str, dict, list[dict]]:
    """(kind, document, stations) with kind 'information' or 'status'."""
    doc = read_json(path)
    stations = (doc.get("data") or {}).get("stations") if isinstance(doc, dict) and isinstance(doc.get("data"), dict) else None
    if not isinstance(stations, list):
        raise FormatError("not a GBFS station feed (no data.stations list)")
    if not stations:
        raise EmptyFileError("the feed lists no stations")
    sample = [s for s in stations[:50] if isinstance(s, dict)]
    if any("num_bikes_available" in s or "num_vehicles_available" in s or "num_docks_available" in s for s in sample):
        return "status", doc, stations
    if any("lat" in s or "lon" in s for s in sample):
        return "information", doc, stations
    raise FormatError("neither station_information (lat/lon) nor station_status (num_bikes_available)")


def feed_kind(path: Path) -> str:
    try:
        return read_feed(path)[0]
    except Exception:  # noqa: BLE001 - errors are reported when the file is loaded
        return "unknown"


def _name(value):
    if isinstance(value, list):   # GBFS 3.0: [{"text": ..., "language": ...}]
        for item in value:
            if isinstance(item, dict) and item.get("text"):
                return item["text"]
        return None
    return value


def load(batch: Batch) -> None:
    kind, doc, stations = read_feed(batch.path)
    if kind == "information":
        _load_information(batch, stations)
    else:
        _load_status(batch, doc, stations)


def _records(stations: list, columns: list[str], extra: dict | None = None) -> list[dict]:
    out = []
    for s in stations:
        s = s if isinstance(s, dict) else {"_invalid": s}
        rec = {c: s.get(c) for c in columns}
        if "name" in rec:
            rec["name"] = _name(rec["name"])
        rec.update(extra or {})
        out.append(rec)
    return out


def _load_information(batch: Batch, stations: list) -> None:
    cols = ["station_id", "name", "short_name", "lat", "lon", "capacity"]
    batch.raw_from_records(_records(stations, cols), cols)
    fields = [
        Field("station_id", qi("station_id"), required=True),
        Field("name", None, sql="coalesce(nullif(trim(\"name\"), ''), nullif(trim(short_name), ''), trim(station_id))"),
        Field("lat", qi("lat"), "double", required=True), Field("lon", qi("lon"), "double", required=True),
        Field("capacity", qi("capacity"), "int", required=True),
    ]
    batch.stage(fields, [("capacity < 0", "negative capacity")], district=Districting(lon="lon", lat="lat"),
                dedup=["station_id"], dedup_reason="duplicate station_id",
                keep=["station_id"])  # the status feed reads back which stations lie outside
    batch.insert("bike_stations", {"station_id": "station_id", "name": "name", "lat": "lat", "lon": "lon",
                                   "capacity": "capacity"}, replace_pk=True)


# A status row's station in the station table (its district, its capacity), and whether the
# station was quarantined 'outside boundaries' when this source's information feed was loaded
# (static statements; $s is the batch's source id).
STATION_DISTRICT = "(SELECT b.district_id FROM bike_stations b WHERE b.station_id = nullif(trim(raw.station_id), ''))"
STATION_CAPACITY = "(SELECT b.capacity FROM bike_stations b WHERE b.station_id = nullif(trim(raw.station_id), ''))"
STATION_OUTSIDE = ("(nullif(trim(raw.station_id), '') IN (SELECT json_extract_string(q.raw, '$.station_id') "
                   "FROM quarantine q WHERE q.source_id = $s AND q.reason = 'outside boundaries'))")


def _load_status(batch: Batch, doc: dict, stations: list) -> None:
    updated = doc.get("last_updated")
    kind = "epoch" if isinstance(updated, (int, float)) or (isinstance(updated, str) and updated.isdigit()) else "tstz"
    cols = ["station_id", "num_bikes_available", "num_vehicles_available", "num_bikes_disabled",
            "num_vehicles_disabled", "num_docks_available", "is_installed", "last_reported"]
    recs = _records(stations, cols)
    present = [c for c in cols if any(r.get(c) is not None for r in recs)] or ["station_id"]
    for r in recs:
        r["feed_last_updated"] = updated
    batch.raw_from_records(recs, present + ["feed_last_updated"])
    bikes = "num_bikes_available" if "num_bikes_available" in present else "num_vehicles_available"
    disabled = "num_bikes_disabled" if "num_bikes_disabled" in present else "num_vehicles_disabled"
    fields = [
        Field("ts", qi("feed_last_updated"), kind, required=True, label="last_updated"),
        Field("station_id", qi("station_id"), required=True),
        Field("bikes_available", qi(bikes) if bikes in present else None, "int", required=True, label=bikes),
        Field("docks_available", qi("num_docks_available") if "num_docks_available" in present else None, "int",
              required=True, label="num_docks_available"),
        Field("disabled", qi(disabled) if disabled in present else None, "int", label=disabled),
        Field("installed", qi("is_installed") if "is_installed" in present else None, "bool", label="is_installed"),
        Field("district_key", None, sql=STATION_DISTRICT),
        Field("capacity", None, sql=STATION_CAPACITY),
        Field("outside", None, sql=STATION_OUTSIDE),
    ]
    checks = [
        ("bikes_available < 0 OR docks_available < 0 OR disabled < 0", "negative count"),
        ("installed = false", "station not installed"),
        ("district_key IS NULL AND outside", "outside boundaries"),
        ("district_key IS NULL", "unknown station"),
        ("bikes_available + coalesce(disabled, 0) > capacity", "occupancy above capacity"),
    ]
    batch.stage(fields, checks, district=Districting(key="district_key"), dedup=["station_id"],
                dedup_reason="duplicate station_id")
    batch.insert("bike_station_status", {"ts": "ts", "station_id": "station_id", "capacity": "capacity",
                                         "bikes_available": "bikes_available", "docks_available": "docks_available"},
                 upsert_key=TARGETS["bike_station_status"].upsert_key, time_expr="ts")
