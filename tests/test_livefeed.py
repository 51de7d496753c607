"""The live feed (data/livefeed.py): ticks, closures, dirty marks, backfill, the run loop."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import types
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from data import demo, livefeed, warehouse

END = datetime(2025, 11, 20, 15)
SEED = 11
ROOT = Path(__file__).resolve().parent.parent
READINGS = {"parking_occupancy": "parking_facilities", "bike_station_status": "bike_stations", "bin_fill": None}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "template.duckdb"
    demo.build(path, seed=SEED, days=21, end=END, scale=0.2, progress=False)
    return path


@pytest.fixture()
def con(template, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(template, path)
    c = warehouse.connect(path)
    yield c
    c.close()


def one(con, sql, params=None):
    return con.execute(sql, params or {}).fetchall()[0][0]


def n_bins(con):
    return one(con, "SELECT count(DISTINCT bin_id) FROM bin_fill")


def check_invariants(con):
    assert one(con, "SELECT count(*) FROM parking_occupancy WHERE occupied > capacity OR occupied < 0") == 0
    assert one(con, "SELECT count(*) FROM bin_fill WHERE fill_pct < 0 OR fill_pct > 100") == 0
    assert one(con, "SELECT count(*) FROM bike_station_status WHERE bikes_available < 0 OR docks_available < 0 "
                    "OR bikes_available + docks_available > capacity") == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE closed_at < created_at") == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE (status = 'open') <> (closed_at IS NULL)") == 0
    assert one(con, "SELECT count(DISTINCT request_id) = count(*) FROM service_requests")
    assert one(con, "SELECT count(*) FROM satisfaction_responses WHERE score NOT BETWEEN 1 AND 5") == 0
    assert one(con, "SELECT count(*) FROM satisfaction_responses r JOIN service_requests s USING (request_id) "
                    "WHERE s.closed_at IS NULL OR r.responded_at < s.closed_at") == 0
    assert one(con, "SELECT count(*) FROM bike_trips WHERE ended_at <= started_at") == 0
    assert one(con, "SELECT count(*) FROM load_batches WHERE status <> 'ok'") == 0


def test_tick_appends_readings_stamped_now_and_events_of_the_interval(con):
    now = END + timedelta(minutes=10, seconds=7, microseconds=500)
    stamped = now.replace(microsecond=0)
    batches_before = one(con, "SELECT max(batch_id) FROM load_batches")
    bins = n_bins(con)
    counts = livefeed.tick(con, now, np.random.default_rng(1))

    for table, entities in READINGS.items():
        expected = one(con, f"SELECT count(*) FROM {entities}") if entities else bins   # noqa: S608
        assert counts[table] == expected
        assert one(con, f"SELECT count(*) FROM {table} WHERE ts = $t", {"t": stamped}) == expected   # noqa: S608
        assert one(con, f"SELECT max(ts) FROM {table}") == stamped                                   # noqa: S608
    # events of [END, now): trips dated by their end, new requests by creation
    assert counts["bike_trips"] > 0
    assert one(con, "SELECT count(*) FROM bike_trips WHERE ended_at >= $a AND ended_at < $b",
               {"a": END, "b": stamped}) == counts["bike_trips"]
    assert one(con, "SELECT count(*) FROM service_requests WHERE created_at >= $a",
               {"a": END}) == counts["service_requests"]
    # one batch per source that got rows, marked as the live feed's
    batches = con.execute("SELECT source_id, file, rows_loaded, status FROM load_batches WHERE batch_id > $b",
                          {"b": batches_before}).fetchall()
    sources = {b[0] for b in batches}
    assert {"demo_parking", "demo_bike_status", "demo_bins", "demo_bikeshare"} <= sources
    assert len(sources) == len(batches)
    assert all(b[1] == "data.livefeed tick" and b[3] == "ok" for b in batches)
    assert dict((b[0], b[2]) for b in batches)["demo_parking"] == counts["parking_occupancy"]


def test_tick_marks_dirty_from_its_earliest_row(con):
    con.execute("DELETE FROM rollup_dirty")
    now = END + timedelta(minutes=20)
    livefeed.tick(con, now, np.random.default_rng(2))
    since = con.execute("SELECT since FROM rollup_dirty").fetchall()
    assert len(since) == 1
    earliest_trip = one(con, "SELECT min(started_at) FROM bike_trips WHERE ended_at >= $e", {"e": END})
    assert since[0][0] <= min(now, earliest_trip)
    assert since[0][0] >= END - timedelta(hours=3)


def test_tick_closes_some_open_requests(con):
    open_before = {r[0] for r in con.execute("SELECT request_id FROM service_requests WHERE status = 'open'").fetchall()}
    assert open_before
    now = END + timedelta(minutes=50)
    counts = livefeed.tick(con, now, np.random.default_rng(3))
    assert counts["closed_requests"] > 0
    closed = con.execute("SELECT request_id, created_at, closed_at FROM service_requests "
                         "WHERE status = 'closed' AND closed_at >= $e", {"e": END}).fetchall()
    assert len(closed) == counts["closed_requests"]
    for request_id, created, closed_at in closed:
        assert request_id in open_before
        assert created <= closed_at < now


def test_repeated_ticks_keep_invariants(con):
    rng = np.random.default_rng(4)
    requests = one(con, "SELECT count(*) FROM service_requests")
    total = {}
    for k in range(1, 21):
        counts = livefeed.tick(con, END + timedelta(seconds=30 * k), rng)
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    check_invariants(con)
    assert one(con, "SELECT count(DISTINCT ts) FROM parking_occupancy WHERE ts > $e", {"e": END}) == 20
    assert one(con, "SELECT count(*) FROM service_requests") == requests + total.get("service_requests", 0)
    assert total["bike_trips"] > 0


def test_live_readings_continue_the_history(con):
    """The live feed rebuilds the generator's city (one source of truth) and its readings are
    close to the last historical reading of the same facility."""
    city = demo.city_from_warehouse(con)
    fresh = demo.make_city(demo.load_boundaries(), SEED, 0.2, [])
    for frame, column in (("facilities", "level"), ("stations", "role"), ("bins", "rate"), ("segments", "capacity")):
        assert np.allclose(getattr(city, frame)[column], getattr(fresh, frame)[column]), frame
    livefeed.tick(con, END + timedelta(seconds=5), np.random.default_rng(5), city=city)
    jump = one(con, "SELECT max(abs(a.occupied - b.occupied) / a.capacity) FROM parking_occupancy a "
                    "JOIN parking_occupancy b USING (facility_id) WHERE a.ts = $e AND b.ts = $l",
               {"e": END, "l": END + timedelta(seconds=5)})
    assert jump < 0.1


def test_tick_without_time_passing_writes_nothing(con):
    rows = one(con, "SELECT count(*) FROM parking_occupancy")
    assert livefeed.tick(con, END, np.random.default_rng(6)) == {"skipped": 1}
    assert one(con, "SELECT count(*) FROM parking_occupancy") == rows


def test_backfill_bridges_the_gap_hour_by_hour(con):
    now = END + timedelta(days=2, hours=3, minutes=25)
    until = END + timedelta(days=2, hours=3)
    counts = livefeed.backfill(con, now, np.random.default_rng(7))
    assert counts["parking_occupancy"] > 0 and counts["bike_trips"] > 0 and counts["service_requests"] > 0
    hours = con.execute("SELECT DISTINCT ts FROM parking_occupancy WHERE ts > $e ORDER BY ts", {"e": END}).fetchall()
    assert [h[0] for h in hours] == [END + timedelta(hours=k) for k in range(1, 2 * 24 + 4)]
    assert one(con, "SELECT max(ts) FROM traffic_counts") == until - timedelta(hours=1)
    assert one(con, "SELECT max(day) FROM waste_tonnage") == (now - timedelta(days=1)).date()
    assert one(con, "SELECT max(day) FROM transit_ridership") == (now - timedelta(days=1)).date()
    assert one(con, "SELECT max(ts) FROM bin_fill") == until - timedelta(hours=(until.hour - END.hour) % 2)
    check_invariants(con)
    # the next tick continues from the backfill
    counts = livefeed.tick(con, now, np.random.default_rng(8))
    assert one(con, "SELECT count(*) FROM bike_trips WHERE ended_at >= $u", {"u": until}) == counts["bike_trips"]


def test_backfill_is_bounded(con):
    now = END + timedelta(days=30)
    livefeed.backfill(con, now, np.random.default_rng(9))
    first_new = one(con, "SELECT min(ts) FROM parking_occupancy WHERE ts > $e", {"e": END})
    assert first_new >= now - livefeed.MAX_BACKFILL
    assert one(con, "SELECT max(ts) FROM parking_occupancy") == now


def test_backfill_is_a_no_op_when_fresh(con):
    rows = one(con, "SELECT count(*) FROM parking_occupancy")
    assert livefeed.backfill(con, END + timedelta(minutes=30), np.random.default_rng(10)) == {}
    assert one(con, "SELECT count(*) FROM parking_occupancy") == rows


# ------------------------------------------------------------------------------ the run loop
@pytest.fixture()
def live_var_dir(template, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    shutil.copy(template, tmp_path / "warehouse.duckdb")
    return tmp_path


def test_missing_warehouse_exits_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path / "empty"))
    with pytest.raises(SystemExit) as exc:
        livefeed.run(interval=1, publish_every=0, once=True)
    assert "run `python -m data.demo` first" in str(exc.value)
    assert not (tmp_path / "empty" / "warehouse.duckdb").exists()


def test_run_once_backfills_ticks_publishes_and_closes(live_var_dir, monkeypatch):
    calls = []
    fake = types.ModuleType("data.publish")
    fake.publish = lambda con: calls.append(one(con, "SELECT max(ts) FROM parking_occupancy")) or \
        types.SimpleNamespace(version="v1", seconds=0.01)
    monkeypatch.setitem(sys.modules, "data.publish", fake)
    import data
    monkeypatch.setattr(data, "publish", fake, raising=False)
    assert livefeed.run(interval=1, publish_every=10, once=True) == 1
    assert len(calls) == 1 and calls[0] > datetime.now() - timedelta(minutes=1)
    c = duckdb.connect(str(live_var_dir / "warehouse.duckdb"))      # closed: we can open it read-write again
    assert one(c, "SELECT count(*) FROM load_batches WHERE file = 'data.livefeed backfill'") > 0
    c.close()


def test_a_failing_publish_does_not_stop_the_feed(live_var_dir, monkeypatch):
    fake = types.ModuleType("data.publish")

    def broken(con):
        raise RuntimeError("publish exploded")

    fake.publish = broken
    monkeypatch.setitem(sys.modules, "data.publish", fake)
    import data
    monkeypatch.setattr(data, "publish", fake, raising=False)
    assert livefeed.run(interval=1, publish_every=10, once=True) == 1


def test_sigterm_finishes_the_tick_and_exits_cleanly(live_var_dir):
    env = {**os.environ, "CITYOPS_VAR_DIR": str(live_var_dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "data.livefeed", "--interval", "0.2", "--publish-every", "0"],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "tick:" in line:
                break
        assert any("tick:" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=20)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "warehouse closed" in rest
    c = duckdb.connect(str(live_var_dir / "warehouse.duckdb"))
    assert one(c, "SELECT count(*) FROM load_batches WHERE status = 'running'") == 0
    c.close()


def test_closure_rate_continues_the_history(con):
    """Closing open requests conditionally on their age reproduces the historical closure rate."""
    city = demo.city_from_warehouse(con)
    open_now = livefeed._open_requests(con)
    hourly = one(con, "SELECT count(*) / (14 * 24) FROM service_requests WHERE closed_at >= $a",
                 {"a": END - timedelta(days=14)})
    t0 = demo.to_s(END)
    closed = demo.close_open_requests(city, open_now, t0, t0 + 12 * demo.HOUR, np.random.default_rng(12))
    assert 0.5 * hourly < len(closed) / 12 < 2.0 * hourly
    assert closed["request_id"].is_unique


def test_a_warehouse_without_a_demo_city_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    warehouse.connect(tmp_path / "warehouse.duckdb").close()       # schema only, no data
    with pytest.raises(SystemExit) as exc:
        livefeed.run(interval=1, publish_every=0, once=True)
    assert "no demo city" in str(exc.value)


def test_the_live_feed_loads_the_generators_not_the_demo_loader_or_cli():
    """The feed is the one writer of a running demo: it imports the generator modules it calls,
    never the build's loader or its CLI (a fresh interpreter, so no other test's import counts)."""
    code = ("import sys, data.livefeed; "
            "print(sorted(m for m in sys.modules if m.startswith('data.demo')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "data.demo.readings" in loaded and "data.demo.service_requests" in loaded
    assert "data.demo.loader" not in loaded and "data.demo.__main__" not in loaded
