"""The demo city: a deterministic, believable simulated New York for CityOps.

``python -m data.demo [--scale F] [--days N] [--end YYYY-MM-DDTHH] [--seed N] [--db PATH] [--force]
[--publish | --no-publish] [--quiet]`` builds a complete warehouse (every table of ``data/schema.sql`` except the rollups) from the
shipped district outlines (``data/boundaries/community_districts.geojson``: real NYC community
districts and ACS populations) and numpy-generated facts. Same seed, days, end and scale →
identical rows.

Model (one source of truth, also used by ``data/livefeed.py``)
--------------------------------------------------------------
* **Entities** (bike stations, parking facilities, smart bins, traffic segments) are allocated to
  districts by population, density, a jobs index (Midtown and the Financial District are the
  centre of gravity), car ownership and area: Manhattan gets the busiest bike stations and the
  hottest parking, the outer boroughs get most of the parking spaces. Their hidden
  behaviour (bike-station role, parking peak level, bin collection days and fill rate, segment
  capacity) is a pure function of ``(seed, entity id, district)`` (see ``City``), so the live feed
  rebuilds the same city from the warehouse alone (seed and scale are recorded in
  ``load_batches.file`` as ``data.demo seed=… scale=…``).
* **Time**: timestamps are naive city-local times. Hourly profiles (commute peaks on working
  days, a late broad peak at weekends and on public holidays), seasons (temperature curve: bikes
  fall to ~30 % in winter, heat complaints from October to May, potholes in late winter, more
  refuse in December, leaf organics in autumn) and daily weather (rain, snow) drawn per day
  from ``(seed, day)``.
* **Sensor readings** (parking, bike docks, bin fill, traffic) are functions of time: a profile
  plus a smooth, entity-specific noise (a sum of sines), so a live reading taken at any second
  continues the hourly history seamlessly. Bin fill follows each bin's collection schedule:
  it rises with waste activity since the last collection and drops at the next one.
* **Events** (bike trips, citations, 311 requests) are Poisson processes on an hourly grid with
  the same profiles, generated for any interval ``[t0, t1)``: a month of history or five seconds
  of live feed. Bike trips are dated by their end (a trip is known once it ends); 311 close
  times are lognormal per category and district (0.5 % are forgotten and closed 20-90 days
  later), and a request still unresolved at the build end is ``open`` with ``closed_at`` NULL.
  Survey answers come from ~12 % of closed requests, scored worse the slower the closure.

Injected incidents (recorded in ``incidents``, ``simulated`` true, placed relative to ``end``;
for ``--days`` under 60 the offsets shrink proportionally and an incident that does not fit is
left out):

* **storm** (40 days before the end, whole day, citywide): bike trips ~3 % of normal, bikes stay
  docked, traffic volume -45 % and slower, transit -45 %, 311 street-condition / streetlight /
  sanitation requests spike (and stay high two more days), parking and citations drop.
* **sensor_outage** (25 days before the end, 48 h, parking, borough ``OUTAGE_BOROUGH``): no
  parking_occupancy rows at all from that borough's facilities in the window.
* **strike** (14 days before the end, 5 days, waste, citywide): collected tonnage falls to ~12 %
  then catches up for three days, bins are not emptied and overflow, missed-collection (×7) and
  sanitation-condition requests spike and close slowly.

Labelled incidents (the ground truth of ``python -m bench.alerts``; table ``labelled_incidents``:
kind, district, start, end, metrics affected, size; never copied into a snapshot), drawn from
``(seed, start, end)`` at ``LABELLED_RATES`` per day over the whole history: **surge** (311
requests ×2.5-6 in one district for 3-9 h; a third of them in any district, so small districts
get bursts of ×8-14 on a handful of requests), **parking_surge** (+12-30 points of occupancy
for 3-6 h), **parking_drift** (occupancy creeping up to +8-30 points over 1-3 days; the
small ones in quiet districts often never reach the target) and **parking_outage** (a district's
parking sensors silent for 6-24 h). The live feed adds none.

Joint interest areas (parks, airports) stay in ``districts`` (flagged ``is_joint_area``) but get
no people-related data: no 311 requests, satisfaction, parking, citations, waste, bins, transit
or traffic. The only facts located there are a few bike stations (and their trips) in Central
Park (164) and Prospect Park (355), as in the real bike-share system.

Data quality: a few sensor readings per 100,000 (parking, bike docks, bins) are glitches that
fail validation; they go to ``quarantine`` with the reason and the reading's values, as an ingest
adapter would put them, instead of their table.

Scale: 1.0 (default, 730 days) is ~7.7M raw rows and builds in ~8 s on two cores;
``--scale`` multiplies stations, facilities, bins, segments, trips, citations and 311 requests
(each district keeps at least one of each entity), so ``--scale 15`` gives ~100M rows (measured:
102M rows, 64 s, 1.5 GB peak memory). Fact tables are generated and loaded month by month,
sorted by time, via Arrow, so memory stays bounded whatever the scale. The build writes
``<db>.<pid>.building`` in the same folder and ``os.replace``-s it over the target only when
complete. ``build()`` never publishes; the CLI then calls ``data.publish.publish`` when it
built the configured warehouse (``--publish`` forces it for another ``--db``, which then
publishes into the configured var dir; ``--no-publish`` skips it).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from data import settings, warehouse

BOUNDARIES = Path(__file__).resolve().parent / "boundaries" / "community_districts.geojson"

HOUR = 3600
DAY = 86400
EPOCH = datetime(1970, 1, 1)

# Base entity counts and event rates at scale 1.0.
BASE_STATIONS = 64
BASE_FACILITIES = 80
BASE_BINS = 120
BASE_SEGMENTS = 64
BIKE_TRIPS_PER_STATION_HOUR = 1.0      # at peak season, mean over the day
CITATIONS_PER_DAY = 700.0
BIN_READING_STEP = 2 * HOUR
PARK_STATION_DISTRICTS = {"164": 2, "355": 1}   # bike stations in joint interest areas

OUTAGE_BOROUGH = "Queens"
# (kind, days before end, start hour, duration hours)
INCIDENT_PLAN = (
    ("storm", 40, 0, 24),
    ("sensor_outage", 25, 9, 48),
    ("strike", 14, 0, 5 * 24),
)

# Every table with a source_id → that source (warehouse.DEMO_SOURCES).
TABLE_SOURCE = {
    "bike_stations": "demo_bike_status",
    "parking_facilities": "demo_parking",
    "bike_trips": "demo_bikeshare",
    "bike_station_status": "demo_bike_status",
    "transit_ridership": "demo_transit",
    "traffic_counts": "demo_traffic",
    "waste_tonnage": "demo_waste",
    "bin_fill": "demo_bins",
    "parking_occupancy": "demo_parking",
    "parking_citations": "demo_citations",
    "service_requests": "demo_311",
    "satisfaction_responses": "demo_survey",
}

# INSERT ... SELECT from a registered Arrow chunk ``_chunk``; $batch is the load batch.
INSERT_SQL = {
    "bike_trips": "INSERT INTO bike_trips SELECT started_at, ended_at, station_id, district_id, "
                  "rider_type, 'demo_bikeshare', $batch FROM _chunk",
    "bike_station_status": "INSERT INTO bike_station_status SELECT ts, station_id, district_id, capacity, "
                           "bikes_available, docks_available, 'demo_bike_status', $batch FROM _chunk",
    "transit_ridership": "INSERT INTO transit_ridership SELECT day, district_id, mode, riders, "
                         "baseline_riders, 'demo_transit', $batch FROM _chunk",
    "traffic_counts": "INSERT INTO traffic_counts SELECT ts, segment_id, district_id, volume, "
                      "free_flow_kmh, speed_kmh, 'demo_traffic', $batch FROM _chunk",
    "waste_tonnage": "INSERT INTO waste_tonnage SELECT day, district_id, stream, tons, 'demo_waste', "
                     "$batch FROM _chunk",
    "bin_fill": "INSERT INTO bin_fill SELECT ts, bin_id, district_id, fill_pct, 'demo_bins', $batch FROM _chunk",
    "parking_occupancy": "INSERT INTO parking_occupancy SELECT ts, facility_id, district_id, capacity, "
                         "occupied, 'demo_parking', $batch FROM _chunk",
    "parking_citations": "INSERT INTO parking_citations SELECT issued_at, district_id, violation_code, fine, "
                         "'demo_citations', $batch FROM _chunk",
    "service_requests": "INSERT INTO service_requests SELECT 'SR' || lpad(CAST(rid AS VARCHAR), 9, '0'), "
                        "created_at, closed_at, due_at, district_id, category, channel, "
                        "CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END, lat, lon, description, "
                        "'demo_311', $batch FROM _chunk",
    "satisfaction_responses": "INSERT INTO satisfaction_responses SELECT responded_at, "
                              "'SR' || lpad(CAST(rid AS VARCHAR), 9, '0'), district_id, category, score, "
                              "'demo_survey', $batch FROM _chunk",
}

# ------------------------------------------------------------------------------ profiles
def _norm(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr / arr.mean()


# Hourly shapes, index = hour of day. "WD" working day, "WE" weekend or public holiday.
BIKE_WD = _norm([0.12, 0.07, 0.04, 0.03, 0.05, 0.18, 0.55, 1.45, 2.35, 1.55, 0.95, 0.95,
                 1.05, 1.05, 1.10, 1.35, 1.95, 2.55, 1.95, 1.30, 0.95, 0.70, 0.45, 0.25])
BIKE_WE = _norm([0.35, 0.22, 0.14, 0.08, 0.06, 0.08, 0.15, 0.30, 0.60, 1.00, 1.40, 1.70,
                 1.85, 1.85, 1.85, 1.75, 1.65, 1.50, 1.30, 1.05, 0.80, 0.60, 0.50, 0.40]) * 0.85
TRAFFIC_WD = _norm([0.28, 0.17, 0.12, 0.11, 0.18, 0.45, 1.00, 1.55, 1.75, 1.45, 1.25, 1.20,
                    1.22, 1.22, 1.30, 1.45, 1.65, 1.75, 1.45, 1.12, 0.92, 0.78, 0.60, 0.42])
TRAFFIC_WE = _norm([0.50, 0.35, 0.24, 0.17, 0.15, 0.20, 0.32, 0.50, 0.75, 0.98, 1.15, 1.25,
                    1.30, 1.30, 1.30, 1.28, 1.25, 1.20, 1.10, 0.98, 0.88, 0.78, 0.68, 0.56]) * 0.82
# Parking occupancy as a fraction of a facility's peak level: commuter (business) facilities
# fill during office hours; residential ones are full at night and half-empty by day.
PARK_BUS_WD = np.array([0.22, 0.20, 0.18, 0.18, 0.20, 0.28, 0.45, 0.70, 0.90, 0.98, 1.00, 1.00,
                        0.98, 0.98, 1.00, 0.97, 0.88, 0.70, 0.55, 0.45, 0.40, 0.35, 0.30, 0.25])
PARK_BUS_WE = np.array([0.30, 0.27, 0.24, 0.22, 0.20, 0.20, 0.22, 0.30, 0.40, 0.52, 0.62, 0.70,
                        0.74, 0.75, 0.75, 0.72, 0.68, 0.64, 0.60, 0.56, 0.50, 0.44, 0.38, 0.33])
PARK_RES_WD = np.array([0.97, 0.98, 0.98, 0.98, 0.97, 0.94, 0.86, 0.76, 0.70, 0.68, 0.68, 0.69,
                        0.70, 0.70, 0.71, 0.73, 0.77, 0.83, 0.88, 0.92, 0.94, 0.95, 0.96, 0.97])
PARK_RES_WE = np.array([0.95, 0.96, 0.96, 0.96, 0.96, 0.95, 0.94, 0.92, 0.88, 0.84, 0.80, 0.78,
                        0.77, 0.77, 0.78, 0.80, 0.82, 0.85, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95])
# Bike-dock balance: business-district docks fill in the morning and empty in the evening,
# residential ones the opposite (multiplied by the station's role, -1..1).
DOCK_BALANCE_WD = np.array([-0.35, -0.35, -0.35, -0.35, -0.35, -0.30, -0.15, 0.20, 0.60, 0.85, 0.90, 0.90,
                            0.88, 0.85, 0.85, 0.80, 0.60, 0.20, -0.10, -0.25, -0.30, -0.33, -0.35, -0.35])
DOCK_BALANCE_WE = np.array([-0.10, -0.10, -0.10, -0.10, -0.10, -0.10, -0.10, -0.10, -0.05, 0.00, 0.10, 0.20,
                            0.25, 0.25, 0.25, 0.20, 0.10, 0.00, -0.05, -0.10, -0.10, -0.10, -0.10, -0.10])
WASTE_ACTIVITY = _norm([0.30, 0.20, 0.15, 0.15, 0.20, 0.40, 0.80, 1.20, 1.40, 1.40, 1.40, 1.50,
                        1.70, 1.60, 1.40, 1.30, 1.30, 1.40, 1.50, 1.40, 1.20, 1.00, 0.70, 0.50])
_WASTE_CUM = np.concatenate([[0.0], np.cumsum(WASTE_ACTIVITY)])   # activity-hours since midnight
CITATION_WD = _norm([0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.50, 1.20, 2.00, 2.10, 1.90, 1.80,
                     1.60, 1.70, 1.70, 1.60, 1.40, 1.20, 1.00, 0.80, 0.60, 0.45, 0.30, 0.20])
CITATION_WE = _norm([0.30, 0.20, 0.15, 0.12, 0.12, 0.15, 0.25, 0.50, 0.90, 1.20, 1.50, 1.60,
                     1.60, 1.60, 1.60, 1.50, 1.40, 1.30, 1.20, 1.00, 0.80, 0.60, 0.50, 0.40]) * 0.55

_DAYTIME = [0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.3, 1.7, 1.8, 1.8, 1.7, 1.6, 1.6, 1.5, 1.4, 1.3, 1.2,
            1.1, 1.0, 0.9, 0.7, 0.5, 0.4]
_NIGHT = [2.2, 1.8, 1.3, 0.9, 0.5, 0.3, 0.3, 0.4, 0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9, 1.0,
          1.1, 1.3, 1.5, 1.8, 2.1, 2.3]
_HEAT = [0.6, 0.5, 0.5, 0.5, 0.6, 0.9, 1.4, 1.6, 1.5, 1.3, 1.2, 1.1, 1.0, 1.0, 0.9, 0.9, 1.0, 1.1,
         1.2, 1.3, 1.3, 1.2, 1.0, 0.8]
_CURB = [0.4, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 1.7, 1.7, 1.5, 1.3, 1.2, 1.2, 1.2, 1.2, 1.2, 1.3, 1.4,
         1.4, 1.3, 1.1, 0.9, 0.7, 0.5]

# 311 categories: daily requests per 1,000 residents (annual mean), SLA hours, median hours to
# close and lognormal sigma, creation-hour profile, description templates.
CATEGORIES = (
    ("Noise", 0.015, 8, 2.5, 0.9, _NIGHT,
     ("Loud music late at night near {s}", "Construction noise before 7am on {s}", "Barking dog near {s}",
      "Loud party in a building on {s}", "Car alarm going off on {s}")),
    ("Illegal Parking", 0.011, 8, 2.0, 1.0, _CURB,
     ("Car blocking driveway on {s}", "Double-parked vehicles on {s}", "Vehicle parked in bike lane on {s}",
      "Truck parked overnight on {s}", "Car blocking hydrant on {s}")),
    ("Heat/Hot Water", 0.0085, 72, 36.0, 0.9, _HEAT,
     ("No heat in apartment on {s}", "No hot water since yesterday, {s}", "Heat not working in building on {s}",
      "Radiators cold, building on {s}")),
    ("Street Condition", 0.007, 240, 96.0, 1.0, _DAYTIME,
     ("Pothole in the roadway on {s}", "Cave-in near crosswalk on {s}", "Broken pavement on {s}",
      "Loose manhole cover on {s}")),
    ("Sanitation Condition", 0.0065, 120, 60.0, 0.9, _DAYTIME,
     ("Overflowing litter basket on {s}", "Dumped bags on sidewalk on {s}", "Dirty sidewalk in front of a store on {s}",
      "Rodents near trash on {s}")),
    ("Missed Collection", 0.006, 48, 28.0, 0.7, _DAYTIME,
     ("Recycling not picked up on {s}", "Trash not collected this week on {s}", "Organics bin missed on {s}",
      "Bulk item not collected on {s}")),
    ("Streetlight", 0.006, 240, 120.0, 0.9, _DAYTIME,
     ("Streetlight out on {s}", "Streetlight flickering on {s}", "Streetlight on during the day on {s}",
      "Damaged lamppost on {s}")),
)
CAT_NAMES = [c[0] for c in CATEGORIES]
CAT_INDEX = {name: i for i, name in enumerate(CAT_NAMES)}
CAT_RATE = np.array([c[1] for c in CATEGORIES])
CAT_SLA_H = np.array([c[2] for c in CATEGORIES], dtype=float)
CAT_MEDIAN_H = np.array([c[3] for c in CATEGORIES])
CAT_SIGMA = np.array([c[4] for c in CATEGORIES])
CAT_HOUR_PMF = np.array([np.asarray(c[5]) / np.sum(c[5]) for c in CATEGORIES])   # (C, 24)
STALE_SHARE = 0.005           # share of requests forgotten in a queue: closed 20-90 days later
STALE_HOURS = (20 * 24.0, 90 * 24.0)
SURVEY_RATE = 0.12            # share of closed requests answered
SURVEY_DELAY_MEDIAN_H = 18.0
SURVEY_DELAY_SIGMA = 0.8
CHANNELS = ["phone", "online", "app"]

STREETS = ("Broadway", "Atlantic Ave", "Grand Concourse", "Main St", "Queens Blvd", "Flatbush Ave",
           "Amsterdam Ave", "Ocean Pkwy", "Myrtle Ave", "Jamaica Ave", "Fordham Rd", "Richmond Ave",
           "Victory Blvd", "Northern Blvd", "Lexington Ave", "5th Ave", "Bedford Ave", "Nostrand Ave",
           "Steinway St", "Roosevelt Ave", "Hylan Blvd", "Tremont Ave", "Church Ave", "Kings Hwy",
           "Utica Ave", "Union Tpke", "Hillside Ave", "Westchester Ave", "St Nicholas Ave", "2nd Ave",
           "Court St", "Fulton St", "Delancey St", "Canal St", "Metropolitan Ave", "Forest Ave",
           "Liberty Ave", "Bay Pkwy", "Astoria Blvd", "Webster Ave")
DESCRIPTIONS = [t.format(s=s) for c in CATEGORIES for t in c[6] for s in STREETS]
_DESC_START = np.cumsum([0] + [len(c[6]) * len(STREETS) for c in CATEGORIES])[:-1]
_DESC_COUNT = np.array([len(c[6]) * len(STREETS) for c in CATEGORIES])

# DOF violation codes (fine in Manhattan at or below 96th St / elsewhere) and their share.
VIOLATIONS = (
    ("21", 65, 45, 0.15), ("36", 50, 50, 0.13), ("38", 65, 35, 0.11), ("14", 115, 115, 0.09),
    ("20", 65, 60, 0.06), ("46", 115, 115, 0.06), ("40", 115, 115, 0.05), ("37", 65, 35, 0.05),
    ("7", 50, 50, 0.05), ("71", 65, 65, 0.05), ("19", 115, 115, 0.03), ("70", 65, 65, 0.02),
    ("16", 95, 95, 0.02), ("69", 65, 65, 0.02), ("31", 115, 115, 0.02),
)
VIOLATION_CODES = [v[0] for v in VIOLATIONS]
VIOLATION_P = np.array([v[3] for v in VIOLATIONS]) / sum(v[3] for v in VIOLATIONS)
FINE_MN96 = np.array([v[1] for v in VIOLATIONS], dtype=float)
FINE_OTHER = np.array([v[2] for v in VIOLATIONS], dtype=float)
MANHATTAN_96 = {"101", "102", "103", "104", "105", "106", "107", "108"}
STREET_CLEANING = VIOLATION_CODES.index("21")
MUNI_METER = VIOLATION_CODES.index("38")

# District character. Jobs index (employment pull relative to residents), car ownership,
# subway access, recycling habits. Everything else comes from population and area.
JOBS = {"101": 6.0, "102": 3.0, "103": 1.2, "104": 2.5, "105": 8.0, "106": 2.5, "107": 1.0,
        "108": 1.2, "109": 0.7, "110": 0.7, "111": 0.8, "112": 0.6, "301": 1.0, "302": 2.2,
        "306": 0.9, "401": 0.9, "402": 1.4, "407": 0.9, "412": 0.9, "201": 0.8}
BORO_JOBS = {"Manhattan": 1.0, "Bronx": 0.5, "Brooklyn": 0.55, "Queens": 0.55, "Staten Island": 0.45}
BORO_CARS = {"Manhattan": 0.22, "Bronx": 0.40, "Brooklyn": 0.44, "Queens": 0.64, "Staten Island": 0.84}
BORO_BIKE = {"Manhattan": 1.5, "Bronx": 0.45, "Brooklyn": 1.0, "Queens": 0.7, "Staten Island": 0.15}
BORO_DIVERSION = {"Manhattan": 0.22, "Bronx": 0.155, "Brooklyn": 0.195, "Queens": 0.19, "Staten Island": 0.21}
BORO_HEAT = {"Manhattan": 1.2, "Bronx": 2.0, "Brooklyn": 1.1, "Queens": 0.7, "Staten Island": 0.3}
SUBWAY_ACCESS = {"Staten Island": 0.05, "408": 0.35, "411": 0.2, "413": 0.25, "410": 0.4, "414": 0.45,
                 "210": 0.3, "318": 0.45}
TRANSIT_DOW = {"subway": np.array([1.0, 1.02, 1.03, 1.02, 0.98, 0.62, 0.47]),
               "bus": np.array([1.0, 1.01, 1.02, 1.01, 0.98, 0.70, 0.55])}
WASTE_DOW = np.array([1.32, 1.12, 1.10, 1.08, 1.10, 1.05, 0.23])
STREAMS = ["refuse", "paper", "mgp", "organics"]


# ------------------------------------------------------------------------------ helpers
def to_s(value: datetime | np.datetime64) -> int:
    """Seconds since 1970-01-01 of a naive datetime."""
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[s]").astype(np.int64))
    return int((value - EPOCH) // timedelta(seconds=1))


def to_dt(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=int(seconds))


def _ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"))


def _dict_array(indices: np.ndarray, values) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32)), pa.array(list(values)))


def hash_u(seed: int, salt: str, keys) -> np.ndarray:
    """Uniform [0, 1) numbers, a stable function of (seed, salt, key): same city every time."""
    out = np.empty(len(keys))
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}|{salt}|{key}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def hash_n(seed: int, salt: str, keys) -> np.ndarray:
    """Standard normal numbers, stable in (seed, salt, key)."""
    inv = NormalDist().inv_cdf
    return np.array([inv(min(max(u, 1e-9), 1 - 1e-9)) for u in hash_u(seed, salt, keys)])


def _interp24(profile: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Value of an hourly profile at fractional hours of day (linear between hours, wraps)."""
    h0 = np.floor(hour).astype(np.int64)
    w = hour - h0
    return profile[h0 % 24] * (1 - w) + profile[(h0 + 1) % 24] * w


def _waste_activity_hours(t_hours: np.ndarray) -> np.ndarray:
    """Cumulative waste-activity hours since the epoch (24 per day, weighted by WASTE_ACTIVITY)."""
    day = np.floor(t_hours / 24.0)
    hod = t_hours - day * 24.0
    h0 = np.floor(hod).astype(np.int64)
    return day * 24.0 + _WASTE_CUM[h0] + (hod - h0) * WASTE_ACTIVITY[h0 % 24]


def _holidays(first_year: int, last_year: int) -> np.ndarray:
    """Day indices (days since 1970-01-01) of the main US public holidays."""
    days = []
    for y in range(first_year, last_year + 1):
        may31 = date(y, 5, 31)
        sep1 = date(y, 9, 1)
        nov1 = date(y, 11, 1)
        days += [date(y, 1, 1), date(y, 7, 4), date(y, 12, 25),
                 may31 - timedelta(days=may31.weekday()),                       # Memorial Day
                 sep1 + timedelta(days=(7 - sep1.weekday()) % 7),               # Labor Day
                 nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)]          # Thanksgiving
    return np.array([(d - date(1970, 1, 1)).days for d in days], dtype=np.int64)


def _allocate(total: int, weights: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Integer counts proportional to weights (largest remainder), at least `minimum` each."""
    weights = np.where(minimum > 0, np.maximum(weights, 1e-9), weights)
    raw = weights / weights.sum() * max(total, 0)
    counts = np.floor(raw).astype(int)
    rest = total - counts.sum()
    if rest > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:rest]] += 1
    return np.maximum(counts, minimum)


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    cdf = np.vectorize(NormalDist().cdf, otypes=[float])
    return cdf(z) if np.size(z) else np.asarray(z, dtype=float)


def _norm_sf(z: np.ndarray) -> np.ndarray:
    """Upper tail 1 - Phi(z), accurate far into the tail."""
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(np.asarray(z, dtype=float) / math.sqrt(2))


def _norm_ppf(p: np.ndarray) -> np.ndarray:
    ppf = np.vectorize(NormalDist().inv_cdf, otypes=[float])
    return ppf(np.clip(p, 1e-300, 1 - 1e-16)) if np.size(p) else np.asarray(p, dtype=float)


def _gauss(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2)


# ------------------------------------------------------------------------------ incidents
@dataclass(frozen=True)
class Incident:
    incident_id: str
    kind: str
    title: str
    domain: str | None
    district_id: str | None
    starts_at: datetime
    ends_at: datetime
    borough: str | None = None     # sensor outage: the affected borough (not stored)


def plan_incidents(end: datetime, days: int) -> list[Incident]:
    """The injected incidents of a build ending at `end` covering `days` days."""
    start = end - timedelta(days=days)
    end_day = end.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for kind, offset, start_hour, hours in INCIDENT_PLAN:
        if days < 60:
            offset = max(1, round(offset * days / 60))
        s = end_day - timedelta(days=offset) + timedelta(hours=start_hour)
        e = s + timedelta(hours=hours)
        if s < start or e > end:
            continue
        stamp = s.strftime("%Y%m%d")
        if kind == "storm":
            out.append(Incident(f"demo-storm-{stamp}", "storm", "Severe storm: high winds and flooding",
                                None, None, s, e))
        elif kind == "sensor_outage":
            out.append(Incident(f"demo-outage-parking-{OUTAGE_BOROUGH.lower().replace(' ', '-')}-{stamp}",
                                "sensor_outage", f"Parking sensors offline in {OUTAGE_BOROUGH} (vendor outage)",
                                "parking", None, s, e, OUTAGE_BOROUGH))
        elif kind == "strike":
            out.append(Incident(f"demo-strike-waste-{stamp}", "strike",
                                "Sanitation strike: collections suspended citywide", "waste", None, s, e))
    return out


# Labelled incidents: the ground truth the alert detector is measured against (bench/alerts.py).
# Per kind: (incidents per day citywide, metrics affected). They are stored in the warehouse
# table `labelled_incidents`, never published: operators must find them from the data.
LABELLED_RATES = {
    "surge": (0.30, ("sr_opened",)),                            # a burst of 311 requests in one district
    "parking_surge": (0.15, ("parking_occupancy_pct",)),        # an event fills a district's parking
    "parking_drift": (0.08, ("parking_occupancy_pct",)),        # occupancy creeps up over 1-3 days
    "parking_outage": (0.07, ("parking_occupancy_pct",)),       # a district's parking sensors go silent
}


@dataclass(frozen=True)
class LabelledIncident:
    incident_id: str
    kind: str               # surge / parking_surge / parking_drift / parking_outage
    district_id: str
    starts_at: datetime
    ends_at: datetime
    metrics: tuple[str, ...]
    size: float             # surge: x the usual rate; parking: + share of spaces (0.2 = +20 points)
    size_unit: str
    small_district: bool = False


def plan_labelled(seed: int, start: datetime, end: datetime, districts: pd.DataFrame,
                  sr_volume: np.ndarray | None = None) -> list[LabelledIncident]:
    """Labelled incidents in [start, end), deterministic with `seed`: Poisson numbers per kind
    (LABELLED_RATES), random start times, districts (311 surges: two in three weighted by
    request volume, one in three in any district, so small districts get some), sizes and
    durations; an incident overlapping another on the same district and metric is left out.
    `sr_volume` is the daily 311 rate per row of `districts` (small districts: the lowest third)."""
    rng = np.random.default_rng([int(seed), 12])
    active = np.flatnonzero(~districts["is_joint_area"].to_numpy(bool))
    ids = districts["district_id"].to_numpy()
    if len(active) == 0 or end <= start:
        return []
    volume = np.ones(len(ids)) if sr_volume is None else np.asarray(sr_volume, dtype=float)
    small_cut = np.quantile(volume[active], 1 / 3)
    span_h = (end - start) / timedelta(hours=1)
    out: list[LabelledIncident] = []
    taken: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for kind, (rate, metrics) in LABELLED_RATES.items():
        count = int(rng.poisson(rate * span_h / 24))
        for _k in range(count):
            day_h = float(rng.uniform(0, span_h))
            base = start + timedelta(hours=int(day_h) - int(day_h) % 24)
            if kind == "surge":
                w = volume[active] / volume[active].sum()
                d = int(rng.choice(active, p=w)) if rng.random() < 2 / 3 else int(rng.choice(active))
                small = bool(volume[d] <= small_cut)
                size = float(rng.uniform(8, 14) if small else rng.uniform(2.5, 6))
                s = base + timedelta(hours=int(rng.integers(7, 19)))
                e = s + timedelta(hours=int(rng.integers(3, 10)))
                unit = "x usual rate"
            elif kind == "parking_surge":
                d, small = int(rng.choice(active)), False
                size = float(rng.uniform(0.12, 0.3))
                s = base + timedelta(hours=int(rng.integers(9, 18)))
                e = s + timedelta(hours=int(rng.integers(3, 7)))
                unit = "share of spaces"
            elif kind == "parking_drift":
                d, small = int(rng.choice(active)), False
                size = float(rng.uniform(0.08, 0.3))
                s = base + timedelta(hours=int(rng.integers(0, 24)))
                e = s + timedelta(hours=int(rng.integers(24, 73)))
                unit = "share of spaces"
            else:
                d, small = int(rng.choice(active)), False
                size = 1.0
                s = base + timedelta(hours=int(rng.integers(0, 24)))
                e = s + timedelta(hours=int(rng.integers(6, 25)))
                unit = "sensors offline"
            if s < start or e > end:
                continue
            key = (str(ids[d]), metrics[0])
            margin = timedelta(hours=24)
            if any(s < b + margin and a - margin < e for a, b in taken.get(key, [])):
                continue
            taken.setdefault(key, []).append((s, e))
            out.append(LabelledIncident(f"label-{kind}-{ids[d]}-{s:%Y%m%d%H}", kind, str(ids[d]), s, e,
                                        metrics, round(size, 3), unit, small))
    out.sort(key=lambda i: (i.starts_at, i.incident_id))
    return out


class Effects:
    """Incident effects as functions of time (day indices or seconds)."""

    def __init__(self, incidents: list[Incident], labelled: list[LabelledIncident] | None = None):
        self.incidents = list(incidents)
        self.labelled = list(labelled or [])
        self.storm_days = np.array(sorted({to_s(i.starts_at) // DAY for i in incidents if i.kind == "storm"}),
                                   dtype=np.int64)
        self.strikes = [(to_s(i.starts_at), to_s(i.ends_at)) for i in incidents if i.kind == "strike"]
        self.outages = [(to_s(i.starts_at), to_s(i.ends_at), i.borough, i.domain)
                        for i in incidents if i.kind == "sensor_outage" and i.borough]

    @classmethod
    def from_rows(cls, rows) -> "Effects":
        """From `incidents` table rows (kind, starts_at, ends_at, title); outages need no replay."""
        incidents = [Incident(f"row{i}", kind, title, None, None, s, e) for i, (kind, s, e, title) in enumerate(rows)
                     if kind in ("storm", "strike")]
        return cls(incidents)

    def days_after_storm(self, days: np.ndarray) -> np.ndarray:
        """0 on a storm day, 1 the day after, ...; large when no storm precedes."""
        out = np.full(np.shape(days), 999, dtype=np.int64)
        for sd in self.storm_days:
            delta = days - sd
            out = np.where((delta >= 0) & (delta < out), delta, out)
        return out

    def strike_day(self, days: np.ndarray) -> np.ndarray:
        """0 on strike days, k on the k-th day after the strike, large otherwise."""
        out = np.full(np.shape(days), 999, dtype=np.int64)
        for s, e in self.strikes:
            first, last = s // DAY, (e - 1) // DAY
            during = (days >= first) & (days <= last)
            after = np.where(days > last, days - last, 999)
            out = np.where(during, 0, np.minimum(out, after))
        return out

    def _labelled(self, kind: str):
        for i in self.labelled:
            if i.kind == kind:
                yield i, to_s(i.starts_at), to_s(i.ends_at)

    def sr_multiplier(self, hours: np.ndarray, district_ids: list[str]) -> np.ndarray | None:
        """311 rate multiplier per (hour slot, district) from labelled surges; None if none."""
        out = None
        index = {d: k for k, d in enumerate(district_ids)}
        for inc, s, e in self._labelled("surge"):
            during = (hours >= s) & (hours < e)
            if inc.district_id in index and during.any():
                out = np.ones((len(hours), len(district_ids))) if out is None else out
                out[during, index[inc.district_id]] *= inc.size
        return out

    def parking_shift(self, t: np.ndarray, fac_district: np.ndarray, district_ids: list[str]) -> np.ndarray | None:
        """Added occupancy share per (time, facility) from labelled parking surges (a step)
        and drifts (a linear ramp to `size` at the end); None if none."""
        out = None
        for kind in ("parking_surge", "parking_drift"):
            for inc, s, e in self._labelled(kind):
                during = (t >= s) & (t < e)
                if not during.any() or inc.district_id not in district_ids:
                    continue
                cols = fac_district == district_ids.index(inc.district_id)
                ramp = np.where(during, inc.size if kind == "parking_surge" else inc.size * (t - s) / max(e - s, 1), 0.0)
                out = np.zeros((len(t), len(fac_district))) if out is None else out
                out[:, cols] += ramp[:, None]
        return out

    def parking_offline(self, ts: np.ndarray, district_of_row: np.ndarray, district_ids: list[str]) -> np.ndarray:
        """True for readings silenced by a labelled parking outage."""
        out = np.zeros(len(ts), dtype=bool)
        for inc, s, e in self._labelled("parking_outage"):
            if inc.district_id in district_ids:
                out |= (ts >= s) & (ts < e) & (district_of_row == district_ids.index(inc.district_id))
        return out

    def in_strike(self, seconds: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(seconds), dtype=bool)
        for s, e in self.strikes:
            out |= (seconds >= s) & (seconds < e)
        return out


# ------------------------------------------------------------------------------ the city
@dataclass
class City:
    """Districts and entities with their (hash-derived) behaviour parameters."""

    seed: int
    scale: float
    districts: pd.DataFrame
    stations: pd.DataFrame
    facilities: pd.DataFrame
    bins: pd.DataFrame
    segments: pd.DataFrame
    effects: Effects = field(default_factory=lambda: Effects([]))

    def __post_init__(self):
        d = self.districts
        self.district_ids = d["district_id"].tolist()
        self.active = np.flatnonzero(~d["is_joint_area"].to_numpy())    # people live here
        self._shapes = None
        self._holiday_cache: dict[tuple[int, int], np.ndarray] = {}

    # -- geometry
    def shapes(self):
        if self._shapes is None:
            geoms = shapely.from_geojson(self.districts["geometry"].tolist())
            shapely.prepare(geoms)
            self._shapes = geoms
        return self._shapes

    def sample_points(self, district_idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Uniform random points inside each given district (rejection sampling, vectorised)."""
        lon = np.empty(len(district_idx))
        lat = np.empty(len(district_idx))
        geoms = self.shapes()
        for d in np.unique(district_idx):
            where = np.flatnonzero(district_idx == d)
            geom = geoms[d]
            x0, y0, x1, y1 = shapely.bounds(geom)
            ratio = max(shapely.area(geom) / ((x1 - x0) * (y1 - y0)), 0.02)
            xs, ys, need = [], [], len(where)
            while need > 0:
                n = int(need / ratio * 1.3) + 16
                cx = rng.uniform(x0, x1, n)
                cy = rng.uniform(y0, y1, n)
                inside = shapely.contains_xy(geom, cx, cy)
                xs.append(cx[inside][:need])
                ys.append(cy[inside][:need])
                need -= int(min(inside.sum(), need))
            lon[where] = np.round(np.concatenate(xs), 6)
            lat[where] = np.round(np.concatenate(ys), 6)
        return lat, lon

    # -- calendar and weather
    def holidays(self, days: np.ndarray) -> np.ndarray:
        y0 = int(str(np.datetime64(int(days.min()), "D"))[:4])
        y1 = int(str(np.datetime64(int(days.max()), "D"))[:4])
        key = (y0, y1)
        if key not in self._holiday_cache:
            self._holiday_cache[key] = _holidays(y0, y1)
        return np.isin(days, self._holiday_cache[key])

    def day_info(self, days: np.ndarray) -> dict[str, np.ndarray]:
        """Calendar, weather and incident factors per day index (computed once per unique day)."""
        days = np.asarray(days, dtype=np.int64)
        if days.size == 0:
            days = np.zeros(1, dtype=np.int64)
            return {k: v[:0] for k, v in self.day_info(days).items()}
        uniq, inverse = np.unique(days, return_inverse=True)
        dow = (uniq + 3) % 7                                   # 1970-01-01 was a Thursday
        holiday = self.holidays(uniq)
        off = (dow >= 5) | holiday
        d64 = uniq.astype("datetime64[D]")
        doy = (d64 - d64.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        years = (uniq - 19723) / 365.25                         # years since 2024-01-01
        temp = 12.8 - 11.8 * np.cos(2 * np.pi * (doy - 20) / 365.25) + 7.0 * (hash_u(self.seed, "temp", uniq) - 0.5)
        rain_u = hash_u(self.seed, "rain", uniq)
        heavy_u = hash_u(self.seed, "heavy", uniq)
        rain = rain_u < 0.28
        heavy = rain & (heavy_u < 0.3)
        snow = rain & (temp < 1.5)
        after_storm = self.effects.days_after_storm(uniq)
        storm = after_storm == 0
        strike = self.effects.strike_day(uniq)
        weather_bike = np.where(snow, 0.22, np.where(heavy, 0.38, np.where(rain, 0.62, 1.0)))
        weather_bike = np.where(storm, 0.03, weather_bike)
        traffic_volume = np.where(snow, 0.85, np.where(heavy, 0.93, np.where(rain, 0.97, 1.0)))
        traffic_volume = np.where(storm, 0.55, traffic_volume)
        traffic_speed = np.where(snow, 0.78, np.where(heavy, 0.88, np.where(rain, 0.95, 1.0)))
        traffic_speed = np.where(storm, 0.7, traffic_speed)
        info = {
            "dow": dow, "off": off, "holiday": holiday, "doy": doy, "temp": temp, "years": years,
            "rain": rain, "heavy": heavy, "snow": snow, "storm": storm, "after_storm": after_storm,
            "strike": strike,
            "bike_season": np.clip(0.28 + 0.72 * (temp - 1.0) / 23.0, 0.2, 1.1),
            "weather_bike": weather_bike,
            "traffic_volume": traffic_volume * (0.96 + 0.04 * np.clip((temp - 2) / 20, 0, 1)),
            "traffic_speed": traffic_speed,
            "parking_season": 1.0 + 0.05 * _gauss(doy, 350, 12) - 0.05 * _gauss(doy, 222, 15),
            "waste_season": 1.0 + 0.12 * _gauss(doy, 358, 10) + 0.03 * np.clip((temp - 15) / 10, 0, 1),
            "warm": np.clip((temp - 4.0) / 20.0, 0, 1),
        }
        return {k: v[inverse] for k, v in info.items()}

    # -- per-district constants
    def col(self, frame: str, name: str) -> np.ndarray:
        return getattr(self, frame)[name].to_numpy()


def load_boundaries(path: Path = BOUNDARIES) -> pd.DataFrame:
    """The shipped district outlines as a frame matching the `districts` table (+ `label`)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for feat in data["features"]:
        p = feat["properties"]
        rows.append({
            "district_id": p["district_id"], "name": p["name"], "borough": p["borough"],
            "population": p["population"], "area_km2": p["area_km2"],
            "geometry": json.dumps(feat["geometry"], separators=(",", ":")),
            "is_joint_area": bool(p["is_joint_area"]),
            "label": p.get("neighbourhoods") or p["name"],
        })
    frame = pd.DataFrame(rows).sort_values("district_id").reset_index(drop=True)
    frame["population"] = frame["population"].astype("Int64")
    return frame


def district_profile(districts: pd.DataFrame, seed: int) -> pd.DataFrame:
    """District behaviour: a pure function of the districts table and the seed."""
    d = districts.copy().reset_index(drop=True)
    ids = d["district_id"].tolist()
    joint = d["is_joint_area"].to_numpy(bool)
    pop = d["population"].fillna(0).astype(float).to_numpy()
    area = d["area_km2"].astype(float).to_numpy()
    boro = d["borough"].tolist()
    jit = lambda salt, sd: np.exp(sd * hash_n(seed, salt, ids))        # noqa: E731
    density = pop / np.maximum(area, 0.1)
    jobs = np.array([JOBS.get(i, BORO_JOBS.get(b, 0.5)) for i, b in zip(ids, boro, strict=False)]) * jit("jobs", 0.15)
    cars = np.clip(np.array([BORO_CARS.get(b, 0.5) for b in boro]) + 0.06 * (hash_u(seed, "cars", ids) - 0.5), 0.1, 0.95)
    d["density"] = density
    d["jobs"] = jobs
    d["car_share"] = cars
    d["bike_w"] = np.where(joint, 0.0, np.sqrt(density / 1e4) * jobs**0.7 * np.array([BORO_BIKE.get(b, 0.5) for b in boro]))
    # Parking pressure: rank of density and jobs mapped to a peak occupancy level 0.6..0.97.
    pressure = 0.5 * np.log(np.maximum(density, 1)) + 0.7 * np.log(jobs)
    rank = pd.Series(np.where(joint, -np.inf, pressure)).rank(method="first").to_numpy() - 1
    n_active = max(int((~joint).sum()), 2)
    rank = np.clip(rank - joint.sum(), 0, None)
    d["parking_level"] = np.where(joint, 0.0, 0.60 + 0.37 * (rank / (n_active - 1)) ** 1.5)
    d["diversion"] = np.clip(np.array([BORO_DIVERSION.get(b, 0.19) for b in boro]) + 0.05 * (hash_u(seed, "div", ids) - 0.5), 0.135, 0.265)
    d["organics_share"] = 0.06 + 0.12 * hash_u(seed, "org", ids)
    d["efficiency"] = np.clip(jit("eff", 0.25), 0.65, 1.6)          # multiplies 311 close times
    d["satisfaction"] = 0.35 * hash_n(seed, "sat", ids)
    d["subway"] = np.array([SUBWAY_ACCESS.get(i, SUBWAY_ACCESS.get(b, 1.0)) for i, b in zip(ids, boro, strict=False)])
    d["manhattan96"] = np.isin(ids, list(MANHATTAN_96))
    d["citation_w"] = np.where(joint, 0.0, pop * (0.4 + jobs) ** 0.8 * (0.5 + cars) * jit("cit", 0.15))
    return d


def _sr_rates(city: City) -> np.ndarray:
    """Daily 311 requests per district and category (annual mean), shape (D, C)."""
    d = city.districts
    ids = d["district_id"].tolist()
    pop = d["population"].fillna(0).astype(float).to_numpy() / 1000.0
    boro = d["borough"].tolist()
    density = d["density"].to_numpy()
    area = d["area_km2"].to_numpy()
    heat = np.array([BORO_HEAT.get(b, 1.0) * (1.6 if i in ("109", "110", "111", "112") else 1.0) for i, b in zip(ids, boro, strict=False)])
    rel_density = (density / np.median(density[city.active])) if len(city.active) else density
    rel_area = area / np.median(area[city.active]) if len(city.active) else area
    factors = np.stack([
        np.clip(rel_density, 0.2, 5) ** 0.35 * d["jobs"].to_numpy() ** 0.2,    # Noise
        (0.5 + d["car_share"].to_numpy()) * np.clip(rel_density, 0.2, 5) ** 0.15,  # Illegal Parking
        heat,                                                                   # Heat/Hot Water
        np.clip(rel_area, 0.2, 5) ** 0.3,                                        # Street Condition
        np.clip(rel_density, 0.2, 5) ** 0.3,                                     # Sanitation Condition
        (0.6 + d["car_share"].to_numpy()),                                       # Missed Collection
        np.clip(rel_area, 0.2, 5) ** 0.4,                                        # Streetlight
    ], axis=1)
    jitter = np.exp(0.2 * hash_n(city.seed, "sr", [f"{i}|{c}" for i in ids for c in CAT_NAMES])).reshape(len(ids), -1)
    rates = pop[:, None] * CAT_RATE[None, :] * factors * jitter * city.scale
    rates[d["is_joint_area"].to_numpy(bool)] = 0.0
    return rates


def _sr_day_factors(info: dict[str, np.ndarray]) -> np.ndarray:
    """Seasonal, weekly and incident multipliers per day and category, shape (n, C)."""
    warm, dow, off, doy, temp = info["warm"], info["dow"], info["off"], info["doy"], info["temp"]
    weekend = dow >= 5
    generic = np.where(off, 0.85, 1.05)
    heat_season = (doy >= 273) | (doy <= 151)
    f = np.stack([
        (0.7 + 0.6 * warm) * np.where(weekend, 1.25, 0.9),
        np.where(off, 0.8, 1.08),
        np.where(heat_season, 2.4 * np.clip((17 - temp) / 16, 0, 1) ** 1.3 + 0.05, 0.05) * generic,
        (0.7 + 1.3 * _gauss(doy, 75, 40)) * generic,
        (0.8 + 0.4 * warm) * generic,
        np.where(info["holiday"], 0.3, 1.0) * generic,
        (0.75 + 0.5 * (1 - warm)) * generic,
    ], axis=1)
    a = info["after_storm"]
    storm = np.ones_like(f)
    storm[:, 0] = np.where(a == 0, 0.35, 1)
    storm[:, 1] = np.where(a == 0, 0.3, 1)
    storm[:, 3] = np.select([a == 0, a == 1, a == 2], [4.5, 3.0, 1.8], 1)
    storm[:, 4] = np.select([a == 0, a == 1], [3.0, 2.0], 1)
    storm[:, 5] = np.select([a == 0, a == 1], [2.0, 1.5], 1)
    storm[:, 6] = np.select([a == 0, a == 1], [4.5, 2.5], 1)
    s = info["strike"]
    strike = np.ones_like(f)
    strike[:, 5] = np.select([s == 0, s == 1, s == 2, s == 3], [7.0, 3.0, 2.0, 1.4], 1)
    strike[:, 4] = np.select([s == 0, s == 1, s == 2, s == 3], [3.0, 1.8, 1.4, 1.2], 1)
    return f * storm * strike


def _close_params(city: City, cat: np.ndarray, dist: np.ndarray, created: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log median hours, sigma) of the close-time lognormal of each request."""
    info = city.day_info(created // DAY)
    slow = np.ones(len(cat))
    waste = (cat == CAT_INDEX["Missed Collection"]) | (cat == CAT_INDEX["Sanitation Condition"])
    slow = np.where(waste & (info["strike"] == 0), 3.0, np.where(waste & (info["strike"] <= 3), 2.0, slow))
    slow = np.where((cat == CAT_INDEX["Street Condition"]) & (info["after_storm"] <= 2), 1.5, slow)
    median = CAT_MEDIAN_H[cat] * city.col("districts", "efficiency")[dist] * slow
    return np.log(median), CAT_SIGMA[cat]


def satisfaction_scores(city: City, rng: np.random.Generator, cat: np.ndarray, dist: np.ndarray,
                        hours_to_close: np.ndarray) -> np.ndarray:
    """Survey score 1..5: good when closed well within the SLA, poor when slow."""
    ratio = np.maximum(hours_to_close, 0.01) / CAT_SLA_H[cat]
    cat_offset = np.select([cat == CAT_INDEX["Noise"], cat == CAT_INDEX["Illegal Parking"],
                            cat == CAT_INDEX["Heat/Hot Water"]], [-0.6, -0.4, -0.2], 0.0)
    latent = (4.5 - 0.85 * np.clip(np.log2(ratio) + 2, 0, 4.5) + cat_offset
              + city.col("districts", "satisfaction")[dist] + rng.normal(0, 0.75, len(cat)))
    return np.clip(np.rint(latent), 1, 5).astype(np.int32)


# ------------------------------------------------------------------------------ entities
def _smooth_phases(seed: int, salt: str, ids) -> np.ndarray:
    return np.stack([2 * np.pi * hash_u(seed, f"{salt}{k}", ids) for k in range(4)], axis=1)


_NOISE_PERIODS_H = np.array([0.61, 2.3, 7.9, 29.0])
_NOISE_AMPS = np.array([0.25, 0.35, 0.5, 0.6]) / np.sqrt(np.sum(np.array([0.25, 0.35, 0.5, 0.6]) ** 2) / 2)


def smooth_noise(phases: np.ndarray, t_hours: np.ndarray) -> np.ndarray:
    """Smooth entity-specific noise, unit variance, shape (len(t), len(entities))."""
    out = np.zeros((len(t_hours), len(phases)))
    for k in range(4):
        out += _NOISE_AMPS[k] * np.sin(2 * np.pi * t_hours[:, None] / _NOISE_PERIODS_H[k] + phases[None, :, k])
    return out


def _district_index(city_districts: pd.DataFrame, district_ids) -> np.ndarray:
    lookup = {d: i for i, d in enumerate(city_districts["district_id"])}
    return np.array([lookup[d] for d in district_ids], dtype=np.int64)


def augment_entities(districts: pd.DataFrame, seed: int, stations: pd.DataFrame, facilities: pd.DataFrame,
                     bins: pd.DataFrame, segments: pd.DataFrame):
    """Add the hidden behaviour columns; a pure function of ids, districts and seed."""
    stations = stations.sort_values("station_id").reset_index(drop=True)
    facilities = facilities.sort_values("facility_id").reset_index(drop=True)
    bins = bins.sort_values("bin_id").reset_index(drop=True)
    segments = segments.sort_values("segment_id").reset_index(drop=True)

    jobs = districts["jobs"].to_numpy()
    boro = districts["borough"].to_numpy()

    ids = stations["station_id"].tolist()
    d = _district_index(districts, stations["district_id"])
    stations["d"] = d
    stations["role"] = np.clip(np.tanh(np.log(jobs[d] / 0.9)) + 0.25 * hash_n(seed, "role", ids), -1, 1)
    bike_w = districts["bike_w"].to_numpy()
    ref = np.median(bike_w[bike_w > 0]) if (bike_w > 0).any() else 1.0
    park = districts["is_joint_area"].to_numpy(bool)[d]
    stations["popularity"] = np.where(park, 1.2, np.clip(bike_w[d] / ref, 0.15, 6) ** 0.6) * np.exp(0.35 * hash_n(seed, "pop", ids))
    stations["offset"] = 0.08 * hash_n(seed, "dock", ids)
    stations_ph = _smooth_phases(seed, "st", ids)

    ids = facilities["facility_id"].tolist()
    d = _district_index(districts, facilities["district_id"])
    facilities["d"] = d
    facilities["business"] = np.clip(jobs[d] / (jobs[d] + 1.0) + 0.2 * (hash_u(seed, "bus", ids) - 0.5), 0.05, 0.95)
    facilities["level"] = np.clip(districts["parking_level"].to_numpy()[d] + 0.03 * hash_n(seed, "lvl", ids), 0.4, 0.99)
    facilities["borough"] = boro[d]
    facilities_ph = _smooth_phases(seed, "pk", ids)

    ids = bins["bin_id"].tolist()
    d = _district_index(districts, bins["district_id"])
    bins["d"] = d
    dense = districts["density"].to_numpy()[d] > 15000
    pattern = (hash_u(seed, "days", ids) * 3).astype(int)
    three = np.array([0b0010101, 0b0101010, 0b0010101])      # Mon/Wed/Fri or Tue/Thu/Sat (bit = weekday)
    two = np.array([0b0001001, 0b0010010, 0b0100100])        # Mon/Thu, Tue/Fri, Wed/Sat
    bins["mask"] = np.where(dense, three[pattern], two[pattern])
    bins["coll_hour"] = 5.0 + 6.0 * hash_u(seed, "chour", ids)
    gap = np.where(dense, 56.0, 84.0)
    target = 30.0 + 60.0 * hash_u(seed, "target", ids) ** 1.4   # % full at an average collection
    bins["rate"] = target / gap                                  # % per activity-hour
    bins["residual"] = 1.0 + 6.0 * hash_u(seed, "resid", ids)

    ids = segments["segment_id"].tolist()
    d = _district_index(districts, segments["district_id"])
    segments["d"] = d
    manhattan = boro[d] == "Manhattan"
    u = hash_u(seed, "ff", ids)
    segments["free_flow_kmh"] = np.round(np.where(manhattan, 28 + 12 * u, np.where(u > 0.8, 70 + 20 * u, 38 + 22 * u)), 1)
    segments["base_volume"] = (250 + 900 * hash_u(seed, "vol", ids)) * np.where(manhattan, 1.3, 1.0)
    segments["capacity"] = segments["base_volume"] * np.where(manhattan, 1.45, 2.0) * (0.9 + 0.2 * hash_u(seed, "cap", ids))
    return stations, stations_ph, facilities, facilities_ph, bins, segments


def make_entities(districts: pd.DataFrame, seed: int, scale: float):
    """Stored columns of the entities (counts, capacities, names, locations) of a new city."""
    rng = np.random.default_rng([seed, 1])
    joint = districts["is_joint_area"].to_numpy(bool)
    ids = districts["district_id"].tolist()
    active_min = (~joint).astype(int)
    pop = districts["population"].fillna(0).astype(float).to_numpy()
    area = districts["area_km2"].to_numpy()
    jobs = districts["jobs"].to_numpy()
    cars = districts["car_share"].to_numpy()
    label = districts["label"].str.split("-").str[0].str.strip().tolist() if "label" in districts else districts["name"].tolist()
    boro = districts["borough"].to_numpy()

    # bike stations (+ a few in parks)
    w = districts["bike_w"].to_numpy() * np.sqrt(area)
    n_st = _allocate(round(BASE_STATIONS * scale), w, active_min)
    for did, n in PARK_STATION_DISTRICTS.items():
        if did in ids:
            n_st[ids.index(did)] = max(1, round(n * min(scale, 3)))
    st_d = np.repeat(np.arange(len(ids)), n_st)
    geoms = shapely.from_geojson(districts["geometry"].tolist())
    shapely.prepare(geoms)
    helper = City(seed, scale, districts, *(pd.DataFrame() for _ in range(4)))
    helper._shapes = geoms
    lat, lon = helper.sample_points(st_d, rng)
    cap = rng.integers(15, 40, len(st_d)) + np.where(boro[st_d] == "Manhattan", 12, 0)
    cross = rng.integers(1, 120, len(st_d))
    street = rng.integers(0, len(STREETS), len(st_d))
    stations = pd.DataFrame({
        "station_id": [f"BS{i + 1:05d}" for i in range(len(st_d))],
        "name": [f"{STREETS[s]} & {c} St" for s, c in zip(street, cross, strict=False)],
        "district_id": [ids[i] for i in st_d], "lat": lat, "lon": lon, "capacity": cap.astype(np.int32),
    })

    # parking facilities: more spaces where people own cars and space is cheap
    w = np.where(joint, 0, pop * cars * area**0.3 + pop * 0.3 * np.sqrt(jobs))
    n_pk = _allocate(round(BASE_FACILITIES * scale), w, active_min)
    pk_d = np.repeat(np.arange(len(ids)), n_pk)
    manhattan = boro[pk_d] == "Manhattan"
    garage = rng.random(len(pk_d)) < 0.35
    cap = np.where(garage, rng.integers(100, 450, len(pk_d)),
                   np.where(manhattan, rng.integers(10, 40, len(pk_d)), rng.integers(20, 90, len(pk_d))))
    counter: dict[tuple[int, bool], int] = {}
    names = []
    for di, g in zip(pk_d, garage, strict=False):
        counter[(di, g)] = counter.get((di, g), 0) + 1
        names.append(f"{label[di]} {'Garage' if g else 'Curb Zone'} {counter[(di, g)]}")
    facilities = pd.DataFrame({
        "facility_id": [f"PK{i + 1:05d}" for i in range(len(pk_d))], "name": names,
        "district_id": [ids[i] for i in pk_d], "capacity": cap.astype(np.int32),
        "kind": np.where(garage, "garage", "curb zone"),
    })

    w = np.where(joint, 0, pop**0.7 * jobs**0.3)
    n_bn = _allocate(round(BASE_BINS * scale), w, active_min)
    bn_d = np.repeat(np.arange(len(ids)), n_bn)
    bins = pd.DataFrame({"bin_id": [f"BN{i + 1:06d}" for i in range(len(bn_d))], "district_id": [ids[i] for i in bn_d]})

    w = np.where(joint, 0, np.sqrt(area) * (1 + np.sqrt(jobs)))
    n_sg = _allocate(round(BASE_SEGMENTS * scale), w, active_min)
    sg_d = np.repeat(np.arange(len(ids)), n_sg)
    segments = pd.DataFrame({"segment_id": [f"SEG{i + 1:05d}" for i in range(len(sg_d))],
                             "district_id": [ids[i] for i in sg_d]})
    return stations, facilities, bins, segments


def make_city(districts: pd.DataFrame, seed: int, scale: float, incidents: list[Incident],
              entities=None) -> City:
    """A City from a districts frame; entities are generated (new build) or given (from a warehouse)."""
    prof = district_profile(districts, seed)
    if entities is None:
        entities = make_entities(prof, seed, scale)
    stations, st_ph, facilities, pk_ph, bins, segments = augment_entities(prof, seed, *entities)
    city = City(seed, scale, prof, stations, facilities, bins, segments, Effects(incidents))
    city.station_phases = st_ph
    city.facility_phases = pk_ph
    city.sr_rates = _sr_rates(city)
    city.citation_rate = (prof["citation_w"].to_numpy() / max(prof["citation_w"].sum(), 1e-9)
                          * CITATIONS_PER_DAY * scale / 24.0)
    return city


def params_text(seed: int, scale: float, days: int | None = None, end: datetime | None = None) -> str:
    """What a demo batch's `file` records; the live feed reads seed and scale back from it."""
    text = f"data.demo seed={seed} scale={scale:g}"
    if days is not None:
        text += f" days={days}"
    if end is not None:
        text += f" end={end:%Y-%m-%dT%H}"
    return text


def city_from_warehouse(con) -> City:
    """Rebuild the City of a demo warehouse (for the live feed)."""
    seed, scale = int(settings.get("demo_seed")), 1.0
    rows = con.execute("SELECT file FROM load_batches WHERE file LIKE 'data.demo %' ORDER BY batch_id LIMIT 1").fetchall()
    row = rows[0] if rows else None
    if row:
        for part in row[0].split():
            key, _, value = part.partition("=")
            if key == "seed":
                seed = int(value)
            elif key == "scale":
                scale = float(value)
    districts = con.execute("SELECT district_id, name, borough, population, area_km2, geometry, is_joint_area "
                            "FROM districts ORDER BY district_id").df()
    districts["population"] = districts["population"].astype("Int64")
    stations = con.execute("SELECT station_id, name, district_id, lat, lon, capacity FROM bike_stations").df()
    facilities = con.execute("SELECT facility_id, name, district_id, capacity, kind FROM parking_facilities").df()
    bins = con.execute("SELECT bin_id, any_value(district_id) AS district_id FROM bin_fill "
                       "WHERE ts >= (SELECT max(ts) FROM bin_fill) - INTERVAL 3 DAY GROUP BY bin_id").df()
    segments = con.execute("SELECT segment_id, any_value(district_id) AS district_id FROM traffic_counts "
                           "WHERE ts >= (SELECT max(ts) FROM traffic_counts) - INTERVAL 3 DAY GROUP BY segment_id").df()
    incidents = con.execute("SELECT kind, starts_at, ends_at, title FROM incidents WHERE simulated").fetchall()
    city = make_city(districts, seed, scale, [], entities=(stations, facilities, bins, segments))
    city.effects = Effects.from_rows(incidents)
    return city


# ------------------------------------------------------------------------------ readings
def _grid(t: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Time-major (ts, entity) index pairs for len(t) times and n entities."""
    return np.repeat(t, n), np.tile(np.arange(n, dtype=np.int64), len(t))


def parking_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Occupancy of every facility at each time in `t` (seconds); outage windows are left out."""
    f = city.facilities
    t = np.asarray(t, dtype=np.int64)
    info = city.day_info(t // DAY)
    hod = (t % DAY) / HOUR
    off = info["off"]
    bus = np.where(off, _interp24(PARK_BUS_WE, hod), _interp24(PARK_BUS_WD, hod))
    res = np.where(off, _interp24(PARK_RES_WE, hod), _interp24(PARK_RES_WD, hod))
    mix = f["business"].to_numpy()
    shape = bus[:, None] * mix[None, :] + res[:, None] * (1 - mix)[None, :]
    day_factor = info["parking_season"] * np.where(info["storm"], 0.7, 1.0)
    frac = (f["level"].to_numpy()[None, :] * shape * day_factor[:, None]
            + 0.045 * smooth_noise(city.facility_phases, t / HOUR) + rng.normal(0, 0.008, (len(t), len(f))))
    shift = city.effects.parking_shift(t, f["d"].to_numpy(), city.district_ids)
    if shift is not None:
        frac = frac + shift
    cap = f["capacity"].to_numpy()
    occupied = np.clip(np.rint(frac * cap[None, :]), 0, cap[None, :]).astype(np.int32).ravel()
    ts, e = _grid(t, len(f))
    keep = np.ones(len(ts), dtype=bool)
    boro = f["borough"].to_numpy()
    for s, end, borough, _domain in city.effects.outages:
        keep &= ~(((ts >= s) & (ts < end)) & (boro[e] == borough))
    d = f["d"].to_numpy()
    if city.effects.labelled:
        keep &= ~city.effects.parking_offline(ts, d[e], city.district_ids)
    ts, e, occupied = ts[keep], e[keep], occupied[keep]
    return pa.table({
        "ts": _ts_array(ts), "facility_id": _dict_array(e, f["facility_id"]),
        "district_id": _dict_array(d[e], city.district_ids), "capacity": pa.array(cap[e].astype(np.int32)),
        "occupied": pa.array(occupied),
    })


def bike_status_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    s = city.stations
    t = np.asarray(t, dtype=np.int64)
    info = city.day_info(t // DAY)
    hod = (t % DAY) / HOUR
    balance = np.where(info["off"], _interp24(DOCK_BALANCE_WE, hod), _interp24(DOCK_BALANCE_WD, hod))
    riding = info["bike_season"] * info["weather_bike"]          # bikes out riding are not docked
    frac = (0.62 - 0.1 * riding[:, None] + 0.5 * s["role"].to_numpy()[None, :] * balance[:, None] * riding[:, None]
            + s["offset"].to_numpy()[None, :] + 0.09 * smooth_noise(city.station_phases, t / HOUR))
    cap = s["capacity"].to_numpy()
    disabled_docks = rng.integers(0, 2, (len(t), len(s)))
    disabled_bikes = rng.integers(0, 2, (len(t), len(s)))
    usable = cap[None, :] - disabled_docks - disabled_bikes
    bikes = np.clip(np.rint(np.clip(frac, 0, 1) * usable), 0, usable).astype(np.int32)
    docks = (usable - bikes).astype(np.int32)
    ts, e = _grid(t, len(s))
    d = s["d"].to_numpy()
    return pa.table({
        "ts": _ts_array(ts), "station_id": _dict_array(e, s["station_id"]),
        "district_id": _dict_array(d[e], city.district_ids), "capacity": pa.array(cap[e].astype(np.int32)),
        "bikes_available": pa.array(bikes.ravel()), "docks_available": pa.array(docks.ravel()),
    })


def bin_fill_levels(city: City, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill % of every bin at each time, shape (len(t), n_bins): rises since the last collection."""
    b = city.bins
    t = np.asarray(t, dtype=np.int64)
    lookback = 21
    d0 = int(t.min() // DAY) - lookback
    d1 = int(t.max() // DAY)
    days = np.arange(d0, d1 + 1)
    info = city.day_info(days)
    coll_hour = b["coll_hour"].to_numpy()
    weekday_ok = ((b["mask"].to_numpy()[None, :] >> info["dow"][:, None]) & 1).astype(bool)
    coll_s = days[:, None] * DAY + (coll_hour[None, :] * HOUR).astype(np.int64)
    collected = weekday_ok & ~info["holiday"][:, None] & ~city.effects.in_strike(coll_s)
    idx = np.where(collected, np.arange(len(days))[:, None], -1)
    last_incl = np.maximum.accumulate(idx, axis=0)                 # last collection day <= day
    last_before = np.vstack([np.full((1, len(b)), -1), last_incl[:-1]])
    row = (t // DAY - d0).astype(np.int64)
    hod = (t % DAY) / HOUR
    today = collected[row] & (hod[:, None] >= coll_hour[None, :])
    last_day = np.where(today, row[:, None], last_before[row])
    last_hours = (d0 + np.maximum(last_day, 0)) * 24.0 + coll_hour[None, :]
    last_hours = np.where(last_day < 0, (d0 - 30) * 24.0, last_hours)
    eff = _waste_activity_hours(t / HOUR)[:, None] - _waste_activity_hours(last_hours)
    season = city.day_info(t // DAY)["waste_season"]
    fill = (b["residual"].to_numpy()[None, :] + b["rate"].to_numpy()[None, :] * eff * season[:, None]
            + rng.normal(0, 1.2, (len(t), len(b))))
    return np.clip(np.round(fill, 1), 0.0, 100.0)


def bin_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    b = city.bins
    fill = bin_fill_levels(city, t, rng)
    ts, e = _grid(np.asarray(t, dtype=np.int64), len(b))
    return pa.table({
        "ts": _ts_array(ts), "bin_id": _dict_array(e, b["bin_id"]),
        "district_id": _dict_array(b["d"].to_numpy()[e], city.district_ids), "fill_pct": pa.array(fill.ravel()),
    })


def traffic_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Hourly counts: ts = start of the counted hour."""
    g = city.segments
    t = np.asarray(t, dtype=np.int64)
    info = city.day_info(t // DAY)
    hod = (t % DAY) / HOUR
    prof = np.where(info["off"], _interp24(TRAFFIC_WE, hod), _interp24(TRAFFIC_WD, hod))
    volume = (g["base_volume"].to_numpy()[None, :] * (prof * info["traffic_volume"])[:, None]
              * rng.lognormal(0, 0.08, (len(t), len(g))))
    vc = volume / g["capacity"].to_numpy()[None, :]
    ff = g["free_flow_kmh"].to_numpy()
    speed = ff[None, :] / (1 + 0.6 * vc**4) * info["traffic_speed"][:, None] * (1 + rng.normal(0, 0.03, volume.shape))
    speed = np.round(np.clip(speed, 3.0, ff[None, :] * 1.08), 1)
    ts, e = _grid(t, len(g))
    return pa.table({
        "ts": _ts_array(ts), "segment_id": _dict_array(e, g["segment_id"]),
        "district_id": _dict_array(g["d"].to_numpy()[e], city.district_ids),
        "volume": pa.array(np.rint(volume).astype(np.int32).ravel()),
        "free_flow_kmh": pa.array(ff[e]), "speed_kmh": pa.array(speed.ravel()),
    })


# ------------------------------------------------------------------------------ events
def _hour_slots(t0: int, t1: int):
    """Hour slots covering [t0, t1): start of each hour, the covered part [lo, hi) and its fraction."""
    hours = np.arange(t0 // HOUR, -(-t1 // HOUR), dtype=np.int64) * HOUR
    lo = np.maximum(hours, t0)
    hi = np.minimum(hours + HOUR, t1)
    return hours, lo, hi, (hi - lo) / HOUR


def _poisson_events(rng, lam: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Draw Poisson counts per (slot, ...) cell; return the slot-major flat cell index and times."""
    counts = rng.poisson(lam).ravel()
    cells = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    slot = cells // (lam.size // lam.shape[0]) if lam.size else cells
    when = lo[slot] + np.floor(rng.random(len(cells)) * (hi - lo)[slot]).astype(np.int64)
    return cells, when


def bike_trip_events(city: City, t0: int, t1: int, rng: np.random.Generator) -> pa.Table:
    """Trips that ENDED in [t0, t1) (a trip is known once it ends), sorted by start."""
    s = city.stations
    hours, lo, hi, frac = _hour_slots(t0, t1)
    info = city.day_info(hours // DAY)
    hod = (hours % DAY) // HOUR
    prof = np.where(info["off"], BIKE_WE[hod], BIKE_WD[hod])
    lam = (prof * info["bike_season"] * info["weather_bike"] * frac)[:, None] * (
        BIKE_TRIPS_PER_STATION_HOUR * s["popularity"].to_numpy())[None, :]
    cells, ended = _poisson_events(rng, lam, lo, hi)
    slot, st = cells // len(s), cells % len(s)
    casual_p = 0.16 + 0.16 * info["off"][slot] + 0.08 * (info["temp"][slot] > 20)
    casual = rng.random(len(cells)) < casual_p
    duration = np.clip(rng.lognormal(np.log(np.where(casual, 1140.0, 660.0)), 0.55), 90, 3 * HOUR).astype(np.int64)
    started = ended - duration
    order = np.argsort(started, kind="stable")
    st, started, ended, casual = st[order], started[order], ended[order], casual[order]
    return pa.table({
        "started_at": _ts_array(started), "ended_at": _ts_array(ended),
        "station_id": _dict_array(st, s["station_id"]),
        "district_id": _dict_array(s["d"].to_numpy()[st], city.district_ids),
        "rider_type": _dict_array(casual.astype(np.int32), ["member", "casual"]),
    })


def citation_events(city: City, t0: int, t1: int, rng: np.random.Generator) -> pa.Table:
    hours, lo, hi, frac = _hour_slots(t0, t1)
    info = city.day_info(hours // DAY)
    hod = (hours % DAY) // HOUR
    prof = np.where(info["off"], CITATION_WE[hod], CITATION_WD[hod])
    prof = prof * np.where(info["holiday"], 0.6, 1.0) * np.where(info["storm"], 0.25, 1.0)
    lam = (prof * frac)[:, None] * city.citation_rate[None, :]
    cells, issued = _poisson_events(rng, lam, lo, hi)
    slot, d = cells // lam.shape[1], cells % lam.shape[1]
    code = rng.choice(len(VIOLATIONS), size=len(cells), p=VIOLATION_P)
    hour = (issued % DAY) // HOUR
    bad_cleaning = (code == STREET_CLEANING) & (info["off"][slot] | (hour < 7) | (hour > 11))
    code = np.where(bad_cleaning, MUNI_METER, code)
    fine = np.where(city.col("districts", "manhattan96")[d], FINE_MN96[code], FINE_OTHER[code])
    order = np.argsort(issued, kind="stable")
    return pa.table({
        "issued_at": _ts_array(issued[order]), "district_id": _dict_array(d[order], city.district_ids),
        "violation_code": _dict_array(code[order], VIOLATION_CODES), "fine": pa.array(fine[order]),
    })


def request_events(city: City, t0: int, t1: int, rng: np.random.Generator, *, as_of: int,
                   first_id: int) -> tuple[pa.Table, pa.Table]:
    """311 requests created in [t0, t1), their closures known by `as_of`, and survey answers
    given by `as_of`. Returns (requests, responses); ids are first_id, first_id + 1, ..."""
    hours, lo, hi, frac = _hour_slots(t0, t1)
    info = city.day_info(hours // DAY)
    hod = (hours % DAY) // HOUR
    per_hour = _sr_day_factors(info) * CAT_HOUR_PMF[:, hod].T * frac[:, None]        # (H, C)
    lam = per_hour[:, None, :] * city.sr_rates[None, :, :]                             # (H, D, C)
    surge = city.effects.sr_multiplier(hours, city.district_ids)
    if surge is not None:
        lam = lam * surge[:, :, None]
    cells, created = _poisson_events(rng, lam, lo, hi)
    n_d, n_c = lam.shape[1], lam.shape[2]
    d, c = (cells // n_c) % n_d, cells % n_c
    order = np.argsort(created, kind="stable")
    created, d, c = created[order], d[order], c[order]
    n = len(created)

    mu, sigma = _close_params(city, c, d, created)
    hours_to_close = np.exp(mu + sigma * rng.standard_normal(n))
    stale = rng.random(n) < STALE_SHARE
    hours_to_close = np.where(stale, rng.uniform(*STALE_HOURS, n), hours_to_close)
    closed = created + np.ceil(hours_to_close * HOUR).astype(np.int64)
    is_closed = closed <= as_of
    due = created + (CAT_SLA_H[c] * HOUR).astype(np.int64)
    # phone / online / app; the app's share grows by 5 points a year
    app_share = np.clip(0.22 + 0.05 * (created / DAY - 19723) / 365.25, 0.1, 0.6)
    u = rng.random(n)
    channel = np.where(u < app_share, 2, np.where(u < app_share + 0.22, 1, 0))
    lat, lon = city.sample_points(d, rng) if n else (np.empty(0), np.empty(0))
    desc = _DESC_START[c] + (rng.random(n) * _DESC_COUNT[c]).astype(np.int64)
    rid = first_id + np.arange(n, dtype=np.int64)
    requests = pa.table({
        "rid": pa.array(rid), "created_at": _ts_array(created),
        "closed_at": pa.array(closed.astype("datetime64[s]"), mask=~is_closed),
        "due_at": _ts_array(due), "district_id": _dict_array(d, city.district_ids),
        "category": _dict_array(c, CAT_NAMES), "channel": _dict_array(channel, CHANNELS),
        "lat": pa.array(lat), "lon": pa.array(lon), "description": _dict_array(desc, DESCRIPTIONS),
    })
    # survey answers
    answer = is_closed & (rng.random(n) < SURVEY_RATE + 0.03 * (channel == 2))
    delay = np.ceil(rng.lognormal(np.log(SURVEY_DELAY_MEDIAN_H), SURVEY_DELAY_SIGMA, n) * HOUR).astype(np.int64)
    responded = closed + delay
    answer &= responded <= as_of
    idx = np.flatnonzero(answer)
    scores = satisfaction_scores(city, rng, c[idx], d[idx], (closed[idx] - created[idx]) / HOUR)
    responses = _responses_table(city, responded[idx], rid[idx], d[idx], c[idx], scores)
    return requests, responses


def _responses_table(city, responded, rid, d, c, scores) -> pa.Table:
    return pa.table({
        "responded_at": _ts_array(responded), "rid": pa.array(np.asarray(rid, dtype=np.int64)),
        "district_id": _dict_array(d, city.district_ids), "category": _dict_array(c, CAT_NAMES),
        "score": pa.array(np.asarray(scores, dtype=np.int32)),
    })


def close_open_requests(city: City, open_requests: pd.DataFrame, t0: int, t1: int,
                        rng: np.random.Generator) -> pd.DataFrame:
    """Which open requests close in [t0, t1): sample each close time from the generator's
    close-time distribution (lognormal, or with STALE_SHARE uniform over STALE_HOURS)
    conditioned on the request being still open at t0. Input columns request_id, created_at
    (datetime), category, district_id. Returns request_id, closed_at (datetime)."""
    if open_requests.empty:
        return pd.DataFrame({"request_id": pd.Series(dtype=str), "closed_at": pd.Series(dtype="datetime64[s]")})
    created = open_requests["created_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    cat = open_requests["category"].map(CAT_INDEX).fillna(0).astype(int).to_numpy()
    lookup = {did: i for i, did in enumerate(city.district_ids)}
    dist = open_requests["district_id"].map(lookup).fillna(0).astype(int).to_numpy()
    mu, sigma = _close_params(city, cat, dist, created)
    n = len(created)
    age = np.maximum((t0 - created) / HOUR, 1e-6)
    surv_ln = _norm_sf((np.log(age) - mu) / sigma)                       # P(T > age), lognormal part
    lo, hi = STALE_HOURS
    surv_st = np.clip((hi - np.maximum(age, lo)) / (hi - lo), 0, 1)     # uniform part
    weight_ln = (1 - STALE_SHARE) * surv_ln
    weight_st = STALE_SHARE * surv_st
    total = weight_ln + weight_st
    pick_ln = rng.random(n) * np.where(total > 0, total, 1) < weight_ln
    # lognormal tail beyond age: inverse survival function of a uniform share of surv_ln
    v = np.maximum(rng.random(n) * surv_ln, 1e-300)
    hours_ln = np.maximum(np.exp(mu - sigma * _norm_ppf(v)), age)
    start_st = np.minimum(np.maximum(age, lo), hi)
    hours_st = start_st + rng.random(n) * (hi - start_st)
    hours_beyond = age + rng.exponential(5 * 24.0, n)                    # outlived every model
    hours = np.where(total <= 0, hours_beyond, np.where(pick_ln, hours_ln, hours_st))
    closed = created + np.ceil(hours * HOUR).astype(np.int64)
    closed = np.maximum(closed, t0)
    hit = closed < t1
    return pd.DataFrame({"request_id": open_requests["request_id"].to_numpy()[hit],
                         "closed_at": closed[hit].astype("datetime64[s]")})


def survey_answers(city: City, closed_requests: pd.DataFrame, t0: int, t1: int,
                   rng: np.random.Generator) -> pa.Table:
    """Survey answers given in [t0, t1) by requests closed earlier (not yet answered): each answers
    with probability SURVEY_RATE × P(delay lands in the window). Input columns request_id,
    created_at, closed_at, category, district_id."""
    if closed_requests.empty:
        return _responses_table(city, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64),
                                np.empty(0, np.int64), np.empty(0, np.int32))
    closed = closed_requests["closed_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    created = closed_requests["created_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    mu, sd = np.log(SURVEY_DELAY_MEDIAN_H), SURVEY_DELAY_SIGMA

    def cdf(seconds):
        return _norm_cdf((np.log(np.maximum(seconds / HOUR, 1e-9)) - mu) / sd)

    p = SURVEY_RATE * np.clip(cdf(t1 - closed) - cdf(np.maximum(t0 - closed, 0)), 0, 1)
    hit = rng.random(len(closed)) < p
    when = np.maximum(closed[hit], t0) + np.floor(rng.random(hit.sum()) * (t1 - np.maximum(closed[hit], t0))).astype(np.int64)
    lookup = {did: i for i, did in enumerate(city.district_ids)}
    cat = closed_requests["category"].map(CAT_INDEX).fillna(0).astype(int).to_numpy()[hit]
    dist = closed_requests["district_id"].map(lookup).fillna(0).astype(int).to_numpy()[hit]
    scores = satisfaction_scores(city, rng, cat, dist, (closed[hit] - created[hit]) / HOUR)
    rid = np.array([int(r[2:]) for r in closed_requests["request_id"].to_numpy()[hit]], dtype=np.int64)
    order = np.argsort(when, kind="stable")
    return _responses_table(city, when[order], rid[order], dist[order], cat[order], scores[order])


# ------------------------------------------------------------------------------ daily facts
def transit_days(city: City, days: np.ndarray, rng: np.random.Generator) -> pa.Table:
    d = city.districts
    act = city.active
    info = city.day_info(days)
    pop = d["population"].fillna(0).astype(float).to_numpy()[act]
    jobs = d["jobs"].to_numpy()[act]
    base = {"subway": pop * 0.33 * jobs**0.8 * d["subway"].to_numpy()[act],
            "bus": pop * 0.11 * (0.6 + d["car_share"].to_numpy()[act]) * (1.3 - 0.6 * d["subway"].to_numpy()[act])}
    season = 1.0 - 0.06 * _gauss(info["doy"], 222, 20) - 0.05 * (_gauss(info["doy"], 360, 4) + _gauss(info["doy"], -5, 4))
    weekday = ~info["off"]
    recovery = np.where(weekday, 0.77 + 0.05 * info["years"], 0.88 + 0.04 * info["years"])
    weather = np.where(info["storm"], 0.55, np.where(info["snow"], 0.9, np.where(info["heavy"], 0.94,
                                                                                  np.where(info["rain"], 0.97, 1.0))))
    out = []
    for m, mode in enumerate(("subway", "bus")):
        dow_f = np.where(info["holiday"], TRANSIT_DOW[mode][6], TRANSIT_DOW[mode][info["dow"]])
        baseline = base[mode][None, :] * (dow_f * season)[:, None] * rng.lognormal(0, 0.01, (len(days), len(act)))
        ratio = np.clip(recovery - (0.04 if mode == "bus" else 0.0), 0.7, 1.02)[:, None] * weather[:, None]
        riders = baseline * ratio * rng.lognormal(0, 0.02, baseline.shape)
        out.append((np.repeat(days, len(act)), np.tile(act, len(days)), np.full(baseline.size, m),
                    np.rint(riders).ravel(), np.rint(baseline).ravel()))
    day_, dist, mode, riders, baseline = (np.concatenate(x) for x in zip(*out, strict=False))
    order = np.lexsort((mode, dist, day_))
    return pa.table({
        "day": pa.array(day_[order].astype("datetime64[D]")), "district_id": _dict_array(dist[order], city.district_ids),
        "mode": _dict_array(mode[order], ["subway", "bus"]),
        "riders": pa.array(riders[order].astype(np.int64)), "baseline_riders": pa.array(baseline[order].astype(np.int64)),
    })


def waste_days(city: City, days: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Tons collected per day, district and stream."""
    d = city.districts
    act = city.active
    info = city.day_info(days)
    prev_holiday = city.holidays(days - 1)
    pop = d["population"].fillna(0).astype(float).to_numpy()[act]
    dow_f = WASTE_DOW[info["dow"]] * np.where(info["holiday"], 0.1, 1.0) * np.where(prev_holiday, 1.8, 1.0)
    s = info["strike"]
    strike_f = np.select([s == 0, s == 1, s == 2, s == 3], [0.12, 1.9, 1.5, 1.2], 1.0)
    day_f = dow_f * info["waste_season"] * strike_f
    refuse = (pop * 1.25e-3)[None, :] * day_f[:, None] * rng.lognormal(0, 0.05, (len(days), len(act)))
    div = d["diversion"].to_numpy()[act]
    recyclable = refuse * (div / (1 - div))[None, :]
    org_share = d["organics_share"].to_numpy()[act]
    leaves = 1 + 1.6 * _gauss(info["doy"], 315, 18) + 0.2 * info["warm"]
    organics = recyclable * org_share[None, :] * leaves[:, None]
    rest = recyclable * (1 - org_share)[None, :]
    paper = rest * 0.52 * rng.lognormal(0, 0.06, rest.shape)
    mgp = rest * 0.48 * rng.lognormal(0, 0.06, rest.shape)
    organics = organics * rng.lognormal(0, 0.08, rest.shape)
    tons = np.stack([refuse, paper, mgp, organics], axis=2)           # (days, districts, streams)
    n_days, n_d, n_s = tons.shape
    return pa.table({
        "day": pa.array(np.repeat(days, n_d * n_s).astype("datetime64[D]")),
        "district_id": _dict_array(np.tile(np.repeat(act, n_s), n_days), city.district_ids),
        "stream": _dict_array(np.tile(np.arange(n_s), n_days * n_d), STREAMS),
        "tons": pa.array(np.round(tons, 2).ravel()),
    })


# ------------------------------------------------------------------------------ loading
def insert(con, table: str, data: pa.Table, batch_id: int) -> int:
    """Append an Arrow chunk to a raw table (constants source_id and batch_id added in SQL)."""
    if data.num_rows == 0:
        return 0
    con.register("_chunk", data)
    try:
        con.execute(INSERT_SQL[table], {"batch": batch_id})
    finally:
        con.unregister("_chunk")
    return data.num_rows


def _month_chunks(t0: int, t1: int) -> list[tuple[int, int]]:
    """[t0, t1) cut at calendar month starts."""
    cuts = [t0]
    month = np.datetime64(to_dt(t0).replace(day=1, hour=0, minute=0, second=0), "M")
    while True:
        month = month + 1
        s = to_s(month.astype("datetime64[s]"))
        if s >= t1:
            break
        cuts.append(s)
    cuts.append(t1)
    return list(zip(cuts[:-1], cuts[1:], strict=False))


class _Progress:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)


# Sensor glitches: a few raw readings per million fail validation and go to `quarantine`
# (as an ingest adapter would put them) instead of the table: (table, rate, reason, corrupt).
GLITCHES = {
    "parking_occupancy": (4e-5, "occupied exceeds capacity",
                          lambda r, rng: {**r, "occupied": int(r["capacity"]) + int(rng.integers(1, 40))}),
    "bike_station_status": (3e-5, "bikes_available + docks_available exceeds capacity",
                            lambda r, rng: {**r, "bikes_available": int(r["capacity"]) + int(rng.integers(1, 9))}),
    "bin_fill": (5e-5, "fill_pct outside 0..100",
                 lambda r, rng: {**r, "fill_pct": float(rng.choice([-1.0, 1.0]) * rng.uniform(101, 250))}),
}


def _split_glitches(table: str, data: pa.Table, rng: np.random.Generator, line0: int):
    """Remove a few readings from `data` and return (clean data, quarantine rows)."""
    if table not in GLITCHES or data.num_rows == 0:
        return data, []
    rate, reason, corrupt = GLITCHES[table]
    bad = np.flatnonzero(rng.random(data.num_rows) < rate)
    if bad.size == 0:
        return data, []
    raw = data.take(pa.array(bad)).to_pylist()
    records = []
    for i, row in zip(bad, raw, strict=False):
        row = {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in row.items()}
        records.append((int(line0 + i + 1), reason, json.dumps(corrupt(row, rng), separators=(",", ":"))))
    keep = np.ones(data.num_rows, dtype=bool)
    keep[bad] = False
    return data.filter(pa.array(keep)), records


def _load_table(con, city: City, table: str, chunks, make, *, source_text: str, progress: _Progress,
                chunk_lines: bool, timings: dict, rows: dict) -> int:
    started = time.perf_counter()
    source = TABLE_SOURCE[table]
    batch = warehouse.begin_batch(con, source, source_text)
    total = read = 0
    quarantined: list[tuple] = []
    for k, (c0, c1) in enumerate(chunks):
        data = make(k, c0, c1)
        n_read = data.num_rows
        data, bad = _split_glitches(table, data, _rng(city.seed, "glitch-" + table, k), read)
        quarantined += bad
        read += n_read
        n = insert(con, table, data, batch)
        total += n
        if chunk_lines:
            progress(f"    {table:<24} {to_dt(c0):%Y-%m}  {n:>12,} rows")
    if quarantined:
        con.executemany("INSERT INTO quarantine (batch_id, source_id, file, line_no, reason, raw) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [(batch, source, source_text, line, reason, raw) for line, reason, raw in quarantined])
        rows["quarantine"] = rows.get("quarantine", 0) + len(quarantined)
    warehouse.finish_batch(con, batch, rows_read=read, rows_loaded=total, rows_quarantined=len(quarantined))
    seconds = time.perf_counter() - started
    timings[table] = round(seconds, 2)
    rows[table] = total
    progress(f"  {table:<26} {total:>13,} rows {seconds:7.2f} s")
    return batch


def _rng(seed: int, table: str, k: int) -> np.random.Generator:
    code = int.from_bytes(hashlib.blake2b(table.encode(), digest_size=4).digest(), "little")
    return np.random.default_rng([seed, code, k])


def floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def build(db_path, *, seed: int | None = None, days: int | None = None, end: datetime | None = None,
          scale: float = 1.0, progress: bool = True, force: bool = True) -> dict:
    """Build a demo warehouse at `db_path` (atomically: temp file + os.replace). Returns a summary."""
    seed = int(settings.get("demo_seed")) if seed is None else int(seed)
    days = int(settings.get("demo_days")) if days is None else int(days)
    end = floor_hour(datetime.now()) if end is None else floor_hour(end)
    if days < 1 or not (0 < scale <= 100):
        raise ValueError("days must be >= 1 and scale in (0, 100]")
    db_path = Path(db_path)
    if db_path.exists() and not force:
        raise FileExistsError(f"{db_path} exists (use --force to replace it)")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f"{db_path.name}.{os.getpid()}.building")
    wal = lambda p: Path(str(p) + ".wal")      # noqa: E731
    for p in (tmp, wal(tmp)):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    con = None
    try:
        con = warehouse.connect(tmp)
        summary = _fill(con, seed=seed, days=days, end=end, scale=scale, progress=_Progress(progress))
        con.execute("CHECKPOINT")
        con.close()
        con = None
        wal(db_path).unlink(missing_ok=True)     # a stale WAL must never replay onto the new file
        os.replace(tmp, db_path)
    except BaseException:
        if con is not None:
            try:
                con.close()
            except Exception:
                pass
        for p in (tmp, wal(tmp)):
            p.unlink(missing_ok=True)
        raise
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["db"] = str(db_path)
    if progress:
        print(f"  {'total':<26} {summary['total_rows']:>13,} rows {summary['seconds']:7.2f} s  → {db_path}",
              file=sys.stderr)
    return summary


def _fill(con, *, seed: int, days: int, end: datetime, scale: float, progress: _Progress) -> dict:
    con.execute("SET memory_limit = '3GB'")
    start = end - timedelta(days=days)
    t_start, t_end = to_s(start), to_s(end)
    incidents = plan_incidents(end, days)
    text = params_text(seed, scale, days, end)
    progress(f"demo city: seed={seed} days={days} end={end:%Y-%m-%dT%H} scale={scale:g}")

    t = time.perf_counter()
    districts = load_boundaries()
    city = make_city(districts, seed, scale, incidents)
    labelled = plan_labelled(seed, start, end, city.districts, city.sr_rates.sum(axis=1))
    city.effects.labelled = labelled
    con.register("_d", districts.drop(columns=["label"]))
    con.execute("INSERT INTO districts SELECT district_id, name, borough, population, area_km2, geometry, "
                "is_joint_area FROM _d")
    con.unregister("_d")
    warehouse.register_demo_sources(con)
    inc = pd.DataFrame([{k: getattr(i, k) for k in ("incident_id", "kind", "title", "domain", "district_id",
                                                   "starts_at", "ends_at")} for i in incidents],
                       columns=["incident_id", "kind", "title", "domain", "district_id", "starts_at", "ends_at"])
    if len(inc):
        con.register("_i", inc)
        con.execute("INSERT INTO incidents SELECT incident_id, kind, title, domain, district_id, "
                    "starts_at::TIMESTAMP, ends_at::TIMESTAMP, true FROM _i")
        con.unregister("_i")
    lab = pd.DataFrame([{"incident_id": i.incident_id, "kind": i.kind, "district_id": i.district_id,
                         "starts_at": i.starts_at, "ends_at": i.ends_at, "metrics": ",".join(i.metrics),
                         "size": i.size, "size_unit": i.size_unit, "small_district": i.small_district}
                        for i in labelled],
                       columns=["incident_id", "kind", "district_id", "starts_at", "ends_at", "metrics", "size",
                                "size_unit", "small_district"])
    if len(lab):
        con.register("_l", lab)
        con.execute("INSERT INTO labelled_incidents SELECT incident_id, kind, district_id, starts_at::TIMESTAMP, "
                    "ends_at::TIMESTAMP, string_split(metrics, ','), size, size_unit, small_district FROM _l")
        con.unregister("_l")
    rows: dict[str, int] = {"districts": len(districts), "incidents": len(inc)}
    timings: dict[str, float] = {}
    for table, frame, cols in (
        ("bike_stations", city.stations, ["station_id", "name", "district_id", "lat", "lon", "capacity"]),
        ("parking_facilities", city.facilities, ["facility_id", "name", "district_id", "capacity", "kind"]),
    ):
        batch = warehouse.begin_batch(con, TABLE_SOURCE[table], text)
        # the relational API inserts by position into the named table: no SQL text is built
        con.from_df(frame[cols].assign(source_id=TABLE_SOURCE[table])).insert_into(table)
        warehouse.finish_batch(con, batch, rows_read=len(frame), rows_loaded=len(frame))
        rows[table] = len(frame)
    timings["setup"] = round(time.perf_counter() - t, 2)
    progress(f"  {'districts + entities':<26} {len(districts):>6} districts, {len(city.stations)} stations, "
             f"{len(city.facilities)} facilities, {len(city.bins)} bins, {len(city.segments)} segments "
             f"{timings['setup']:7.2f} s")

    chunks = _month_chunks(t_start, t_end + 1)            # readings include the end hour
    event_chunks = _month_chunks(t_start, t_end)          # events and counts end before it
    lines = scale >= 4
    common = dict(source_text=text, progress=progress, chunk_lines=lines, timings=timings, rows=rows)

    def readings(fn, step, table):
        def make(k, c0, c1):
            first = -(-(c0 - t_start) // step) * step + t_start
            grid = np.arange(first, c1, step, dtype=np.int64)
            return fn(city, grid, _rng(seed, table, k))
        return make

    def events(fn, table):
        return lambda k, c0, c1: fn(city, c0, c1, _rng(seed, table, k))

    _load_table(con, city, "parking_occupancy", chunks, readings(parking_readings, HOUR, "parking_occupancy"), **common)
    _load_table(con, city, "bike_station_status", chunks, readings(bike_status_readings, HOUR, "bike_station_status"), **common)
    _load_table(con, city, "bin_fill", chunks, readings(bin_readings, BIN_READING_STEP, "bin_fill"), **common)
    _load_table(con, city, "traffic_counts", event_chunks, readings(traffic_readings, HOUR, "traffic_counts"), **common)
    _load_table(con, city, "bike_trips", event_chunks, events(bike_trip_events, "bike_trips"), **common)
    _load_table(con, city, "parking_citations", event_chunks, events(citation_events, "parking_citations"), **common)

    day_range = np.arange(t_start // DAY, t_end // DAY, dtype=np.int64)   # complete days only
    day_chunks = [(0, 0)]
    _load_table(con, city, "transit_ridership", day_chunks,
                lambda k, c0, c1: transit_days(city, day_range, _rng(seed, "transit", 0)), **common)
    _load_table(con, city, "waste_tonnage", day_chunks,
                lambda k, c0, c1: waste_days(city, day_range, _rng(seed, "waste", 0)), **common)

    # 311: requests month by month; survey answers are staged and loaded sorted afterwards.
    con.execute("CREATE TEMP TABLE _survey (responded_at TIMESTAMP, rid BIGINT, district_id VARCHAR, "
                "category VARCHAR, score INTEGER)")
    next_id = [1]
    survey_t = [0.0]

    def make_requests(k, c0, c1):
        req, resp = request_events(city, c0, c1, _rng(seed, "service_requests", k), as_of=t_end, first_id=next_id[0])
        next_id[0] += req.num_rows
        s0 = time.perf_counter()
        if resp.num_rows:
            con.register("_r", resp)
            con.execute("INSERT INTO _survey SELECT * FROM _r")
            con.unregister("_r")
        survey_t[0] += time.perf_counter() - s0
        return req

    _load_table(con, city, "service_requests", event_chunks, make_requests, **common)
    t = time.perf_counter()
    batch = warehouse.begin_batch(con, "demo_survey", text)
    con.execute("INSERT INTO satisfaction_responses SELECT responded_at, 'SR' || lpad(CAST(rid AS VARCHAR), 9, '0'), "
                "district_id, category, score, 'demo_survey', $b FROM _survey ORDER BY responded_at, rid", {"b": batch})
    n = con.execute("SELECT count(*) FROM _survey").fetchall()[0][0]
    con.execute("DROP TABLE _survey")
    warehouse.finish_batch(con, batch, rows_read=n, rows_loaded=n)
    rows["satisfaction_responses"] = n
    timings["satisfaction_responses"] = round(time.perf_counter() - t + survey_t[0], 2)
    progress(f"  {'satisfaction_responses':<26} {n:>13,} rows {timings['satisfaction_responses']:7.2f} s")

    warehouse.mark_dirty(con, start)
    raw = [k for k in rows if k in INSERT_SQL]
    return {
        "seed": seed, "days": days, "end": end.isoformat(), "start": start.isoformat(), "scale": scale,
        "rows": rows, "table_seconds": timings, "total_rows": int(sum(rows[k] for k in raw)),
        "labelled_incidents": len(labelled),
        "incidents": [{"incident_id": i.incident_id, "kind": i.kind, "title": i.title, "domain": i.domain,
                       "starts_at": i.starts_at.isoformat(), "ends_at": i.ends_at.isoformat(),
                       **({"borough": i.borough} if i.borough else {})} for i in incidents],
    }


# ------------------------------------------------------------------------------ CLI
def _check_not_in_use(path: Path) -> None:
    """Refuse to replace a warehouse another process (e.g. the live feed) holds open."""
    import duckdb

    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise SystemExit(f"{path} is in use by another process (stop the live feed first): {exc}") from None
        # not a readable DuckDB file: --force replaces it anyway


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.demo", description="Build the CityOps demo city warehouse.")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies entities and events (default 1.0; ~15 → 100M rows)")
    parser.add_argument("--days", type=int, default=None, help=f"days of history (default setting demo_days = {settings.get('demo_days')})")
    parser.add_argument("--end", default=None, help="last hour of data, YYYY-MM-DDTHH (default: now, floored to the hour)")
    parser.add_argument("--seed", type=int, default=None, help=f"random seed (default setting demo_seed = {settings.get('demo_seed')})")
    parser.add_argument("--db", type=Path, default=None, help=f"warehouse path (default {warehouse.path()})")
    parser.add_argument("--force", action="store_true", help="replace an existing warehouse")
    parser.add_argument("--publish", dest="publish", action="store_true", default=None,
                        help="publish snapshots after the build (default: only when building the default warehouse)")
    parser.add_argument("--no-publish", dest="publish", action="store_false")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    end = None
    if args.end:
        try:
            end = datetime.strptime(args.end, "%Y-%m-%dT%H")
        except ValueError:
            parser.error("--end must look like 2025-06-30T18")
    db_path = args.db or warehouse.path()
    if db_path.exists():
        if not args.force:
            raise SystemExit(f"{db_path} already exists; use --force to replace it")
        _check_not_in_use(db_path)
    summary = build(db_path, seed=args.seed, days=args.days, end=end, scale=args.scale,
                    progress=not args.quiet, force=True)
    print(json.dumps({k: summary[k] for k in ("db", "total_rows", "seconds", "rows")}))

    publish = args.publish if args.publish is not None else (Path(db_path).resolve() == warehouse.path().resolve())
    if publish:
        try:
            from data import publish as publisher
        except ImportError as exc:
            raise SystemExit(f"warehouse built, but data.publish is not available ({exc}); "
                             "run `python -m data.publish` once it exists") from None
        if Path(db_path).resolve() != warehouse.path().resolve():
            print("note: publishing a non-default warehouse into the configured var_dir", file=sys.stderr)
        con = warehouse.connect(db_path)
        try:
            result = publisher.publish(con)
        except Exception as exc:
            raise SystemExit(f"warehouse built, but publishing failed: {exc!r}; "
                             "fix it and run `python -m data.publish`") from None
        finally:
            con.close()
        print(f"published version {result.version} in {result.seconds:.2f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
