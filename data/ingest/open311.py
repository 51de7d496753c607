"""Open311 GeoReport v2 service requests (→ ``service_requests``), any city.

Input: the JSON of ``GET /requests.json`` — a list of requests (or an object with a
``requests`` / ``service_requests`` list): ``service_request_id, status, service_name,
service_code, description, requested_datetime, updated_datetime, expected_datetime, lat, long,
address, ...``. Datetimes are ISO 8601 with an offset; they are converted to city-local time
(``--tz``, default America/New_York). GeoReport has no "closed at": a closed request's
``updated_datetime`` is used as its closing time. Due date = ``expected_datetime``. District by
point-in-polygon; requests without coordinates are quarantined "missing coordinates". Line
numbers are the request's position in the list (1-based). A request seen again in a later
export replaces the earlier row; a new export at the same path adds to the earlier ones.
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
    "open311", "Open311 service requests", "satisfaction",
    "as published by the city's Open311 endpoint (see its terms)",
    "Service requests from an Open311 GeoReport v2 endpoint (requests.json).")

COLUMNS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
           "agency_responsible", "requested_datetime", "updated_datetime", "expected_datetime", "address",
           "zipcode", "lat", "long", "media_url", "token"]


def read_requests(path: Path) -> list:
    doc = read_json(path)
    if isinstance(doc, dict):
        doc = doc.get("requests", doc.get("service_requests"))
    if not isinstance(doc, list):
        raise FormatError("not a GeoReport v2 requests list (expected a JSON array of requests)")
    if not doc:
        raise EmptyFileError("the list has no requests")
    return doc


def load(batch: Batch) -> None:
    records = [r if isinstance(r, dict) else {"_invalid": r} for r in read_requests(batch.path)]
    keys = {k for r in records[:1000] for k in r}
    if not keys & {"service_request_id", "requested_datetime", "service_name"}:
        raise FormatError("no GeoReport v2 fields (service_request_id, requested_datetime, service_name)")
    batch.raw_from_records(records, COLUMNS + sorted(keys - set(COLUMNS)))
    fields = [
        Field("request_id", qi("service_request_id"), required=True, label="service_request_id"),
        Field("created_at", qi("requested_datetime"), "tstz", required=True, label="requested_datetime"),
        Field("updated_at", qi("updated_datetime"), "tstz", label="updated_datetime"),
        Field("due_at", qi("expected_datetime"), "tstz", future_ok=True, label="expected_datetime"),
        Field("category", None, sql="coalesce(nullif(trim(service_name), ''), nullif(trim(service_code), ''))"),
        Field("status", qi("status"), required=True, sql="CASE lower({x}) WHEN 'closed' THEN 'closed' "
              "WHEN 'open' THEN 'open' END", label="status"),
        Field("description", qi("description")),
        Field("lat", qi("lat"), "double"), Field("lon", qi("long"), "double", label="long"),
    ]
    closed = "CASE WHEN status = 'closed' THEN updated_at END"
    checks = [("category IS NULL", "missing: service_name"),
              (f"{closed} < created_at", "closed before created")]
    batch.stage(fields, checks, district=Districting(lon="lon", lat="lat"), dedup=["request_id"],
                dedup_reason="duplicate service_request_id")
    batch.insert("service_requests", {
        "request_id": "request_id", "created_at": "created_at", "closed_at": closed, "due_at": "due_at",
        "category": "category", "channel": "NULL", "status": "status", "lat": "lat", "lon": "lon",
        "description": "description"}, upsert_key=TARGETS["service_requests"].upsert_key, time_expr="created_at")
