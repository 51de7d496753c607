"""Live feed: keeps the demo city ticking in the warehouse.

``python -m data.livefeed [--interval S] [--publish-every S] [--once]``

The one writer process of a running demo. It opens the warehouse read-write and every
``live_interval_s`` seconds runs :func:`tick`, which appends, in one transaction:

* a reading stamped ``now`` (floored to the second) for every parking facility, bike station and
  smart bin;
* the events of the interval since the previous tick ``[prev, now)``: bike trips that ended in
  it, parking citations, new 311 requests, closures of open requests (``UPDATE closed_at,
  status``) and survey answers;
* when an hour / a day has completed: that hour's traffic counts, that day's transit ridership
  and waste tonnage;

then registers one load batch per source that received rows (file ``data.livefeed tick``) and
calls ``warehouse.mark_dirty`` with the earliest data time it touched (for a closure that is
its ``closed_at``). Every ``live_publish_s`` seconds it calls ``data.publish.publish(con)``.

All values come from the generator's own functions in the ``data/demo`` package (profiles, smooth sensor
noise, bin collection schedules, Poisson event rates, lognormal close times — the city is rebuilt
from the warehouse by ``data.demo.city.city_from_warehouse``), so live data continues the history. Event
rates are real rates per elapsed second, so at scale 1 a 5-second tick usually brings zero or
one trip, request or closure; the sensor readings are what moves every tick.

On start it **backfills** the gap since the warehouse's last data (e.g. a demo built yesterday)
with hourly readings and the events of the gap, at most ``MAX_BACKFILL`` (7 days) back, so
metrics are not stale. SIGTERM / SIGINT finish the current tick, then close the connection. A
failing tick or publish is logged and the loop goes on.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data import settings, warehouse
from data.demo.city import City, city_from_warehouse
from data.demo.daily import transit_days, waste_days
from data.demo.events import bike_trip_events, citation_events
from data.demo.params import BIN_READING_STEP
from data.demo.primitives import DAY, HOUR, floor_hour, to_dt, to_s
from data.demo.readings import bike_status_readings, bin_readings, parking_readings, traffic_readings
from data.demo.service_requests import close_open_requests, request_events, survey_answers
from data.demo.tables import TABLE_SOURCE, insert

log = logging.getLogger("data.livefeed")

MAX_BACKFILL = timedelta(days=7)
MAX_TICK_GAP_S = 3600          # a tick covers at most the last hour; older gaps are backfill's job
SURVEY_LOOKBACK = timedelta(days=10)
NO_WAREHOUSE = "no warehouse: run `python -m data.demo` first"

# daily tables the feed completes: (table, generator, the statement of its last day)
DAILY_TABLES = (
    ("transit_ridership", transit_days, "SELECT max(day) FROM transit_ridership"),
    ("waste_tonnage", waste_days, "SELECT max(day) FROM waste_tonnage"),
)


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return pd.Timestamp(value).to_pydatetime()


class _Load:
    """Collects one tick's (or backfill's) inserts: one load batch per source, earliest time."""

    def __init__(self, con, label: str):
        self.con = con
        self.label = label
        self.batches: dict[str, list[int]] = {}
        self.counts: dict[str, int] = {}
        self.earliest: datetime | None = None

    def _batch(self, source: str) -> list[int]:
        if source not in self.batches:
            self.batches[source] = [warehouse.begin_batch(self.con, source, self.label), 0]
        return self.batches[source]

    def touch(self, when) -> None:
        when = _as_datetime(when)
        if self.earliest is None or when < self.earliest:
            self.earliest = when

    def add(self, table: str, data: pa.Table) -> None:
        self.counts.setdefault(table, 0)
        if data.num_rows == 0:
            return
        batch = self._batch(TABLE_SOURCE[table])
        n = insert(self.con, table, data, batch[0])
        batch[1] += n
        self.counts[table] += n
        self.touch(pc.min(data[warehouse.TABLES[table].time]).as_py())  # for mark_dirty

    def close_requests(self, closures: pd.DataFrame) -> None:
        self.counts.setdefault("closed_requests", 0)
        if closures.empty:
            return
        self.con.register("_closures", closures)
        try:
            n = self.con.execute(
                "UPDATE service_requests SET closed_at = c.closed_at, status = 'closed' FROM _closures c "
                "WHERE service_requests.request_id = c.request_id AND service_requests.status = 'open'"
            ).fetchall()[0][0]
        finally:
            self.con.unregister("_closures")
        self._batch("demo_311")[1] += int(n)
        self.counts["closed_requests"] += int(n)
        self.touch(closures["closed_at"].min())

    def finish(self) -> None:
        for batch_id, n in self.batches.values():
            warehouse.finish_batch(self.con, batch_id, rows_read=n, rows_loaded=n)
        if self.earliest is not None:
            warehouse.mark_dirty(self.con, self.earliest)


# ------------------------------------------------------------------------------ queries
def _scalar(con, sql: str, params: dict | None = None):
    # fetchall, not fetchone: a half-read result blocks the next register() on this connection
    return con.execute(sql, params or {}).fetchall()[0][0]


def last_tick_time(con) -> datetime | None:
    """The time up to which the warehouse is covered: its newest bike-dock reading."""
    return _scalar(con, "SELECT max(ts) FROM bike_station_status")


def _next_request_id(con) -> int:
    last = _scalar(con, "SELECT max(request_id) FROM service_requests WHERE request_id LIKE 'SR%'")
    try:
        return int(last[2:]) + 1 if last else 1
    except ValueError:
        return 1


def _open_requests(con) -> pd.DataFrame:
    return con.execute("SELECT request_id, created_at, category, district_id FROM service_requests "
                       "WHERE status = 'open'").df()


def _unanswered_closed(con, t0: datetime, t1: datetime) -> pd.DataFrame:
    return con.execute(
        "SELECT s.request_id, s.created_at, s.closed_at, s.category, s.district_id FROM service_requests s "
        "WHERE s.closed_at >= $lo AND s.closed_at < $hi AND NOT EXISTS (SELECT 1 FROM satisfaction_responses r "
        "WHERE r.request_id = s.request_id AND r.responded_at >= $lo)",
        {"lo": t0 - SURVEY_LOOKBACK, "hi": t1},
    ).df()


# ------------------------------------------------------------------------------ generation
def _sensors(load: _Load, city: City, at: np.ndarray, bins_at: np.ndarray, rng: np.random.Generator) -> None:
    """Sensor readings at the times `at` (parking, docks) and `bins_at` (bins read every two hours)."""
    load.add("parking_occupancy", parking_readings(city, at, rng))
    load.add("bike_station_status", bike_status_readings(city, at, rng))
    if bins_at.size:
        load.add("bin_fill", bin_readings(city, bins_at, rng))


def _events(load: _Load, con, city: City, t0: int, t1: int, rng: np.random.Generator) -> None:
    """Events of [t0, t1): trips, citations, new requests, closures, survey answers."""
    load.add("bike_trips", bike_trip_events(city, t0, t1, rng))
    load.add("parking_citations", citation_events(city, t0, t1, rng))
    open_before = _open_requests(con)
    requests, responses = request_events(city, t0, t1, rng, as_of=t1, first_id=_next_request_id(con))
    load.add("service_requests", requests)
    load.close_requests(close_open_requests(city, open_before, t0, t1, rng))
    load.add("satisfaction_responses", responses)
    answers = survey_answers(city, _unanswered_closed(con, to_dt(t0), to_dt(t1)), t0, t1, rng)
    load.add("satisfaction_responses", answers)


def _catch_up_periodic(load: _Load, con, city: City, now: datetime, rng: np.random.Generator) -> None:
    """Completed hours of traffic counts and completed days of transit and waste."""
    floor = now - MAX_BACKFILL
    last = _scalar(con, "SELECT max(ts) FROM traffic_counts")
    if last is not None:
        first = max(last + timedelta(hours=1), floor_hour(floor))
        hours = np.arange(to_s(first), to_s(now) - HOUR + 1, HOUR, dtype=np.int64)
        if hours.size:
            load.add("traffic_counts", traffic_readings(city, hours, rng))
    today = to_s(now) // DAY
    for table, make, last_day_sql in DAILY_TABLES:
        last_day = _scalar(con, last_day_sql)
        if last_day is None:
            continue
        first_day = max((last_day - date(1970, 1, 1)).days + 1, to_s(floor) // DAY)
        days = np.arange(first_day, today, dtype=np.int64)
        if days.size:
            load.add(table, make(city, days, rng))


def tick(con, now: datetime, rng: np.random.Generator, *, city: City | None = None) -> dict:
    """Append one batch of live data stamped `now`; returns rows per table (+ closed_requests)."""
    now = now.replace(microsecond=0)
    city = city or city_from_warehouse(con)
    t_now = to_s(now)
    prev = last_tick_time(con)
    t_prev = to_s(prev) if prev is not None else t_now - int(settings.get("live_interval_s"))
    t_prev = max(t_prev, t_now - MAX_TICK_GAP_S)
    if t_prev >= t_now:
        return {"skipped": 1}
    load = _Load(con, "data.livefeed tick")
    with warehouse.transaction(con):
        at = np.array([t_now], dtype=np.int64)
        _sensors(load, city, at, at, rng)
        _events(load, con, city, t_prev, t_now, rng)
        _catch_up_periodic(load, con, city, now, rng)
        load.finish()
    return dict(load.counts)


def backfill(con, now: datetime, rng: np.random.Generator, *, city: City | None = None) -> dict:
    """Fill the gap between the warehouse's last data and `now` (floored to the hour) with hourly
    readings and the gap's events, at most MAX_BACKFILL back. Returns rows per table."""
    city = city or city_from_warehouse(con)
    until = floor_hour(now)
    last = last_tick_time(con)
    if last is None or last >= until:
        return {}
    lo = max(last, until - MAX_BACKFILL)
    if lo > last:
        log.warning("warehouse data ends %s; backfilling only the last %s", last, MAX_BACKFILL)
    t_lo, t_until = to_s(lo), to_s(until)
    first_hour = to_s(floor_hour(lo)) + HOUR
    hours = np.arange(first_hour, t_until + 1, HOUR, dtype=np.int64)
    first_bin = _scalar(con, "SELECT min(ts) FROM bin_fill")        # continue the bins' 2-hour grid
    anchor = to_s(first_bin) if first_bin is not None else t_until
    bins_at = hours[(hours - anchor) % BIN_READING_STEP == 0]
    load = _Load(con, "data.livefeed backfill")
    with warehouse.transaction(con):
        for k in range(0, len(hours), 24):        # a day at a time keeps chunks small at any scale
            part = hours[k:k + 24]
            _sensors(load, city, part, bins_at[(bins_at >= part[0]) & (bins_at <= part[-1])], rng)
        _events(load, con, city, t_lo, t_until, rng)
        _catch_up_periodic(load, con, city, until, rng)
        load.finish()
    return dict(load.counts)


# ------------------------------------------------------------------------------ loop
def _summary(counts: dict) -> str:
    if counts.get("skipped"):
        return "skipped (clock did not advance)"
    short = {"parking_occupancy": "parking", "bike_station_status": "docks", "bin_fill": "bins",
             "bike_trips": "trips", "parking_citations": "citations", "service_requests": "requests",
             "closed_requests": "closed", "satisfaction_responses": "surveys", "traffic_counts": "traffic",
             "transit_ridership": "transit", "waste_tonnage": "waste"}
    return ", ".join(f"{short.get(k, k)} {v}" for k, v in counts.items() if v or k in
                     ("parking_occupancy", "bike_station_status", "bin_fill"))


def _publisher():
    try:
        from data import publish as publisher
    except ImportError as exc:
        log.warning("publishing disabled: data.publish is not available (%s)", exc)
        return None
    return publisher.publish


def _notify() -> None:
    """One notification pass in the writer, after detection; it never stops the feed."""
    try:
        from data import notify
        counts = notify.run()
        if counts.get("sent") or counts.get("retry") or counts.get("failed"):
            log.info("notifications: %s", counts)
    except Exception:
        log.exception("notifications failed; will retry at the next publish")


def run(*, interval: float, publish_every: float, once: bool = False) -> int:
    path = warehouse.path()
    if not path.exists():
        raise SystemExit(NO_WAREHOUSE)
    try:
        con = warehouse.connect(path)
    except duckdb.IOException as exc:
        raise SystemExit(f"cannot open the warehouse {path} read-write (is another writer running?): {exc}") from None

    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("%s received: finishing the current tick", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    rng = np.random.default_rng()
    publish = _publisher() if publish_every > 0 else None
    last_publish = float("-inf")
    ticks = 0
    try:
        try:
            city = city_from_warehouse(con)
        except Exception as exc:  # noqa: BLE001 - any unreadable warehouse becomes the CLI's one-line message
            raise SystemExit(f"the warehouse {path} holds no demo city to feed ({exc!r}); "
                             "run `python -m data.demo --force` first") from None
        if city.facilities.empty or city.stations.empty or city.bins.empty:
            raise SystemExit(f"the warehouse {path} holds no demo city to feed; run `python -m data.demo --force` first")
        try:
            started = time.perf_counter()
            counts = backfill(con, datetime.now(), rng, city=city)
            if counts:
                log.info("backfill: %s (%.2fs)", _summary(counts), time.perf_counter() - started)
        except Exception:
            log.exception("backfill failed; continuing with live ticks")
        while not stop.is_set():
            started = time.perf_counter()
            try:
                counts = tick(con, datetime.now(), rng, city=city)
                ticks += 1
                log.info("tick: %s (%.0f ms)", _summary(counts), (time.perf_counter() - started) * 1000)
            except Exception:
                log.exception("tick failed; will retry")
            if publish is not None and (once or time.monotonic() - last_publish >= publish_every):
                last_publish = time.monotonic()
                try:
                    result = publish(con)      # data.publish logs the version and timings itself
                    log.debug("published %s in %.2fs", result.version, result.seconds)
                except Exception:
                    log.exception("publish failed; will retry")
                _notify()  # alert events of this run's detection: webhooks and e-mail (data.notify)
            if once:
                break
            stop.wait(max(0.0, interval - (time.perf_counter() - started)))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        con.close()
        log.info("live feed stopped after %d ticks; warehouse closed", ticks)
    return ticks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.livefeed", description="Feed live demo data into the warehouse.")
    parser.add_argument("--interval", type=float, default=float(settings.get("live_interval_s")),
                        help="seconds between ticks (setting live_interval_s)")
    parser.add_argument("--publish-every", type=float, default=float(settings.get("live_publish_s")),
                        help="seconds between publishes, 0 = never (setting live_publish_s)")
    parser.add_argument("--once", action="store_true", help="backfill, one tick, one publish, exit")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be > 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s livefeed %(message)s", stream=sys.stderr)
    run(interval=args.interval, publish_every=args.publish_every, once=args.once)


if __name__ == "__main__":
    main()
