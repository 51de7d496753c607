"""The demo city: a deterministic, believable simulated New York for CityOps.

``python -m data.demo`` (``__main__``: flags there) builds a complete warehouse (every table of ``data/schema.sql`` except the rollups) from the
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

Modules, each one thing (they import downwards only: primitives ← params ← incidents ←
the generators ← city ← tables ← loader ← __main__):

* ``params`` — every tunable number of the simulated city; ``primitives`` — time units, stable
  hashes, shapes and Arrow columns shared by every generator;
* ``incidents`` — injected and labelled incidents and their effects; ``entities`` and ``city`` —
  the city model (also rebuilt from a warehouse);
* generators shared with the live feed: ``readings`` (sensors), ``events`` (trips, citations),
  ``service_requests`` (311 requests, closures, surveys), ``daily`` (transit, waste);
* ``tables`` — each raw table's source and INSERT; ``loader`` — ``build()``, writing a new
  warehouse; ``__main__`` — the CLI.

Names are re-exported here lazily: ``from data import demo; demo.build(...)`` loads the loader on
first use, while ``data.livefeed`` imports the generator modules directly and never loads the
loader or the CLI.
"""
from __future__ import annotations

import importlib

# name → the module of this package that defines it: the names other code uses.
_EXPORTS = {
    "primitives": ("DAY", "EPOCH", "HOUR", "floor_hour", "hash_n", "hash_u", "smooth_noise", "to_dt", "to_s"),
    "params": ("BIN_READING_STEP", "CAT_NAMES", "CATEGORIES", "LABELLED_RATES", "OUTAGE_BOROUGH", "STREAMS"),
    "incidents": ("Effects", "Incident", "LabelledIncident", "plan_incidents", "plan_labelled"),
    "city": ("City", "city_from_warehouse", "district_profile", "load_boundaries", "make_city", "params_text"),
    "entities": ("augment_entities", "make_entities"),
    "readings": ("bike_status_readings", "bin_fill_levels", "bin_readings", "parking_readings", "traffic_readings"),
    "events": ("bike_trip_events", "citation_events"),
    "service_requests": ("close_open_requests", "request_events", "satisfaction_scores", "survey_answers"),
    "daily": ("transit_days", "waste_days"),
    "tables": ("INSERT_SQL", "TABLE_SOURCE", "insert"),
    "loader": ("GLITCHES", "build"),
    "__main__": ("main",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    """Import the defining module on first use (PEP 562), so importing one generator never
    loads the loader or the CLI."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
