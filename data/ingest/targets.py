"""The warehouse fact tables an adapter can load, with their fields and validation rules.

Used by the generic CSV mapping adapter (a YAML file names the target table and maps its
fields) and by the city-specific adapters for the same range checks. A rule is an SQL
condition over the typed fields that is *true for a bad row*, and the quarantine reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from data import warehouse

# Normalisations applied to the cleaned source value ``{x}``: NULL = not recognised.
STATUS_SQL = ("CASE WHEN lower({x}) IN ('closed', 'close', 'resolved', 'completed', 'complete', 'done', "
              "'cancelled', 'canceled') THEN 'closed' WHEN lower({x}) IN ('open', 'opened', 'new', 'assigned', "
              "'in progress', 'in_progress', 'pending', 'started', 'acknowledged', 'submitted', 'unassigned', "
              "'reopened', 'received', 'email sent', 'unspecified') THEN 'open' END")
RIDER_SQL = ("CASE WHEN lower({x}) IN ('member', 'subscriber', 'annual', 'registered') THEN 'member' "
             "WHEN lower({x}) IN ('casual', 'customer', 'day pass', 'single ride', 'guest') THEN 'casual' END")
CHANNEL_SQL = ("CASE WHEN lower({x}) IN ('phone', 'call', 'telephone', 'voice') THEN 'phone' "
               "WHEN lower({x}) IN ('online', 'web', 'website', 'email', 'e-mail', 'internet') THEN 'online' "
               "WHEN lower({x}) IN ('mobile', 'app', 'iphone', 'android', 'mobile app', 'twitter', 'social') THEN 'app' "
               "WHEN lower({x}) IN ('unknown', 'other', 'unspecified') THEN NULL ELSE lower({x}) END")
STREAM_SQL = ("CASE WHEN lower({x}) IN ('refuse', 'garbage', 'trash', 'residual', 'landfill', 'msw') THEN 'refuse' "
              "WHEN lower({x}) IN ('paper', 'cardboard', 'paper/cardboard') THEN 'paper' "
              "WHEN lower({x}) IN ('mgp', 'metal/glass/plastic', 'commingled', 'containers') THEN 'mgp' "
              "WHEN lower({x}) IN ('organics', 'organic', 'compost', 'food waste', 'yard waste', 'green') THEN 'organics' END")


@dataclass(frozen=True)
class Col:
    name: str
    kind: str = "varchar"
    required: bool = False
    normalise: str | None = None   # SQL template over {x}; NULL result = bad value (if strict)
    future_ok: bool = False
    strict: bool = True
    unit: str | None = None        # t, %, km/h, ...: a mapping's `unit:` must be convertible to it
    vocabulary: tuple[str, ...] = ()   # the only values the column may hold (after map + normalise)


@dataclass(frozen=True)
class Target:
    table: str
    domain: str
    columns: tuple[Col, ...]
    rules: tuple[tuple[str, str], ...] = ()
    upsert_key: tuple[str, ...] = ()        # same key from an earlier file of the source = an update
    dedup: tuple[str, ...] = ()             # duplicates within one file
    has_district: bool = True
    primary_key: bool = False               # INSERT OR REPLACE (dimension tables)
    extra: dict = field(default_factory=dict)

    @property
    def time(self) -> str | None:
        """The data-time column (mark_dirty): the one data/schema.sql dates the table by (None: a
        dimension table such as parking_facilities)."""
        declared = warehouse.TABLES.get(self.table)
        return declared.time if declared else None

    def col(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TARGETS: dict[str, Target] = {t.table: t for t in (
    Target("service_requests", "satisfaction", (
        Col("request_id", required=True), Col("created_at", "timestamp", True), Col("closed_at", "timestamp"),
        Col("due_at", "timestamp", future_ok=True), Col("category", required=True),
        Col("channel", normalise=CHANNEL_SQL, strict=False, vocabulary=("phone", "online", "app")), Col("status", required=True, normalise=STATUS_SQL),
        Col("lat", "double", unit="degree"), Col("lon", "double", unit="degree"), Col("description")),
        rules=(("closed_at < created_at", "closed before created"),
               ("abs(lat) > 90 OR abs(lon) > 180 OR (lat = 0 AND lon = 0) OR ((lat IS NULL) <> (lon IS NULL))",
                "bad coordinates")),
        upsert_key=("request_id",), dedup=("request_id",)),
    Target("waste_tonnage", "waste", (
        Col("day", "date", True), Col("stream", required=True, normalise=STREAM_SQL), Col("tons", "double", True, unit="t")),
        rules=(("tons < 0", "negative tonnage"), ("tons >= 1e6", "tonnage out of range")),
        upsert_key=("day", "district_id", "stream"), dedup=("day", "district_id", "stream")),
    Target("bin_fill", "waste", (
        Col("ts", "timestamp", True), Col("bin_id", required=True), Col("fill_pct", "double", True, unit="%")),
        rules=(("fill_pct < 0 OR fill_pct > 100", "fill level out of range"),),
        upsert_key=("ts", "bin_id"), dedup=("ts", "bin_id")),
    Target("parking_citations", "parking", (
        Col("issued_at", "timestamp", True), Col("violation_code"), Col("fine", "double", unit="money")),
        rules=(("fine < 0", "negative fine"), ("fine >= 100000", "fine out of range"))),
    Target("parking_occupancy", "parking", (
        Col("ts", "timestamp", True), Col("facility_id", required=True), Col("capacity", "int", True),
        Col("occupied", "int", True)),
        rules=(("capacity <= 0", "bad capacity"), ("occupied < 0", "negative occupancy"),
               ("occupied > capacity", "occupancy above capacity")),
        upsert_key=("ts", "facility_id"), dedup=("ts", "facility_id")),
    Target("parking_facilities", "parking", (
        Col("facility_id", required=True), Col("name", required=True), Col("capacity", "int", True),
        Col("kind", required=True)),
        rules=(("capacity < 0", "bad capacity"),), dedup=("facility_id",), primary_key=True),
    Target("traffic_counts", "transport", (
        Col("ts", "timestamp", True), Col("segment_id", required=True), Col("volume", "int", True),
        Col("free_flow_kmh", "double", unit="km/h"), Col("speed_kmh", "double", unit="km/h")),
        rules=(("volume < 0", "negative volume"), ("speed_kmh < 0 OR speed_kmh > 300", "speed out of range"),
               ("free_flow_kmh <= 0 OR free_flow_kmh > 300", "speed out of range"))),
    Target("bike_trips", "transport", (
        Col("started_at", "timestamp", True), Col("ended_at", "timestamp", True), Col("start_station_id"),
        Col("rider_type", normalise=RIDER_SQL)),
        rules=(("ended_at < started_at", "ended before started"),)),
    Target("bike_station_status", "transport", (
        Col("ts", "timestamp", True), Col("station_id", required=True), Col("capacity", "int", True),
        Col("bikes_available", "int", True), Col("docks_available", "int", True)),
        rules=(("bikes_available < 0 OR docks_available < 0 OR capacity < 0", "negative count"),
               ("bikes_available > capacity", "occupancy above capacity")),
        upsert_key=("ts", "station_id"), dedup=("ts", "station_id")),
    Target("transit_ridership", "transport", (
        Col("day", "date", True), Col("mode", required=True), Col("riders", "bigint", True),
        Col("baseline_riders", "bigint")),
        rules=(("riders < 0 OR baseline_riders < 0", "negative ridership"),),
        upsert_key=("day", "district_id", "mode"), dedup=("day", "district_id", "mode")),
    Target("satisfaction_responses", "satisfaction", (
        Col("responded_at", "timestamp", True), Col("request_id"), Col("category"), Col("score", "int", True)),
        rules=(("score < 1 OR score > 5", "score out of range"),)),
    # a figure a department computes itself, published as reported (data/ingest/generic.py:
    # the mapping's `measure:` names it, its unit, range, period grain and method)
    Target("reported_measures", "satisfaction", (
        Col("period", "date", True), Col("value", "double", True)),
        upsert_key=("measure_id", "period", "district_id"), dedup=("period", "district_id")),
)}
