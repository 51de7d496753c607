"""Bike-share trip CSVs in the Citi Bike / Lyft system-data format (→ ``bike_trips``).

Columns ``ride_id, rideable_type, started_at, ended_at, start_station_name, start_station_id,
..., start_lat, start_lng, ..., member_casual`` (the format of Citi Bike since 2021, also used
by Divvy, Capital Bikeshare, Bay Wheels). The district is found by point-in-polygon on the
start point; a trip starting outside every district (e.g. Jersey City) is quarantined
"outside boundaries". Trips ending before they start and repeated ``ride_id`` are quarantined.
"""
from __future__ import annotations

from data.ingest.batch import Batch
from data.ingest.fields import Districting, Field
from data.ingest.source import Source
from data.ingest.sql import qi
from data.ingest.targets import RIDER_SQL, TARGETS

SOURCE = Source(
    "nyc_citibike_trips", "Citi Bike trips", "transport",
    "Citi Bike Data License Agreement (Lyft Bikes and Scooters, LLC)",
    "Citi Bike system data: one row per trip with start and end times, stations and coordinates; "
    "district of the start point.")


def load(batch: Batch) -> None:
    header = batch.read_csv(["started_at", "ended_at", "start_lat", "start_lng"])
    fields = [
        Field("started_at", qi("started_at"), "timestamp", required=True),
        Field("ended_at", qi("ended_at"), "timestamp", required=True),
        Field("start_station_id", qi("start_station_id") if "start_station_id" in header else None),
        Field("rider_type", qi("member_casual") if "member_casual" in header else None,
              sql=RIDER_SQL if "member_casual" in header else None),
        Field("lat", qi("start_lat"), "double"),
        Field("lon", qi("start_lng"), "double"),
        Field("ride_id", qi("ride_id") if "ride_id" in header else None),
    ]
    batch.stage(fields, TARGETS["bike_trips"].rules, district=Districting(lon="lon", lat="lat"),
                dedup=["ride_id"] if "ride_id" in header else None, dedup_reason="duplicate ride_id")
    batch.insert("bike_trips", {"started_at": "started_at", "ended_at": "ended_at",
                                "start_station_id": "start_station_id", "rider_type": "rider_type"},
                 time_expr="started_at")
