"""Writing a demo city into a new warehouse: month by month via Arrow, atomically (a temp file
``os.replace``-d over the target only when complete), with sensor glitches sent to quarantine."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

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
