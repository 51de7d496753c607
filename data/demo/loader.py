"""Writing a demo city into a new warehouse: month by month via Arrow, atomically (a temp file
``os.replace``-d over the target only when complete), with sensor glitches sent to quarantine."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from data import settings, warehouse
from data.demo.city import City, load_boundaries, make_city, params_text
from data.demo.daily import transit_days, waste_days
from data.demo.events import bike_trip_events, citation_events
from data.demo.incidents import plan_incidents, plan_labelled
from data.demo.params import BIN_READING_STEP
from data.demo.primitives import DAY, HOUR, floor_hour, to_dt, to_s
from data.demo.readings import bike_status_readings, bin_readings, parking_readings, traffic_readings
from data.demo.service_requests import request_events
from data.demo.tables import INSERT_SQL, TABLE_SOURCE, insert


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


# Statements of the build, each from one registered frame `_frame` ($batch: the load batch).
DISTRICTS_SQL = ("INSERT INTO districts SELECT district_id, name, borough, population, area_km2, geometry, "
                 "is_joint_area FROM _frame")
INCIDENTS_SQL = ("INSERT INTO incidents SELECT incident_id, kind, title, domain, district_id, "
                 "starts_at::TIMESTAMP, ends_at::TIMESTAMP, true FROM _frame")
LABELLED_SQL = ("INSERT INTO labelled_incidents SELECT incident_id, kind, district_id, starts_at::TIMESTAMP, "
                "ends_at::TIMESTAMP, string_split(metrics, ','), size, size_unit, small_district FROM _frame")
QUARANTINE_SQL = ("INSERT INTO quarantine (batch_id, source_id, file, line_no, reason, raw) "
                  "VALUES (?, ?, ?, ?, ?, ?)")
# 311 survey answers are staged while requests load month by month, then loaded sorted by time.
SURVEY_STAGE_DDL = ("CREATE TEMP TABLE _survey (responded_at TIMESTAMP, rid BIGINT, district_id VARCHAR, "
                    "category VARCHAR, score INTEGER)")
SURVEY_STAGE_SQL = "INSERT INTO _survey SELECT * FROM _frame"
SURVEY_SQL = ("INSERT INTO satisfaction_responses SELECT responded_at, 'SR' || lpad(CAST(rid AS VARCHAR), 9, '0'), "
              "district_id, category, score, 'demo_survey', $b FROM _survey ORDER BY responded_at, rid")

INCIDENT_COLUMNS = ["incident_id", "kind", "title", "domain", "district_id", "starts_at", "ends_at"]
LABELLED_COLUMNS = ["incident_id", "kind", "district_id", "starts_at", "ends_at", "metrics", "size", "size_unit",
                    "small_district"]
ENTITY_TABLES = (
    ("bike_stations", "stations", ["station_id", "name", "district_id", "lat", "lon", "capacity"]),
    ("parking_facilities", "facilities", ["facility_id", "name", "district_id", "capacity", "kind"]),
)
# Load order (it fixes the batch ids). Sensors: (table, generator, seconds between readings,
# whether the end hour is read too); counts of an hour and events end before it.
SENSORS = (
    ("parking_occupancy", parking_readings, HOUR, True),
    ("bike_station_status", bike_status_readings, HOUR, True),
    ("bin_fill", bin_readings, BIN_READING_STEP, True),
    ("traffic_counts", traffic_readings, HOUR, False),
)
EVENTS = (("bike_trips", bike_trip_events), ("parking_citations", citation_events))
DAILY = (("transit_ridership", transit_days, "transit"), ("waste_tonnage", waste_days, "waste"))   # (.., rng salt)


def _insert_frame(con, sql: str, frame) -> None:
    """Run `sql` over a pandas or Arrow frame registered as `_frame`; nothing for an empty frame."""
    if len(frame) == 0:
        return
    con.register("_frame", frame)
    try:
        con.execute(sql)
    finally:
        con.unregister("_frame")


def _records(items, columns: list[str], **convert) -> pd.DataFrame:
    """A frame of the dataclass `items`' fields `columns`, a field converted where `convert` names it."""
    return pd.DataFrame([{c: convert[c](getattr(i, c)) if c in convert else getattr(i, c) for c in columns}
                         for i in items], columns=columns)


def _wal(path: Path) -> Path:
    return Path(str(path) + ".wal")


@dataclass
class _Run:
    """One build: the connection, the city, the batches' label, the time range, and the rows and
    seconds per table that the summary reports."""

    con: duckdb.DuckDBPyConnection
    city: City
    text: str
    progress: _Progress
    t_start: int
    t_end: int
    chunk_lines: bool
    rows: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def rng(self, table: str, k: int) -> np.random.Generator:
        return _rng(self.city.seed, table, k)

    def load(self, table: str, chunks, make) -> int:
        """Load `make(k, c0, c1)` for each chunk into `table` as one batch (glitches to quarantine)."""
        started = time.perf_counter()
        source = TABLE_SOURCE[table]
        batch = warehouse.begin_batch(self.con, source, self.text)
        total = read = 0
        quarantined: list[tuple] = []
        for k, (c0, c1) in enumerate(chunks):
            data = make(k, c0, c1)
            n_read = data.num_rows
            data, bad = _split_glitches(table, data, self.rng("glitch-" + table, k), read)
            quarantined += bad
            read += n_read
            n = insert(self.con, table, data, batch)
            total += n
            if self.chunk_lines:
                self.progress(f"    {table:<24} {to_dt(c0):%Y-%m}  {n:>12,} rows")
        if quarantined:
            self.con.executemany(QUARANTINE_SQL, [(batch, source, self.text, line, reason, raw)
                                                  for line, reason, raw in quarantined])
            self.rows["quarantine"] = self.rows.get("quarantine", 0) + len(quarantined)
        warehouse.finish_batch(self.con, batch, rows_read=read, rows_loaded=total, rows_quarantined=len(quarantined))
        self.done(table, total, time.perf_counter() - started)
        return batch

    def done(self, table: str, n: int, seconds: float) -> None:
        self.timings[table] = round(seconds, 2)
        self.rows[table] = n
        self.progress(f"  {table:<26} {n:>13,} rows {self.timings[table]:7.2f} s")

    # -- chunk makers: (k, c0, c1) -> an Arrow table of [c0, c1)
    def sensor_chunk(self, fn, step: int, table: str, k: int, c0: int, c1: int) -> pa.Table:
        """Readings every `step` seconds on the build's grid (from its first hour) within [c0, c1)."""
        first = -(-(c0 - self.t_start) // step) * step + self.t_start
        return fn(self.city, np.arange(first, c1, step, dtype=np.int64), self.rng(table, k))

    def event_chunk(self, fn, table: str, k: int, c0: int, c1: int) -> pa.Table:
        return fn(self.city, c0, c1, self.rng(table, k))

    def daily_chunk(self, fn, salt: str, k: int, c0: int, c1: int) -> pa.Table:
        """Every complete day of the build at once (one chunk)."""
        days = np.arange(self.t_start // DAY, self.t_end // DAY, dtype=np.int64)
        return fn(self.city, days, self.rng(salt, 0))


class _ServiceRequests:
    """311 requests month by month (ids in order); their survey answers staged in `_survey`."""

    def __init__(self, run: _Run):
        self.run = run
        self.next_id = 1
        self.staging_seconds = 0.0

    def chunk(self, k: int, c0: int, c1: int) -> pa.Table:
        run = self.run
        req, resp = request_events(run.city, c0, c1, run.rng("service_requests", k), as_of=run.t_end,
                                   first_id=self.next_id)
        self.next_id += req.num_rows
        started = time.perf_counter()
        _insert_frame(run.con, SURVEY_STAGE_SQL, resp)
        self.staging_seconds += time.perf_counter() - started
        return req

    def load(self, chunks) -> None:
        run, con = self.run, self.run.con
        con.execute(SURVEY_STAGE_DDL)
        run.load("service_requests", chunks, self.chunk)
        started = time.perf_counter()
        batch = warehouse.begin_batch(con, "demo_survey", run.text)
        con.execute(SURVEY_SQL, {"b": batch})
        n = con.execute("SELECT count(*) FROM _survey").fetchall()[0][0]
        con.execute("DROP TABLE _survey")
        warehouse.finish_batch(con, batch, rows_read=n, rows_loaded=n)
        run.done("satisfaction_responses", n, time.perf_counter() - started + self.staging_seconds)


def _rng(seed: int, table: str, k: int) -> np.random.Generator:
    code = int.from_bytes(hashlib.blake2b(table.encode(), digest_size=4).digest(), "little")
    return np.random.default_rng([seed, code, k])


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
    for p in (tmp, _wal(tmp)):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    con = None
    try:
        con = warehouse.connect(tmp)
        summary = _fill(con, seed=seed, days=days, end=end, scale=scale, progress=_Progress(progress))
        con.execute("CHECKPOINT")
        con.close()
        con = None
        _wal(db_path).unlink(missing_ok=True)     # a stale WAL must never replay onto the new file
        os.replace(tmp, db_path)
    except BaseException:
        if con is not None:
            try:
                con.close()
            except Exception:
                pass
        for p in (tmp, _wal(tmp)):
            p.unlink(missing_ok=True)
        raise
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["db"] = str(db_path)
    if progress:
        print(f"  {'total':<26} {summary['total_rows']:>13,} rows {summary['seconds']:7.2f} s  → {db_path}",
              file=sys.stderr)
    return summary


def _fill(con, *, seed: int, days: int, end: datetime, scale: float, progress: _Progress) -> dict:
    """Write every table of a new city into the open (empty) warehouse `con`; returns the summary."""
    con.execute("SET memory_limit = '3GB'")
    start = end - timedelta(days=days)
    incidents = plan_incidents(end, days)
    progress(f"demo city: seed={seed} days={days} end={end:%Y-%m-%dT%H} scale={scale:g}")

    started = time.perf_counter()
    districts = load_boundaries()
    city = make_city(districts, seed, scale, incidents)
    city.effects.labelled = plan_labelled(seed, start, end, city.districts, city.sr_rates.sum(axis=1))
    run = _Run(con, city, params_text(seed, scale, days, end), progress, to_s(start), to_s(end), chunk_lines=scale >= 4)
    _write_city(run, districts, incidents)
    run.timings["setup"] = round(time.perf_counter() - started, 2)
    progress(f"  {'districts + entities':<26} {len(districts):>6} districts, {len(city.stations)} stations, "
             f"{len(city.facilities)} facilities, {len(city.bins)} bins, {len(city.segments)} segments "
             f"{run.timings['setup']:7.2f} s")
    _load_facts(run)
    warehouse.mark_dirty(con, start)
    return _summary(run, incidents, seed=seed, days=days, end=end, start=start, scale=scale)


def _write_city(run: _Run, districts: pd.DataFrame, incidents) -> None:
    """Districts, the demo's sources, the incidents (recorded and labelled) and the entity tables."""
    con = run.con
    _insert_frame(con, DISTRICTS_SQL, districts.drop(columns=["label"]))
    warehouse.register_demo_sources(con)
    _insert_frame(con, INCIDENTS_SQL, _records(incidents, INCIDENT_COLUMNS))
    _insert_frame(con, LABELLED_SQL, _records(run.city.effects.labelled, LABELLED_COLUMNS, metrics=",".join))
    run.rows.update({"districts": len(districts), "incidents": len(incidents)})
    for table, attr, cols in ENTITY_TABLES:
        frame = getattr(run.city, attr)
        batch = warehouse.begin_batch(con, TABLE_SOURCE[table], run.text)
        # the relational API inserts by position into the named table: no SQL text is built
        con.from_df(frame[cols].assign(source_id=TABLE_SOURCE[table])).insert_into(table)
        warehouse.finish_batch(con, batch, rows_read=len(frame), rows_loaded=len(frame))
        run.rows[table] = len(frame)


def _load_facts(run: _Run) -> None:
    """The fact tables, month by month (daily facts in one chunk), in the fixed load order."""
    reading_chunks = _month_chunks(run.t_start, run.t_end + 1)        # readings include the end hour
    event_chunks = _month_chunks(run.t_start, run.t_end)              # events and counts end before it
    for table, fn, step, through_end in SENSORS:
        run.load(table, reading_chunks if through_end else event_chunks, partial(run.sensor_chunk, fn, step, table))
    for table, fn in EVENTS:
        run.load(table, event_chunks, partial(run.event_chunk, fn, table))
    for table, fn, salt in DAILY:
        run.load(table, [(0, 0)], partial(run.daily_chunk, fn, salt))
    _ServiceRequests(run).load(event_chunks)


def _summary(run: _Run, incidents, *, seed: int, days: int, end: datetime, start: datetime, scale: float) -> dict:
    raw = [k for k in run.rows if k in INSERT_SQL]
    return {
        "seed": seed, "days": days, "end": end.isoformat(), "start": start.isoformat(), "scale": scale,
        "rows": run.rows, "table_seconds": run.timings, "total_rows": int(sum(run.rows[k] for k in raw)),
        "labelled_incidents": len(run.city.effects.labelled),
        "incidents": [{"incident_id": i.incident_id, "kind": i.kind, "title": i.title, "domain": i.domain,
                       "starts_at": i.starts_at.isoformat(), "ends_at": i.ends_at.isoformat(),
                       **({"borough": i.borough} if i.borough else {})} for i in incidents],
    }
