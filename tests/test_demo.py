"""The demo city generator (the data/demo package): determinism, completeness, incidents, invariants."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pytest
import shapely

from data import demo
from data.demo import loader

END = datetime(2025, 11, 20, 15)
DAYS = 60
SCALE = 0.2
SEED = 7

FILLED = ("districts", "sources", "load_batches", "quarantine", "incidents", "bike_stations", "bike_trips",
          "bike_station_status", "transit_ridership", "traffic_counts", "waste_tonnage", "bin_fill",
          "parking_facilities", "parking_occupancy", "parking_citations", "service_requests",
          "satisfaction_responses")
FACTS = ("bike_trips", "bike_station_status", "transit_ridership", "traffic_counts", "waste_tonnage",
         "bin_fill", "parking_occupancy", "parking_citations", "service_requests", "satisfaction_responses")
PEOPLE_FACTS = ("transit_ridership", "traffic_counts", "waste_tonnage", "bin_fill", "parking_occupancy",
                "parking_citations", "service_requests", "satisfaction_responses")


def _build(path, seed=SEED, **kw):
    args = dict(seed=seed, days=DAYS, end=END, scale=SCALE, progress=False)
    args.update(kw)
    return demo.build(path, **args)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    summary = _build(path)
    con = duckdb.connect(str(path), read_only=True)
    yield path, summary, con
    con.close()


@pytest.fixture(scope="module")
def con(built):
    return built[2]


def checksums(path) -> dict:
    """Order-independent checksum of every data table (load times excluded)."""
    c = duckdb.connect(str(path), read_only=True)
    try:
        out = {t: c.execute(f"SELECT count(*), sum(hash(t)) FROM {t} t").fetchone()   # noqa: S608 (fixed names)
               for t in FILLED if t != "load_batches"}
        out["load_batches"] = c.execute(
            "SELECT count(*), sum(hash(batch_id, source_id, file, rows_read, rows_loaded, rows_quarantined, status)) "
            "FROM load_batches").fetchone()
        out["rollup_dirty"] = c.execute("SELECT count(*), min(since) FROM rollup_dirty").fetchone()
        return out
    finally:
        c.close()


def one(con, sql, params=None):
    return con.execute(sql, params or {}).fetchall()[0][0]


# ------------------------------------------------------------------------------ determinism
def test_same_arguments_give_identical_tables(built, tmp_path):
    again = tmp_path / "again.duckdb"
    _build(again)
    first, second = checksums(built[0]), checksums(again)
    assert first == second
    other = tmp_path / "other.duckdb"
    _build(other, seed=SEED + 1)
    different = checksums(other)
    assert different["bike_trips"] != first["bike_trips"]
    assert different["service_requests"] != first["service_requests"]


# ------------------------------------------------------------------------------ completeness
@pytest.mark.parametrize("table", FILLED)
def test_every_table_is_filled(con, table):
    assert one(con, f"SELECT count(*) FROM {table}") > 0      # noqa: S608 (fixed names)


def test_rollups_are_left_to_publish_and_everything_is_dirty(con):
    assert one(con, "SELECT count(*) FROM metric_values") == 0
    assert one(con, "SELECT min(since) FROM rollup_dirty") == END - timedelta(days=DAYS)


def test_summary_counts_match_tables(built, con):
    summary = built[1]
    for table in FACTS:
        assert summary["rows"][table] == one(con, f"SELECT count(*) FROM {table}")   # noqa: S608
    assert summary["total_rows"] == sum(summary["rows"][t] for t in FACTS)
    assert {i["kind"] for i in summary["incidents"]} == {"storm", "sensor_outage", "strike"}


def test_districts_come_from_the_shipped_boundaries(con):
    assert one(con, "SELECT count(*) FROM districts") == 71
    assert one(con, "SELECT count(*) FROM districts WHERE is_joint_area") == 12
    assert one(con, "SELECT count(*) FROM districts WHERE is_joint_area AND population IS NOT NULL") == 0
    name, borough, pop, geometry = con.execute(
        "SELECT name, borough, population, geometry FROM districts WHERE district_id = '301'").fetchone()
    assert (name, borough) == ("Brooklyn CD 1", "Brooklyn")
    assert pop > 150_000
    assert json.loads(geometry)["type"] in ("Polygon", "MultiPolygon")


def test_one_ok_batch_per_table_with_matching_counts(con):
    batches = con.execute("SELECT source_id, rows_read, rows_loaded, rows_quarantined, status, file "
                          "FROM load_batches ORDER BY batch_id").fetchall()
    assert len(batches) == len(FACTS) + 2          # + bike_stations, parking_facilities
    assert all(b[4] == "ok" and b[1] == b[2] + b[3] for b in batches)
    assert all(b[5].startswith(f"data.demo seed={SEED} scale=0.2") for b in batches)
    by_source = {}
    for source, _read, loaded, *_ in batches:
        by_source[source] = by_source.get(source, 0) + loaded
    assert by_source["demo_311"] == one(con, "SELECT count(*) FROM service_requests")
    assert one(con, "SELECT count(*) FROM sources WHERE simulated") == 10
    # every fact row points at a batch of its own source
    for table in FACTS:
        assert one(con, f"SELECT count(*) FROM {table} f LEFT JOIN load_batches b USING (batch_id) "   # noqa: S608
                        "WHERE b.source_id IS DISTINCT FROM f.source_id") == 0


def test_quarantined_glitches_are_explained_and_not_loaded(con):
    rows = con.execute("SELECT q.source_id, q.reason, q.raw FROM quarantine q").fetchall()
    assert {r[0] for r in rows} <= {"demo_parking", "demo_bike_status", "demo_bins"}
    for source, reason, raw in rows:
        record = json.loads(raw)
        if source == "demo_parking":
            assert record["occupied"] > record["capacity"], reason
        if source == "demo_bins":
            assert not 0 <= record["fill_pct"] <= 100, reason


# ------------------------------------------------------------------------------ invariants
def test_invariants(con):
    assert one(con, "SELECT count(*) FROM parking_occupancy WHERE occupied > capacity OR occupied < 0") == 0
    assert one(con, "SELECT count(*) FROM bin_fill WHERE fill_pct < 0 OR fill_pct > 100") == 0
    assert one(con, "SELECT count(*) FROM bike_station_status "
                    "WHERE bikes_available < 0 OR docks_available < 0 OR bikes_available + docks_available > capacity") == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE closed_at < created_at") == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE due_at <= created_at") == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE (status = 'open') <> (closed_at IS NULL)") == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE closed_at > $e", {"e": END}) == 0
    assert one(con, "SELECT count(*) FROM service_requests WHERE status = 'open'") > 0
    assert one(con, "SELECT count(DISTINCT request_id) = count(*) FROM service_requests")
    assert one(con, "SELECT count(*) FROM satisfaction_responses WHERE score NOT BETWEEN 1 AND 5") == 0
    assert one(con, "SELECT count(*) FROM bike_trips WHERE ended_at <= started_at OR ended_at > $e", {"e": END}) == 0
    assert one(con, "SELECT count(*) FROM traffic_counts WHERE speed_kmh <= 0 OR free_flow_kmh <= 0 OR volume < 0") == 0


@pytest.mark.parametrize("table", FACTS + ("bike_stations", "parking_facilities"))
def test_every_district_id_is_a_district(con, table):
    assert one(con, f"SELECT count(*) FROM {table} WHERE district_id NOT IN "      # noqa: S608
                    "(SELECT district_id FROM districts)") == 0


@pytest.mark.parametrize("table", PEOPLE_FACTS)
def test_no_people_data_in_joint_areas(con, table):
    assert one(con, f"SELECT count(*) FROM {table} WHERE district_id IN "         # noqa: S608
                    "(SELECT district_id FROM districts WHERE is_joint_area)") == 0


def test_survey_answers_follow_their_request(con):
    assert one(con, "SELECT count(*) FROM satisfaction_responses r LEFT JOIN service_requests s USING (request_id) "
                    "WHERE s.request_id IS NULL OR s.closed_at IS NULL OR r.responded_at < s.closed_at "
                    "OR r.district_id <> s.district_id OR r.category <> s.category") == 0
    share = one(con, "SELECT (SELECT count(*) FROM satisfaction_responses) / "
                     "(SELECT count(*) FROM service_requests WHERE status = 'closed')")
    assert 0.08 < share < 0.16
    fast, slow = con.execute(
        "SELECT avg(score) FILTER (WHERE s.closed_at - s.created_at <= (s.due_at - s.created_at) / 2), "
        "avg(score) FILTER (WHERE s.closed_at > s.due_at) "
        "FROM satisfaction_responses r JOIN service_requests s USING (request_id)").fetchone()
    assert fast > slow + 0.8


def test_request_locations_lie_inside_their_district(con):
    rows = con.execute("SELECT s.lon, s.lat, d.geometry FROM service_requests s JOIN districts d USING (district_id) "
                       "USING SAMPLE 300 ROWS").fetchall()
    assert rows
    inside = [shapely.contains_xy(shapely.from_geojson(g), lon, lat) for lon, lat, g in rows]
    assert all(inside)


def test_raw_facts_are_sorted_by_time(con):
    for table, col in (("parking_occupancy", "ts"), ("bin_fill", "ts"), ("service_requests", "created_at"),
                       ("satisfaction_responses", "responded_at")):
        unsorted = one(con, f"SELECT count(*) FROM (SELECT {col} < lag({col}) OVER (ORDER BY rowid) AS back "   # noqa: S608
                            f"FROM {table}) WHERE back")
        assert unsorted == 0, table


# ------------------------------------------------------------------------------ incidents
def _incident(con, kind):
    return con.execute("SELECT starts_at, ends_at, title, domain, district_id, simulated FROM incidents "
                       "WHERE kind = $k", {"k": kind}).fetchone()


def test_incidents_are_recorded(con):
    kinds = dict(con.execute("SELECT kind, count(*) FROM incidents GROUP BY kind").fetchall())
    assert kinds == {"storm": 1, "sensor_outage": 1, "strike": 1}
    assert one(con, "SELECT bool_and(simulated AND starts_at < ends_at AND starts_at >= $s AND ends_at <= $e) "
                    "FROM incidents", {"s": END - timedelta(days=DAYS), "e": END})


def test_storm_day_has_almost_no_bike_trips(con):
    start, end, *_ = _incident(con, "storm")
    storm_trips = one(con, "SELECT count(*) FROM bike_trips WHERE started_at >= $s AND started_at < $e",
                      {"s": start, "e": end})
    median_day = one(con, "SELECT median(n) FROM (SELECT count(*) AS n FROM bike_trips "
                          "WHERE started_at >= $a AND started_at < $b GROUP BY started_at::DATE)",
                      {"a": start - timedelta(days=14), "b": start})
    assert storm_trips < 0.15 * median_day


def test_storm_raises_311_and_lowers_traffic(con):
    start, end, *_ = _incident(con, "storm")

    def per_day(sql, a, b):
        return one(con, sql, {"a": a, "b": b}) / ((b - a) / timedelta(days=1))

    week_before = (start - timedelta(days=7), start)
    sr = "SELECT count(*) FROM service_requests WHERE created_at >= $a AND created_at < $b"
    assert per_day(sr, start, end) > 1.5 * per_day(sr, *week_before)
    vol = "SELECT sum(volume) FROM traffic_counts WHERE ts >= $a AND ts < $b"
    assert per_day(vol, start, end) < 0.75 * per_day(vol, *week_before)


def test_sensor_outage_leaves_a_hole_for_one_borough_only(con):
    start, end, title, domain, district, _ = _incident(con, "sensor_outage")
    assert domain == "parking" and demo.OUTAGE_BOROUGH in title and district is None
    by_borough = dict(con.execute(
        "SELECT d.borough, count(*) FROM parking_occupancy p JOIN districts d USING (district_id) "
        "WHERE ts >= $s AND ts < $e GROUP BY 1", {"s": start, "e": end}).fetchall())
    assert demo.OUTAGE_BOROUGH not in by_borough
    assert set(by_borough) == {"Manhattan", "Bronx", "Brooklyn", "Staten Island"}
    before = one(con, "SELECT count(*) FROM parking_occupancy p JOIN districts d USING (district_id) "
                      "WHERE d.borough = $b AND ts >= $s AND ts < $e",
                 {"b": demo.OUTAGE_BOROUGH, "s": start - timedelta(days=2), "e": start})
    assert before > 0


def test_strike_cuts_collection_overfills_bins_and_spikes_missed_collections(con):
    start, end, *_ = _incident(con, "strike")
    week = timedelta(days=7)
    missed = "SELECT count(*) FROM service_requests WHERE category = 'Missed Collection' AND created_at >= $a AND created_at < $b"
    during = one(con, missed, {"a": start, "b": end}) / 5
    before = one(con, missed, {"a": start - week, "b": start}) / 7
    assert during > 3 * before
    tons = "SELECT sum(tons) FROM waste_tonnage WHERE day >= $a AND day < $b"
    assert one(con, tons, {"a": start, "b": end}) / 5 < 0.3 * one(con, tons, {"a": start - week, "b": start}) / 7
    over90 = "SELECT avg(CASE WHEN fill_pct > 90 THEN 1 ELSE 0 END) FROM bin_fill WHERE ts >= $a AND ts < $b"
    assert one(con, over90, {"a": end - timedelta(days=1), "b": end}) > 0.3
    assert one(con, over90, {"a": start - week, "b": start}) < 0.1


# ------------------------------------------------------------------------------ believable patterns
def test_daily_and_weekly_patterns(con):
    by_hour = dict(con.execute("SELECT hour(started_at), count(*) FROM bike_trips "
                               "WHERE dayofweek(started_at) BETWEEN 1 AND 5 GROUP BY 1").fetchall())
    assert by_hour[8] > 4 * by_hour[3] and by_hour[17] > 1.5 * by_hour[13]
    weekday, weekend = con.execute(
        "SELECT avg(volume) FILTER (WHERE dayofweek(ts) BETWEEN 1 AND 5 AND hour(ts) = 8), "
        "avg(volume) FILTER (WHERE dayofweek(ts) IN (0, 6) AND hour(ts) = 8) FROM traffic_counts").fetchone()
    assert weekday > 1.5 * weekend


def test_districts_differ(con):
    occupancy = dict(con.execute(
        "SELECT d.borough, avg(occupied / capacity) FROM parking_occupancy p JOIN districts d USING (district_id) "
        "WHERE hour(ts) = 11 AND dayofweek(ts) BETWEEN 1 AND 5 GROUP BY 1").fetchall())
    assert occupancy["Manhattan"] > occupancy["Staten Island"] + 0.15
    hot = one(con, "SELECT count(DISTINCT district_id) FROM parking_occupancy WHERE occupied > 0.85 * capacity "
                   "AND hour(ts) = 11")
    assert hot >= 3
    congestion = dict(con.execute(
        "SELECT d.borough, avg(1 - speed_kmh / free_flow_kmh) FROM traffic_counts t JOIN districts d USING (district_id) "
        "WHERE hour(ts) = 8 AND dayofweek(ts) BETWEEN 1 AND 5 GROUP BY 1").fetchall())
    assert congestion["Manhattan"] > congestion["Queens"]
    diversion = [r[0] for r in con.execute(
        "SELECT sum(tons) FILTER (WHERE stream <> 'refuse') / sum(tons) FROM waste_tonnage GROUP BY district_id").fetchall()]
    assert 0.12 < min(diversion) and max(diversion) < 0.3 and max(diversion) - min(diversion) > 0.05


def test_transit_tracks_its_baseline(con):
    storm_start = _incident(con, "storm")[0]
    lo, hi = con.execute("SELECT min(riders / baseline_riders), max(riders / baseline_riders) FROM transit_ridership "
                         "WHERE day <> $d", {"d": storm_start.date()}).fetchone()
    assert 0.7 <= lo and hi <= 1.1


def test_waste_is_daily_per_district_and_stream(con):
    assert one(con, "SELECT count(*) FROM (SELECT day, district_id, stream FROM waste_tonnage GROUP BY ALL HAVING count(*) > 1)") == 0
    assert {r[0] for r in con.execute("SELECT DISTINCT stream FROM waste_tonnage").fetchall()} == \
        {"refuse", "paper", "mgp", "organics"}
    assert one(con, "SELECT count(DISTINCT day) FROM waste_tonnage") == DAYS


def test_service_request_categories_and_channels(con):
    cats = {r[0] for r in con.execute("SELECT DISTINCT category FROM service_requests").fetchall()}
    assert {"Missed Collection", "Noise", "Street Condition", "Heat/Hot Water", "Illegal Parking",
            "Sanitation Condition", "Streetlight"} <= cats
    assert {r[0] for r in con.execute("SELECT DISTINCT channel FROM service_requests").fetchall()} == {"phone", "online", "app"}
    noise, street = con.execute(
        "SELECT median(closed_at - created_at) FILTER (WHERE category = 'Noise'), "
        "median(closed_at - created_at) FILTER (WHERE category = 'Street Condition') FROM service_requests").fetchone()
    assert noise < timedelta(hours=6) < timedelta(days=2) < street
    assert one(con, "SELECT count(*) FROM service_requests WHERE length(description) < 10") == 0


def test_seasons_with_a_full_year():
    """Bikes drop in winter, heat complaints rise (generator functions, no warehouse needed)."""
    city = demo.make_city(demo.load_boundaries(), SEED, 0.3, [])
    rng = np.random.default_rng(0)

    def trips(month: int) -> int:
        t0 = demo.to_s(datetime(2025, month, 1))
        return demo.bike_trip_events(city, t0, t0 + 14 * demo.DAY, rng).num_rows

    assert trips(1) < 0.6 * trips(7)
    jan, _ = demo.request_events(city, demo.to_s(datetime(2025, 1, 6)), demo.to_s(datetime(2025, 1, 20)), rng,
                                 as_of=demo.to_s(datetime(2025, 3, 1)), first_id=1)
    jul, _ = demo.request_events(city, demo.to_s(datetime(2025, 7, 7)), demo.to_s(datetime(2025, 7, 21)), rng,
                                 as_of=demo.to_s(datetime(2025, 9, 1)), first_id=1)
    heat = lambda t: sum(1 for c in t.column("category").to_pylist() if c == "Heat/Hot Water")  # noqa: E731
    assert heat(jan) > 5 * heat(jul)


# ------------------------------------------------------------------------------ CLI and atomicity
def test_cli_refuses_to_overwrite_without_force(built, capsys):
    path = built[0]
    before = path.stat().st_mtime_ns
    with pytest.raises(SystemExit) as exc:
        demo.main(["--db", str(path), "--days", "2", "--quiet"])
    assert "--force" in str(exc.value)
    assert path.stat().st_mtime_ns == before


def test_cli_builds_with_force(tmp_path, capsys):
    path = tmp_path / "cli.duckdb"
    path.write_bytes(b"not a database")
    demo.main(["--db", str(path), "--days", "3", "--scale", "0.1", "--end", "2025-06-30T18", "--force", "--quiet"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["total_rows"] > 0
    c = duckdb.connect(str(path), read_only=True)
    assert c.execute("SELECT max(ts) FROM parking_occupancy").fetchone()[0] == datetime(2025, 6, 30, 18)
    c.close()


def test_failed_build_leaves_no_half_file(tmp_path, monkeypatch):
    target = tmp_path / "w.duckdb"
    target.write_bytes(b"previous warehouse")

    def boom(*args, **kwargs):
        raise RuntimeError("generator failed")

    monkeypatch.setattr(loader, "request_events", boom)      # the name the loader calls
    with pytest.raises(RuntimeError):
        demo.build(target, seed=1, days=3, end=END, scale=0.1, progress=False, force=True)
    assert target.read_bytes() == b"previous warehouse"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_build_refuses_existing_file_unless_forced(tmp_path):
    target = tmp_path / "w.duckdb"
    target.write_bytes(b"x")
    with pytest.raises(FileExistsError):
        demo.build(target, seed=1, days=2, end=END, scale=0.1, progress=False, force=False)


def test_incidents_shrink_or_drop_with_short_histories():
    assert {i.kind for i in demo.plan_incidents(END, 730)} == {"storm", "sensor_outage", "strike"}
    short = demo.plan_incidents(END, 10)
    for i in short:
        assert END - timedelta(days=10) <= i.starts_at < i.ends_at <= END
    assert demo.plan_incidents(END, 1) == []


def test_cli_publish_failure_is_reported_clearly(tmp_path, monkeypatch, capsys):
    import sys
    import types

    fake = types.ModuleType("data.publish")

    def broken(con):
        raise RuntimeError("no rollups today")

    fake.publish = broken
    monkeypatch.setitem(sys.modules, "data.publish", fake)
    import data
    monkeypatch.setattr(data, "publish", fake, raising=False)
    path = tmp_path / "p.duckdb"
    with pytest.raises(SystemExit) as exc:
        demo.main(["--db", str(path), "--days", "2", "--scale", "0.1", "--end", "2025-06-30T18", "--publish", "--quiet"])
    assert "warehouse built, but publishing failed" in str(exc.value)
    assert path.exists()
