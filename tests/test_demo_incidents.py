"""Labelled incidents of the demo city: the ground truth of bench/alerts.py.

Each kind must really be in the data where and when the label says (so a detector can be
scored against it), be deterministic with the seed, and stay out of every snapshot.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pytest

from data import demo


@pytest.fixture(scope="module")
def con(published, warehouse_path):
    db = duckdb.connect(str(warehouse_path), read_only=True)
    yield db
    db.close()


@pytest.fixture(scope="module")
def labels(con):
    return con.execute("SELECT * FROM labelled_incidents ORDER BY starts_at").df()


def test_every_kind_is_labelled_with_its_facts(labels):
    assert set(labels["kind"]) == set(demo.LABELLED_RATES)
    assert (labels["starts_at"] < labels["ends_at"]).all()
    assert labels["metrics"].map(len).min() >= 1 and (labels["size"] > 0).all()
    assert labels["small_district"].any() and not labels["small_district"].all()


def test_the_plan_is_deterministic_with_the_seed():
    districts = demo.load_boundaries()
    districts["is_joint_area"] = districts["is_joint_area"].astype(bool)
    a = demo.plan_labelled(7, datetime(2026, 1, 1), datetime(2026, 4, 1), districts)
    b = demo.plan_labelled(7, datetime(2026, 1, 1), datetime(2026, 4, 1), districts)
    c = demo.plan_labelled(8, datetime(2026, 1, 1), datetime(2026, 4, 1), districts)
    assert a == b and a != c
    per_day = len(a) / 90
    assert 0.3 < per_day < 1.0  # a few a week, citywide: rare events, not noise
    assert not districts.set_index("district_id").loc[[i.district_id for i in a], "is_joint_area"].any()


def _sr_per_hour(con, district, start, end):
    n = con.execute("SELECT count(*) FROM service_requests WHERE district_id = $d AND created_at >= $s "
                    "AND created_at < $e", {"d": district, "s": start, "e": end}).fetchall()[0][0]
    return n / ((end - start) / timedelta(hours=1))


def test_a_surge_is_in_the_311_data_of_its_district(con, labels):
    surges = labels[labels["kind"] == "surge"]
    ratios = []
    for row in surges.itertuples():
        during = _sr_per_hour(con, row.district_id, row.starts_at, row.ends_at)
        week = [_sr_per_hour(con, row.district_id, row.starts_at - timedelta(days=k), row.ends_at - timedelta(days=k))
                for k in (7, 14) if row.starts_at - timedelta(days=k) >= labels["starts_at"].min() - timedelta(days=30)]
        ratios.append((during + 0.1) / (np.mean(week) + 0.1))
    assert np.median(ratios) > 2


def test_a_parking_outage_silences_its_district_only(con, labels):
    for row in labels[labels["kind"] == "parking_outage"].itertuples():
        inside, others = con.execute(
            "SELECT count(*) FILTER (WHERE district_id = $d), count(*) FILTER (WHERE district_id <> $d) "
            "FROM parking_occupancy WHERE ts >= $s AND ts < $e",
            {"d": row.district_id, "s": row.starts_at, "e": row.ends_at}).fetchall()[0]
        assert inside == 0 and others > 0


def test_parking_surges_and_drifts_raise_occupancy(con, labels):
    checked = []
    for row in labels[labels["kind"].isin(["parking_surge", "parking_drift"])].itertuples():
        def occ(s, e):
            return con.execute("SELECT sum(occupied) / sum(capacity) FROM parking_occupancy WHERE district_id = $d "
                               "AND ts >= $s AND ts < $e", {"d": row.district_id, "s": s, "e": e}).fetchall()[0][0]  # noqa: B023 - the closure is called within the same iteration
        tail = (row.ends_at - timedelta(hours=2), row.ends_at)  # a drift is highest at its end
        refs = [occ(tail[0] + timedelta(days=k), tail[1] + timedelta(days=k)) for k in (-7, 7)]
        refs = [r for r in refs if r is not None]
        if not refs or min(refs) > 0.9:
            continue  # no same-time reference in the history, or a lot already full (capped)
        checked.append(row.incident_id)
        assert occ(*tail) > min(refs) + 0.03, row
    assert len(checked) >= 3


def test_labels_never_reach_a_snapshot(published):
    from data import releases, snapshot
    snapshot.reset()  # the web side's read-only connection has its own configuration
    # the releases current now (the session's first one may already be cleaned up by later
    # publishes of other tests: CITYOPS_SNAPSHOT_KEEP), and the session's first if still there
    pointer = releases.read_pointer()
    paths = {published.ops_path, published.public_path} | {
        releases.pointer_path().parent / pointer[db] for db in ("ops", "public")}
    paths = [path for path in paths if path.exists()]
    assert len(paths) >= 2
    for path in paths:
        snap = duckdb.connect(str(path), read_only=True)
        try:
            tables = {r[0] for r in snap.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        finally:
            snap.close()
        assert "labelled_incidents" not in tables
