"""Publish: atomic flip, failures leave the old version, readers never see a mix."""
import threading
import time
from datetime import datetime, timedelta

import duckdb
import pytest

from data import publish, registry, repository, snapshot, warehouse
from tests.conftest import FIXTURE_END


def _add_trip(con, when: datetime) -> None:
    district = con.execute("SELECT min(district_id) FROM districts WHERE NOT is_joint_area").fetchall()[0][0]
    con.execute("INSERT INTO bike_trips VALUES ($t, $t + INTERVAL 10 MINUTE, 'test', $d, 'member', "
                "'demo_bikeshare', NULL)", {"t": when, "d": district})
    warehouse.mark_dirty(con, when)


def _city_trips(con_or_cur) -> float:
    return con_or_cur.execute(
        "SELECT sum(value) FROM metric_values WHERE metric_id = 'bike_trips' AND grain = 'month' "
        "AND district_id = 'city'").fetchall()[0][0]


def test_publish_writes_both_snapshots_and_flips_the_pointer(published, var_dir):
    pointer = publish.read_pointer()
    assert (var_dir / pointer["ops"]).exists() and (var_dir / pointer["public"]).exists()
    assert snapshot.version("ops") == pointer["version"] >= published.version
    assert snapshot.version("public") == pointer["version"]


def test_failure_half_way_leaves_the_previous_version_serving(writer, monkeypatch, var_dir):
    before = publish.read_pointer()
    files_before = sorted(p.name for p in (var_dir / "snapshots").iterdir())
    _add_trip(writer, datetime(2026, 10, 30, 8))

    def boom(*_args, **_kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(publish, "_write_public", boom)  # ops snapshot written, public fails
    with pytest.raises(RuntimeError, match="simulated"):
        publish.publish(writer, now=FIXTURE_END)
    assert publish.read_pointer() == before
    assert snapshot.version("ops") == before["version"]
    assert sorted(p.name for p in (var_dir / "snapshots").iterdir()) == files_before
    assert not list((var_dir / "public").glob("*.tmp"))


def test_corrupt_pointer_or_snapshot_means_data_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    snapshot.reset()
    try:
        with pytest.raises(snapshot.DataUnavailable):
            snapshot.version("ops")
        (tmp_path / "CURRENT.json").write_text("{not json")
        with pytest.raises(snapshot.DataUnavailable):
            snapshot.version("ops")
        (tmp_path / "snapshots").mkdir()
        (tmp_path / "snapshots" / "ops-x.duckdb").write_bytes(b"garbage" * 100)
        (tmp_path / "CURRENT.json").write_text('{"version": "x", "ops": "snapshots/ops-x.duckdb", "public": "p"}')
        with pytest.raises(snapshot.DataUnavailable):
            snapshot.version("ops")
    finally:
        monkeypatch.undo()
        snapshot.reset()


def test_rollups_recompute_only_from_the_dirty_time(writer):
    # A sentinel in an old period must survive a publish whose dirty time is later.
    old = writer.execute("SELECT min(period) FROM metric_values WHERE metric_id = 'bike_trips' "
                         "AND grain = 'day' AND district_id = 'city'").fetchall()[0][0]
    writer.execute("UPDATE metric_values SET value = -1 WHERE metric_id = 'bike_trips' AND grain = 'day' "
                   "AND district_id = 'city' AND period = $p", {"p": old})
    try:
        _add_trip(writer, datetime(2026, 10, 31, 9))
        result = publish.publish(writer, now=FIXTURE_END)
        assert result.recomputed_from == datetime(2026, 10, 31, 9)
        value = writer.execute("SELECT value FROM metric_values WHERE metric_id = 'bike_trips' AND grain = 'day' "
                               "AND district_id = 'city' AND period = $p", {"p": old}).fetchall()[0][0]
        assert value == -1
        # ... while the dirty day itself was recomputed with the new trip.
        day = writer.execute("SELECT value FROM metric_values WHERE metric_id = 'bike_trips' AND grain = 'day' "
                             "AND district_id = 'city' AND period = TIMESTAMP '2026-10-31'").fetchall()[0][0]
        raw = writer.execute("SELECT count(*) FROM bike_trips WHERE started_at >= TIMESTAMP '2026-10-31' "
                             "AND started_at < TIMESTAMP '2026-11-01'").fetchall()[0][0]
        assert day == raw
    finally:
        writer.execute("DELETE FROM metric_values WHERE metric_id = 'bike_trips' AND grain = 'day' "
                       "AND period = $p", {"p": old})
        warehouse.mark_dirty(writer, old)
        publish.publish(writer, now=FIXTURE_END)


def test_superseded_snapshots_are_removed_only_after_the_grace_period(writer, monkeypatch, var_dir):
    first = publish.publish(writer, now=FIXTURE_END)
    monkeypatch.setenv("CITYOPS_SNAPSHOT_GRACE_S", "3600")
    publish.publish(writer, now=FIXTURE_END)
    assert first.ops_path.exists(), "removed inside the grace period"
    monkeypatch.setenv("CITYOPS_SNAPSHOT_GRACE_S", "0")
    time.sleep(0.01)
    publish.publish(writer, now=FIXTURE_END)
    assert not first.ops_path.exists(), "kept after the grace period"


def test_twenty_publishes_under_eight_reading_threads(writer):
    """Every response comes from exactly one version: its content is that version's."""
    expected: dict[str, float] = {}
    result = publish.publish(writer, now=FIXTURE_END)
    expected[result.version] = _city_trips(writer)
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[tuple[str, float]] = []

    def reader():
        while not stop.is_set():
            try:
                with snapshot.cursor("ops") as (cur, version):
                    meta_version = cur.execute("SELECT version FROM meta").fetchall()[0][0]
                    total = _city_trips(cur)
                assert meta_version == version
                seen.append((version, total))
                frame = repository.run("ops/published_metrics")
                assert frame.attrs["version"] and not frame.empty
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for i in range(20):
            _add_trip(writer, datetime(2026, 10, 20, 8) + timedelta(minutes=i))
            result = publish.publish(writer, now=FIXTURE_END)
            expected[result.version] = _city_trips(writer)
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert len(seen) > 100
    versions = {v for v, _ in seen}
    assert len(versions) >= 10, "readers did not pick up new versions"
    for version, total in seen:
        assert total == expected[version], f"response of {version} does not match that version's data"


def test_public_snapshot_holds_aggregates_only(published, var_dir):
    con = duckdb.connect(str(var_dir / publish.read_pointer()["public"]), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert tables == {"metrics", "metric_values", "districts", "sources", "source_times", "meta",
                          # figures departments report themselves, and snapshot feeds' readings (issue 15)
                          "reported_measures", "reported_measure_defs", "source_readings",
                          "public_annotations"}  # approved public annotations (issue 17)
        columns = {}
        for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall():
            columns.setdefault(table, set()).add(column)
        # admin-approved annotations only: what and when, never who wrote them
        assert columns["public_annotations"] == {"starts_at", "ends_at", "district_id", "domain", "kind", "title",
                                                 "approved_at"}
        assert columns["metric_values"] == {"metric_id", "grain", "district_id", "period", "value", "numerator",
                                            "denominator", "n", "suppressed", "ci_low", "ci_high"}
        assert columns["districts"] == {"district_id", "name", "borough", "population", "area_km2", "geometry",
                                        "is_joint_area"}
        assert columns["source_times"] == {"table_name", "source_id", "data_time"}
        # readings of snapshot feeds (bays, docks, bins: facilities) and only of real sources, never the demo's
        assert columns["source_readings"] == {"table_name", "source_id", "name", "readings", "first_reading",
                                              "last_reading"}
        assert con.execute("SELECT count(*) FROM source_readings").fetchone()[0] == 0
        everywhere = set().union(*columns.values())
        assert not everywhere & {"lat", "lon", "request_id", "created_at", "closed_at", "raw", "file"}
        grains = {r[0] for r in con.execute("SELECT DISTINCT grain FROM metric_values").fetchall()}
        assert grains <= {"week", "month"}
        open_ids = [m.id for m in registry.public_metrics() if not m.suppress]  # tonnes: describe no person
        small = con.execute("SELECT count(*) FROM metric_values WHERE n BETWEEN 1 AND 9 "
                            "AND metric_id NOT IN (SELECT unnest($o))", {"o": open_ids}).fetchall()[0][0]
        assert small == 0
        flagged = con.execute("SELECT count(*) FROM metric_values WHERE suppressed AND value IS NOT NULL").fetchall()[0][0]
        assert flagged == 0
        newest = con.execute("SELECT max(period) FROM metric_values WHERE grain = 'week'").fetchall()[0][0]
        assert newest + timedelta(days=7) <= FIXTURE_END, "an incomplete week was published"
        # nor a partial first one: the fixture's data starts on Wed 2 Sep 2026, mid-week and mid-month
        first = dict(con.execute("SELECT grain, min(period) FROM metric_values GROUP BY 1").fetchall())
        assert first == {"week": datetime(2026, 9, 7), "month": datetime(2026, 10, 1)}
        private = con.execute("SELECT count(*) FROM metrics WHERE NOT public").fetchall()[0][0]
        assert private == 0
    finally:
        con.close()


def test_every_raw_table_is_dated_by_publish():
    for table in warehouse.RAW_TABLES:
        assert f"'{table}'" in warehouse.UPDATE_TABLE_DATA_TIMES and f"FROM {table} " in warehouse.UPDATE_TABLE_DATA_TIMES


def test_a_fact_table_is_one_declaration_in_schema_sql(tmp_path):
    """The comment line above a CREATE TABLE is all a new raw table needs: publish dates it, a
    load batch's rows are found and replaced in it; a dating column it lacks stops the import."""
    table = ("-- raw table, dated by seen_at\nCREATE TABLE IF NOT EXISTS noise_readings (\n"
             "    seen_at TIMESTAMP NOT NULL, district_id VARCHAR NOT NULL, decibels DOUBLE,\n"
             "    source_id VARCHAR NOT NULL, batch_id BIGINT\n);\n")
    declared = warehouse._declared(warehouse.SCHEMA.read_text(encoding="utf-8") + table)
    assert list(declared)[:len(warehouse.TABLES)] == list(warehouse.TABLES)
    assert declared["noise_readings"] == warehouse.FactTable("noise_readings", "seen_at", None, dated=False, raw=True)
    assert "FROM noise_readings WHERE seen_at >= $since" in warehouse._dating(declared["noise_readings"])
    assert declared["service_requests"].changed == "closed_at" and declared["waste_tonnage"].dated
    assert not declared["reported_measures"].raw and "reported_measures" not in warehouse.RAW_TABLES
    with pytest.raises(ValueError, match="noise_readings is dated by heard_at"):
        warehouse._declared(table.replace("dated by seen_at", "dated by heard_at"))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.init_schema(con)
    for name, fact in warehouse.TABLES.items():  # every declared table holds what its statements use
        columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = $t", {"t": name}).fetchall()}
        assert {fact.time, "source_id", "batch_id"} <= columns, name
    con.execute(warehouse.BATCH_MIN_TIME, {"ids": [1]})
    for statement in warehouse.DELETE_BATCH_ROWS:
        con.execute(statement, {"ids": [1]})
    con.execute(warehouse.UPDATE_TABLE_DATA_TIMES, {"since": datetime(2026, 1, 1)})
    con.close()
