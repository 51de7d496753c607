"""MTA daily ridership (→ ``transit_ridership_city``, declared in ``data/schema.sql``).

The MTA publishes **citywide** totals only (one row per day, one column pair per mode:
"<Mode>: Total Estimated Ridership" and "<Mode>: % of Comparable Pre-Pandemic Day").
``transit_ridership`` requires a real district and no district can be derived, so these rows
are not forced into it (no fake 'city' district, no quarantine of valid data): they go to
``transit_ridership_city(day, mode, riders, unit, baseline_pct, baseline_riders)``.
``baseline_riders`` = riders × 100 / pct (derived, rounded) so a citywide "vs. baseline"
metric can use the same ratio-of-sums method as the district one. Modes are read from the
header, so a file with more or fewer modes loads unchanged. Units: riders (subway, bus, rail),
trips (Access-A-Ride scheduled trips), vehicles (bridges and tunnels traffic).
"""
from __future__ import annotations

import re

from data.ingest.batch import Batch
from data.ingest.errors import MissingColumnsError
from data.ingest.fields import Field
from data.ingest.source import Source
from data.ingest.sql import qi

SOURCE = Source(
    "nyc_mta_ridership", "MTA daily ridership (citywide)", "transport", "NYC Open Data terms of use",
    "Metropolitan Transportation Authority daily ridership estimates by mode, citywide, with the "
    "percentage of a comparable pre-pandemic day.", grain="day")

MODE_NAMES = {"subways": "subway", "buses": "bus", "lirr": "lirr", "metro-north": "metro_north",
              "access-a-ride": "access_a_ride", "bridges and tunnels": "bridges_tunnels",
              "staten island railway": "staten_island_railway"}


def _mode(label: str) -> str:
    key = label.strip().lower()
    return MODE_NAMES.get(key) or re.sub(r"[^a-z0-9]+", "_", key).strip("_")


def _unit(column: str) -> str:
    c = column.lower()
    return "vehicles" if "traffic" in c else "trips" if "trips" in c else "riders"


def load(batch: Batch) -> None:
    header = batch.read_csv(["Date"])
    modes = []
    for col in header:
        if ":" in col and "%" not in col:
            label = col.split(":", 1)[0]
            pct = next((c for c in header if c.startswith(label + ":") and "%" in c), None)
            modes.append((_mode(label), col, pct, _unit(col)))
    if not modes:
        raise MissingColumnsError("no '<Mode>: Total ...' ridership column in the header")
    fields = [Field("day", qi("Date"), "date", required=True, formats=["%Y-%m-%d", "%m/%d/%Y"], label="Date")]
    for i, (_, col, pct, _) in enumerate(modes):
        fields.append(Field(f"r{i}", qi(col), "bigint", thousands=",", label=col))
        if pct:
            fields.append(Field(f"p{i}", qi(pct), "double", label=pct, sql=None, decimal=None))
    rs = [f"r{i}" for i in range(len(modes))]
    ps = [f"p{i}" for i, m in enumerate(modes) if m[2]]
    checks = [(" OR ".join(f"{r} < 0" for r in rs), "negative ridership"),
              (" AND ".join(f"{r} IS NULL" for r in rs), "no ridership reported")]
    if ps:
        checks.append((" OR ".join(f"{p} < 0 OR {p} > 1000" for p in ps), "percentage out of range"))
    batch.stage(fields, checks, dedup=["day"], dedup_reason="duplicate Date")
    parts = []
    for i, (mode, _, pct, unit) in enumerate(modes):
        p = f"p{i}" if pct else "NULL"
        parts.append(f"SELECT _reason, day, {batch.bind(mode)} AS mode, r{i} AS riders, {batch.bind(unit)} AS unit, "
                     f"CAST({p} AS DOUBLE) AS pct FROM checked")
    batch.insert("transit_ridership_city", {
        "day": "day", "mode": "mode", "riders": "riders", "unit": "unit", "baseline_pct": "pct",
        "baseline_riders": "CASE WHEN pct > 0 THEN CAST(round(riders * 100.0 / pct) AS BIGINT) END"},
        source="(" + " UNION ALL ".join(parts) + ") u", where="riders IS NOT NULL",
        upsert_key=("day", "mode"), time_expr="day")
