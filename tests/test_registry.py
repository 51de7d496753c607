"""The metric registry: every declared metric runs, keeps the contract and gives known answers.

The warehouse here is a tiny hand-made city (built in this file, not by the demo generator)
whose answers were worked out by hand: see the comments next to the rows.
"""
from __future__ import annotations

import math
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data import i18n, registry, warehouse
from data.registry import CONTRACT, DOMAINS, RegistryError

METRICS = registry.load()
START = datetime(2024, 4, 1)   # a Monday and the 1st of a month: aligned for every grain
END = datetime(2024, 7, 1)     # also a Monday and the 1st of a month
END_OF_TIME = datetime(2200, 1, 1)  # what the publisher passes as $end
CONTRACT_TYPES = ("VARCHAR", "TIMESTAMP", "DOUBLE", "DOUBLE", "DOUBLE", "BIGINT")
DISTRICTS = ("D1", "D2", "P1")


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- fixture city
@pytest.fixture(scope="session")
def con():
    db = duckdb.connect()
    warehouse.init_schema(db)
    warehouse.register_demo_sources(db)
    db.executemany("INSERT INTO districts VALUES (?, ?, ?, ?, ?, ?, ?)", [
        ("D1", "District One", "North", 100_000, 10.0, "{}", False),
        ("D2", "District Two", "South", 50_000, 5.0, "{}", False),
        ("P1", "Big Park", "South", None, 3.0, "{}", True),   # joint area: no data at all
    ])

    def insert(table: str, rows: list[tuple]) -> None:
        marks = ", ".join("?" * len(rows[0]))
        db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    # bike trips: 2024-05-06 D1 08:10, 08:20, 09:05; 2024-05-07 D2 10:00; two outside [START, END)
    insert("bike_trips", [
        (ts("2024-03-31 23:59"), ts("2024-04-01 00:10"), "S1", "D1", "member", "demo_bikeshare", 1),
        (ts("2024-05-06 08:10"), ts("2024-05-06 08:30"), "S1", "D1", "member", "demo_bikeshare", 1),
        (ts("2024-05-06 08:20"), ts("2024-05-06 08:40"), "S1", "D1", "casual", "demo_bikeshare", 1),
        (ts("2024-05-06 09:05"), ts("2024-05-06 09:25"), "S1", "D1", "member", "demo_bikeshare", 1),
        (ts("2024-05-07 10:00"), ts("2024-05-07 10:20"), "S2", "D2", "member", "demo_bikeshare", 1),
        (ts("2024-07-01 00:00"), ts("2024-07-01 00:10"), "S1", "D1", "member", "demo_bikeshare", 1),
    ])
    # station status 2024-05-06: D1 empty, ok, full, ok -> 2/4; D2 ok, empty, ok -> 1/3;
    # a capacity-0 report (out of service) is ignored; city 3/7
    insert("bike_station_status", [
        (ts("2024-05-06 08:00"), "S1", "D1", 10, 0, 10, "demo_bike_status", 1),
        (ts("2024-05-06 08:30"), "S1", "D1", 10, 5, 5, "demo_bike_status", 1),
        (ts("2024-05-06 09:00"), "S1", "D1", 10, 10, 0, "demo_bike_status", 1),
        (ts("2024-05-06 09:30"), "S1", "D1", 10, 3, 7, "demo_bike_status", 1),
        (ts("2024-05-06 08:00"), "S2", "D2", 20, 10, 10, "demo_bike_status", 1),
        (ts("2024-05-06 08:30"), "S2", "D2", 20, 0, 20, "demo_bike_status", 1),
        (ts("2024-05-06 08:45"), "S2", "D2", 20, 10, 10, "demo_bike_status", 1),
        (ts("2024-05-06 09:00"), "S3", "D2", 0, 0, 0, "demo_bike_status", 1),
    ])
    # transit 2024-05-06: D1 800/1000 + 200/250 = 80 %; D2 300/200 = 150 % (+50 riders with no
    # baseline, out of the ratio); city 1300/1450
    insert("transit_ridership", [
        (ts("2024-03-31").date(), "D1", "subway", 999, 999, "demo_transit", 1),
        (ts("2024-05-06").date(), "D1", "subway", 800, 1000, "demo_transit", 1),
        (ts("2024-05-06").date(), "D1", "bus", 200, 250, "demo_transit", 1),
        (ts("2024-05-06").date(), "D2", "bus", 300, 200, "demo_transit", 1),
        (ts("2024-05-06").date(), "D2", "subway", 50, None, "demo_transit", 1),
    ])
    # a citywide-only operator (like the MTA): 2024-05-06 subway 900 of 1000 baseline, bus 300 of
    # 500; rail is another service, a ferry row has no baseline; one day outside [START, END)
    insert("transit_ridership_city", [
        (ts("2024-03-31").date(), "subway", 999, "riders", 99.0, 1009, "nyc_mta_ridership", 1),
        (ts("2024-05-06").date(), "subway", 900, "riders", 90.0, 1000, "nyc_mta_ridership", 1),
        (ts("2024-05-06").date(), "bus", 300, "riders", 60.0, 500, "nyc_mta_ridership", 1),
        (ts("2024-05-06").date(), "lirr", 7000, "riders", 70.0, 10000, "nyc_mta_ridership", 1),
        (ts("2024-05-07").date(), "bus", 100, "riders", None, None, "nyc_mta_ridership", 1),
    ])
    # traffic 2024-05-06: D1 100 veh at half free-flow speed, 300 at free flow -> 12.5;
    # D2 100 veh faster than free flow -> 0; 40 veh without speed (volume only); city 50/500
    insert("traffic_counts", [
        (ts("2024-05-06 08:00"), "A", "D1", 100, 50.0, 25.0, "demo_traffic", 1),
        (ts("2024-05-06 09:00"), "A", "D1", 300, 50.0, 50.0, "demo_traffic", 1),
        (ts("2024-05-06 08:00"), "B", "D2", 100, 60.0, 70.0, "demo_traffic", 1),
        (ts("2024-05-06 09:00"), "B", "D2", 40, 60.0, None, "demo_traffic", 1),
    ])
    # counts known by borough only (like NYC DOT): 2024-05-06 08:00 segment A eastbound counted
    # in two quarter hours (100 + 50, one counter-hour), B westbound 30; 09:00 A 120 -> the day
    # 300 vehicles over 3 counter-hours (not 4 rows); one count outside [START, END)
    insert("traffic_counts_borough", [
        (ts("2024-05-06 08:00"), "A", "Queens", "EB", "Grand Ave", "72 St", "Mazeau St", 100, "nyc_dot_traffic_counts", 1),
        (ts("2024-05-06 08:15"), "A", "Queens", "EB", "Grand Ave", "72 St", "Mazeau St", 50, "nyc_dot_traffic_counts", 1),
        (ts("2024-05-06 08:00"), "B", "Bronx", "WB", "Main St", "1 Ave", "2 Ave", 30, "nyc_dot_traffic_counts", 1),
        (ts("2024-05-06 09:00"), "A", "Queens", "EB", "Grand Ave", "72 St", "Mazeau St", 120, "nyc_dot_traffic_counts", 1),
        (ts("2024-03-31 23:00"), "A", "Queens", "EB", "Grand Ave", "72 St", "Mazeau St", 999, "nyc_dot_traffic_counts", 1),
    ])
    # pedestrian counts of May 2024 (dated the 1st): D1 point A 100 (am) + 300 (pm), D2 point B 50
    # -> D1 200 per session, D2 50, city 450 / 3 = 150; one count outside [START, END)
    insert("pedestrian_counts", [
        (ts("2024-05-01").date(), "A", "D1", "am", 100, "nyc_dot_pedestrian_counts", 1),
        (ts("2024-05-01").date(), "A", "D1", "pm", 300, "nyc_dot_pedestrian_counts", 1),
        (ts("2024-05-01").date(), "B", "D2", "am", 50, "nyc_dot_pedestrian_counts", 1),
        (ts("2024-03-01").date(), "B", "D2", "am", 9999, "nyc_dot_pedestrian_counts", 1),
    ])
    # waste 2024-05-06: D1 80 refuse + 10 paper + 10 mgp (20 %); D2 10 refuse + 10 organics (50 %)
    # city 30/120 = 25 % (the mean of district rates would be 35 %)
    insert("waste_tonnage", [
        (ts("2024-05-06").date(), "D1", "refuse", 80.0, "demo_waste", 1),
        (ts("2024-05-06").date(), "D1", "paper", 10.0, "demo_waste", 1),
        (ts("2024-05-06").date(), "D1", "mgp", 10.0, "demo_waste", 1),
        (ts("2024-05-06").date(), "D2", "refuse", 10.0, "demo_waste", 1),
        (ts("2024-05-06").date(), "D2", "organics", 10.0, "demo_waste", 1),
        (ts("2024-07-01").date(), "D2", "refuse", 500.0, "demo_waste", 1),
    ])
    # bins 2024-05-06: D1 95, 50, 91 -> 2/3; D2 90 (not over), 100 -> 1/2; city 3/5
    insert("bin_fill", [
        (ts("2024-05-06 08:00"), "B1", "D1", 95.0, "demo_bins", 1),
        (ts("2024-05-06 09:00"), "B1", "D1", 50.0, "demo_bins", 1),
        (ts("2024-05-06 10:00"), "B1", "D1", 91.0, "demo_bins", 1),
        (ts("2024-05-06 08:00"), "B2", "D2", 90.0, "demo_bins", 1),
        (ts("2024-05-06 09:00"), "B2", "D2", 100.0, "demo_bins", 1),
    ])
    # parking 2024-05-06: F1 (D1, 100 spaces) 08h 90+80 -> exactly 85 % (not over), 09h 95 %;
    # F2 (D2, 50 spaces) 08h 60 occupied -> capped at 50 (100 %), 09h 10 (20 %)
    # occupancy D1 265/300, D2 60/100, city 325/400; facility-hours over 85: D1 1, D2 1
    insert("parking_occupancy", [
        (ts("2024-05-06 08:00"), "F1", "D1", 100, 90, "demo_parking", 1),
        (ts("2024-05-06 08:30"), "F1", "D1", 100, 80, "demo_parking", 1),
        (ts("2024-05-06 09:00"), "F1", "D1", 100, 95, "demo_parking", 1),
        (ts("2024-05-06 08:00"), "F2", "D2", 50, 60, "demo_parking", 1),
        (ts("2024-05-06 09:00"), "F2", "D2", 50, 10, "demo_parking", 1),
    ])
    insert("parking_citations", [
        (ts("2024-05-06 08:00"), "D1", "14", 65.0, "demo_citations", 1),
        (ts("2024-05-07 11:00"), "D1", "21", 115.0, "demo_citations", 1),
        (ts("2024-05-06 12:00"), "D2", "99", None, "demo_citations", 1),
    ])
    # 311: (id, created, closed, due, district, category, status)
    requests = [
        ("R1", "2024-03-20 09:00", None, None, "D1", "Noise", "open"),               # open throughout
        ("R2", "2024-05-01 10:00", "2024-05-01 12:00", "2024-05-02 10:00", "D1", "Noise", "closed"),  # 2 h, on time
        ("R3", "2024-05-02 00:00", "2024-05-02 04:00", "2024-05-02 02:00", "D1", "Missed Collection", "closed"),  # 4 h, late
        ("R4", "2024-05-03 00:00", "2024-05-04 06:00", "2024-05-06 00:00", "D1", "Street Condition", "closed"),  # 30 h, on time
        ("R5", "2024-05-10 00:00", "2024-05-10 10:00", "2024-05-10 10:00", "D2", "Missed Collection", "closed"),  # 10 h, on time (=)
        ("R6", "2024-05-10 00:00", "2024-05-12 02:00", None, "D2", "Noise", "closed"),  # 50 h, no due date
        ("R7", "2024-04-28 12:00", "2024-06-02 00:00", "2024-05-01 00:00", "D2", "Noise", "closed"),  # 828 h, late
        ("R8", "2024-05-31 23:00", "2024-06-01 00:00", "2024-06-02 00:00", "D1", "Noise", "closed"),  # closed at May's end
        ("R9", "2024-05-05 00:00", None, None, "D2", "Noise", "closed"),             # closed, no time: no backlog
        ("R10", "2024-06-15 00:00", None, "2024-06-20 00:00", "D1", "Noise", "open"),
        ("R11", "2024-07-01 00:00", None, None, "D1", "Noise", "open"),              # after END
        ("R12", "2024-02-01 00:00", "2024-03-01 00:00", None, "D2", "Noise", "closed"),  # before START
    ]
    insert("service_requests", [
        (rid, ts(c), ts(cl) if cl else None, ts(d) if d else None, dist, cat, "app", status,
         None, None, None, "demo_311", 1)
        for rid, c, cl, d, dist, cat, status in requests
    ])
    # survey 2024-05-06: D1 5, 4, 3 (mean 4); D2 2, 5 (3.5) and an invalid 9; city 19/5 = 3.8
    insert("satisfaction_responses", [
        (ts("2024-05-06 10:00"), "R2", "D1", "Noise", 5, "demo_survey", 1),
        (ts("2024-05-06 11:00"), "R3", "D1", "Missed Collection", 4, "demo_survey", 1),
        (ts("2024-05-06 12:00"), "R4", "D1", "Street Condition", 3, "demo_survey", 1),
        (ts("2024-05-06 13:00"), "R5", "D2", "Missed Collection", 2, "demo_survey", 1),
        (ts("2024-05-06 14:00"), "R6", "D2", "Noise", 5, "demo_survey", 1),
        (ts("2024-05-06 15:00"), "R6", "D2", "Noise", 9, "demo_survey", 1),
    ])
    yield db
    db.close()


def run(con, metric_id: str, grain: str, start: datetime = START, end: datetime = END):
    """Rows of one metric as {(district_id, period): row dict}."""
    rel = con.execute(METRICS[metric_id].sql, {"grain": grain, "start": start, "end": end})
    names = [d[0] for d in rel.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=False)) for r in rel.fetchall()}


def values(con, metric_id: str, grain: str, period: str) -> dict[str, float]:
    """{district_id: value} of one period."""
    p = ts(period)
    return {d: row["value"] for (d, per), row in run(con, metric_id, grain).items() if per == p}


def aligned(period: datetime, grain: str) -> bool:
    if grain == "hour":
        return period == period.replace(minute=0, second=0, microsecond=0)
    if period != period.replace(hour=0, minute=0, second=0, microsecond=0):
        return False
    return {"day": True, "week": period.weekday() == 0, "month": period.day == 1}[grain]


CASES = [(m.id, g) for m in METRICS.values() for g in m.grains]


# --------------------------------------------------------------------------- every metric
def test_registry_has_enough_metrics_in_every_domain():
    assert len(METRICS) >= 16
    assert {m.domain for m in METRICS.values()} == set(DOMAINS)
    for domain in DOMAINS:
        assert len(registry.by_domain(domain)) >= 3, domain


def test_every_domain_is_named_once_in_every_language():
    """A domain's name is a catalogue text (ui.domain_<domain>): the ops pages' English label is
    the public site's, and each language names every domain."""
    for domain in DOMAINS:
        assert registry.DOMAIN_LABELS[domain] == i18n.t(f"domain_{domain}") != f"domain_{domain}"
        for lang in i18n.LANGS:
            assert f"domain_{domain}" in i18n.catalogue(lang)["ui"], (lang, domain)


@pytest.mark.parametrize("metric_id, grain", CASES)
def test_contract_columns_and_types(con, metric_id, grain):
    rel = con.sql(METRICS[metric_id].sql, params={"grain": grain, "start": START, "end": END})
    assert tuple(rel.columns) == CONTRACT
    assert tuple(str(t) for t in rel.types) == CONTRACT_TYPES


@pytest.mark.parametrize("metric_id, grain", CASES)
def test_rows_are_districts_and_city_inside_the_range(con, metric_id, grain):
    rows = run(con, metric_id, grain)
    assert rows, "no rows on the fixture city"
    districts = {d for d, _ in rows}
    assert "city" in districts
    assert districts <= set(DISTRICTS) | {"city"}
    for (district, period), row in rows.items():
        assert START <= period < END, (district, period)
        assert aligned(period, grain), (district, period)
        assert row["n"] is not None and row["n"] >= 0
    city_periods = {p for d, p in rows if d == "city"}
    assert {p for _, p in rows} == city_periods, "every period with district rows has a city row"


@pytest.mark.parametrize("metric_id, grain", CASES)
def test_city_value_is_formed_from_the_whole_city(con, metric_id, grain):
    """Sums add up; ratios are sum(numerator)/sum(denominator), never a mean of ratios."""
    metric = METRICS[metric_id]
    rows = run(con, metric_id, grain)
    scale = 100.0 if metric.unit == "%" else 1.0
    for (district, period), city in rows.items():
        if district != "city":
            continue
        parts = [r for (d, p), r in rows.items() if p == period and d != "city"]
        if not any(d != "city" for d, _ in rows):  # a citywide-only source: nothing to add up
            if metric.aggregate in ("ratio", "mean"):
                assert city["value"] == pytest.approx(scale * city["numerator"] / city["denominator"])
            continue
        assert city["n"] == sum(r["n"] for r in parts)
        if metric.aggregate in ("sum", "level"):
            assert city["value"] == pytest.approx(sum(r["value"] for r in parts))
        if metric.aggregate in ("ratio", "mean"):
            num = sum(r["numerator"] for r in parts)
            den = sum(r["denominator"] for r in parts)
            assert city["numerator"] == pytest.approx(num)
            assert city["denominator"] == pytest.approx(den)
            assert city["value"] == pytest.approx(scale * num / den)
            for r in parts + [city]:
                assert r["value"] == pytest.approx(scale * r["numerator"] / r["denominator"])


@pytest.mark.parametrize("metric_id, grain", CASES)
def test_publisher_style_open_end_is_bounded_by_the_data(con, metric_id, grain):
    """The publisher passes $end = 2200-01-01: no period may run past the data."""
    rows = run(con, metric_id, grain, START, END_OF_TIME)
    assert rows
    assert max(p for _, p in rows) <= datetime(2024, 7, 1)


@pytest.mark.parametrize("metric_id", list(METRICS))
def test_metadata_is_complete(con, metric_id):
    m = METRICS[metric_id]
    for text in (m.label, m.unit, m.description, m.method):
        assert text.strip()
    from data import ingest

    known_sources = {r[0] for r in con.execute("SELECT source_id FROM sources").fetchall()}
    adapters = {a.source.source_id for a in ingest.ADAPTERS.values()}  # e.g. the MTA's citywide totals
    assert m.source in set(warehouse.DEMO_SOURCES) | known_sources | adapters
    assert Path(m.path).stem == m.id
    if m.public:
        assert len(m.description) >= 80, "a public metric explains itself in plain language"
        assert len(m.method) >= 150, "a public metric says how it is computed"
    if m.unit == "%":
        assert m.aggregate == "ratio" and not m.per_capita
    if m.per_capita:
        assert m.aggregate in ("sum", "level"), "per-1,000-residents only makes sense for counts"
    if m.target is not None:
        assert m.status(m.target) == "ok" and m.status(m.warning) == "warning"
    if m.cadence >= timedelta(days=1):
        assert "hour" not in m.grains, "daily data has no hour grain"


@pytest.mark.parametrize("metric_id", [m.id for m in METRICS.values() if m.unit == "%"])
def test_percentages_are_percentages(con, metric_id):
    for grain in METRICS[metric_id].grains:
        for row in run(con, metric_id, grain).values():
            assert row["value"] >= 0
            if "vs_baseline" not in metric_id:  # more riders than baseline is fine
                assert row["value"] <= 100


# --------------------------------------------------------------------------- known answers
def test_bike_trips_counts_by_start_hour_and_keeps_the_range_half_open(con):
    assert values(con, "bike_trips", "month", "2024-05-01") == {"D1": 3, "D2": 1, "city": 4}
    assert values(con, "bike_trips", "hour", "2024-05-06 08:00") == {"D1": 2, "city": 2}
    assert sum(r["value"] for (d, _), r in run(con, "bike_trips", "day").items() if d == "city") == 4


def test_empty_or_full_share_is_pooled_over_reports(con):
    got = values(con, "bike_stations_empty_full_pct", "day", "2024-05-06")
    assert got["D1"] == pytest.approx(50.0)
    assert got["D2"] == pytest.approx(100 / 3)
    assert got["city"] == pytest.approx(300 / 7)   # not (50 + 33.3) / 2
    hourly = values(con, "bike_stations_empty_full_pct", "hour", "2024-05-06 09:00")
    assert hourly == {"D1": pytest.approx(50.0), "city": pytest.approx(50.0)}  # capacity-0 report ignored


def test_transit_ridership_and_baseline_ratio(con):
    riders = run(con, "transit_ridership", "week")
    assert riders[("city", ts("2024-05-06"))]["value"] == 1350
    assert isinstance(riders[("city", ts("2024-05-06"))]["period"], datetime)
    got = values(con, "transit_ridership_vs_baseline_pct", "month", "2024-05-01")
    assert got == {"D1": pytest.approx(80.0), "D2": pytest.approx(150.0),
                   "city": pytest.approx(100 * 1300 / 1450)}


def test_citywide_transit_counts_subway_and_bus_only(con):
    assert values(con, "transit_riders_citywide", "week", "2024-05-06") == {"city": 1300}
    assert values(con, "transit_citywide_vs_baseline_pct", "month", "2024-05-01") == {
        "city": pytest.approx(100 * 1200 / 1500)}  # the day without a baseline is left out of both


def test_citywide_traffic_counts_are_vehicles_per_counter_hour(con):
    assert values(con, "traffic_volume_citywide", "day", "2024-05-06") == {"city": pytest.approx(100.0)}
    assert values(con, "traffic_volume_citywide", "week", "2024-05-06") == {"city": pytest.approx(100.0)}


def test_pedestrians_per_count_pools_sessions(con):
    assert values(con, "pedestrians_per_count", "month", "2024-05-01") == {
        "D1": pytest.approx(200.0), "D2": pytest.approx(50.0), "city": pytest.approx(150.0)}


def test_traffic_volume_and_congestion(con):
    assert values(con, "traffic_volume", "day", "2024-05-06") == {"D1": 400, "D2": 140, "city": 540}
    got = values(con, "traffic_congestion_index", "day", "2024-05-06")
    assert got == {"D1": pytest.approx(12.5), "D2": pytest.approx(0.0), "city": pytest.approx(10.0)}
    assert values(con, "traffic_congestion_index", "hour", "2024-05-06 08:00")["D1"] == pytest.approx(50.0)


def test_waste_tonnage_and_diversion_rate_city_is_a_pooled_ratio(con):
    assert values(con, "waste_tonnage_total", "month", "2024-05-01") == {"D1": 100, "D2": 20, "city": 120}
    got = values(con, "recycling_diversion_pct", "month", "2024-05-01")
    assert got["D1"] == pytest.approx(20.0)
    assert got["D2"] == pytest.approx(50.0)
    assert got["city"] == pytest.approx(25.0)
    assert got["city"] != pytest.approx((got["D1"] + got["D2"]) / 2)


def test_bins_over_90(con):
    got = values(con, "bins_over_90_pct", "day", "2024-05-06")
    assert got == {"D1": pytest.approx(200 / 3), "D2": pytest.approx(50.0), "city": pytest.approx(60.0)}


def test_missed_collections_and_requests_opened(con):
    assert values(con, "missed_collections", "month", "2024-05-01") == {"D1": 1, "D2": 1, "city": 2}
    assert values(con, "sr_opened", "month", "2024-05-01") == {"D1": 4, "D2": 3, "city": 7}
    assert values(con, "sr_opened", "month", "2024-04-01") == {"D2": 1, "city": 1}


def test_parking_occupancy_caps_overcounts_and_pools_spaces(con):
    got = values(con, "parking_occupancy_pct", "day", "2024-05-06")
    assert got == {"D1": pytest.approx(100 * 265 / 300), "D2": pytest.approx(60.0),
                   "city": pytest.approx(100 * 325 / 400)}


def test_parking_facility_hours_over_85(con):
    rows = run(con, "parking_hours_over_85", "day")
    day = ts("2024-05-06")
    assert {d: rows[(d, day)]["value"] for d in ("D1", "D2", "city")} == {"D1": 1, "D2": 1, "city": 2}
    assert rows[("city", day)]["n"] == 4  # facility-hours observed
    assert values(con, "parking_hours_over_85", "hour", "2024-05-06 08:00") == {"D1": 0, "D2": 1, "city": 1}


def test_parking_citations_and_fines(con):
    assert values(con, "parking_citations", "month", "2024-05-01") == {"D1": 2, "D2": 1, "city": 3}
    assert values(con, "parking_fine_revenue", "month", "2024-05-01") == {"D1": 180, "city": 180}


def test_median_hours_to_close_is_a_median_of_requests(con):
    got = values(con, "sr_median_hours_to_close", "month", "2024-05-01")
    assert got == {"D1": pytest.approx(4.0), "D2": pytest.approx(30.0), "city": pytest.approx(10.0)}
    june = values(con, "sr_median_hours_to_close", "month", "2024-06-01")
    assert june == {"D1": pytest.approx(1.0), "D2": pytest.approx(828.0), "city": pytest.approx(414.5)}


def test_sla_share_counts_closures_with_a_due_date(con):
    rows = run(con, "sr_closed_within_sla_pct", "month")
    may = ts("2024-05-01")
    assert rows[("D1", may)]["value"] == pytest.approx(200 / 3)
    assert rows[("D2", may)]["value"] == pytest.approx(100.0)   # closed exactly at due time; R6 has none
    assert rows[("city", may)]["value"] == pytest.approx(75.0)
    assert (rows[("city", may)]["numerator"], rows[("city", may)]["denominator"]) == (3, 4)


def test_backlog_is_the_number_open_at_each_period_end(con):
    assert values(con, "sr_open_backlog", "month", "2024-04-01") == {"D1": 1, "D2": 1, "city": 2}
    # R8 closed at exactly 2024-06-01 00:00: still open at the end of May
    assert values(con, "sr_open_backlog", "month", "2024-05-01") == {"D1": 2, "D2": 1, "city": 3}
    assert values(con, "sr_open_backlog", "month", "2024-06-01") == {"D1": 2, "city": 2}
    assert values(con, "sr_open_backlog", "day", "2024-05-01") == {"D1": 1, "D2": 1, "city": 2}
    assert values(con, "sr_open_backlog", "day", "2024-05-02") == {"D1": 1, "D2": 1, "city": 2}
    # quiet days still have a backlog (R1 and R7 are open)
    assert values(con, "sr_open_backlog", "day", "2024-04-15") == {"D1": 1, "city": 1}


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_backlog_does_not_depend_on_the_range_it_is_computed_for(con, grain):
    """The publisher recomputes only the dirty range: a narrow run must match a wide one."""
    wide = run(con, "sr_open_backlog", grain, datetime(2024, 1, 1), END_OF_TIME)
    narrow = run(con, "sr_open_backlog", grain, START, END)
    assert narrow
    assert narrow == {k: v for k, v in wide.items() if START <= k[1] < END}


def test_backlog_follows_opened_minus_closed(con):
    """backlog(end of day) - backlog(end of previous day) = opened - closed that day."""
    backlog = run(con, "sr_open_backlog", "day")
    events = con.execute("""
        SELECT d::TIMESTAMP,
               (SELECT count(*) FROM service_requests WHERE created_at >= d AND created_at < d + INTERVAL 1 DAY
                  AND NOT (status = 'closed' AND closed_at IS NULL)),
               (SELECT count(*) FROM service_requests WHERE closed_at >= d AND closed_at < d + INTERVAL 1 DAY)
        FROM range(DATE '2024-04-02', DATE '2024-07-01', INTERVAL 1 DAY) t(d)
    """).fetchall()
    for day, opened, closed in events:
        today = backlog.get(("city", day), {}).get("value", 0)
        before = backlog.get(("city", day - timedelta(days=1)), {}).get("value", 0)
        assert today - before == opened - closed, day


def test_satisfaction_score_is_the_mean_of_valid_answers(con):
    rows = run(con, "satisfaction_score", "day")
    day = ts("2024-05-06")
    assert rows[("D1", day)]["value"] == pytest.approx(4.0)
    assert rows[("D2", day)]["value"] == pytest.approx(3.5)
    assert rows[("city", day)]["value"] == pytest.approx(3.8)   # not (4 + 3.5) / 2
    assert (rows[("city", day)]["numerator"], rows[("city", day)]["denominator"], rows[("city", day)]["n"]) == (19, 5, 5)


# --------------------------------------------------------------------------- loader validation
BASE = registry.METRICS_DIR / "bike_trips.sql"
_SPLIT = re.compile(r"\A\s*/\*---\s*\n(?P<meta>.*?)\n---\*/\s*(?P<sql>.*)\Z", re.S)


def write_metric(directory: Path, meta: dict, sql: str, name: str | None = None) -> Path:
    path = directory / f"{name or meta.get('id', 'metric')}.sql"
    path.write_text("/*---\n" + yaml.safe_dump(meta, sort_keys=False) + "---*/\n" + sql + "\n",
                    encoding="utf-8")
    return path


def base_parts() -> tuple[dict, str]:
    match = _SPLIT.match(BASE.read_text(encoding="utf-8"))
    return yaml.safe_load(match.group("meta")), match.group("sql")


def test_the_unbroken_copy_loads(tmp_path):
    meta, sql = base_parts()
    write_metric(tmp_path, meta, sql)
    assert registry.load(tmp_path)["bike_trips"].label == meta["label"]


def _set(key, value):
    def change(meta, sql):
        meta[key] = value
        return meta, sql, None
    return change


def _drop(key):
    def change(meta, sql):
        del meta[key]
        return meta, sql, None
    return change


BREAKAGES = {
    "bad direction": ("direction", _set("direction", "up")),
    "missing label": ("label", _drop("label")),
    "empty description": ("description", _set("description", "")),
    "unknown field": ("colour", _set("colour", "red")),
    "bad cadence": ("cadence", _set("cadence", "hourly")),
    "cadence in weeks": ("cadence", _set("cadence", "1w")),
    "bad domain": ("domain", _set("domain", "energy")),
    "bad aggregate": ("aggregate", _set("aggregate", "max")),
    "public not a boolean": ("public", _set("public", "yes")),
    "suppress not a boolean": ("suppress", _set("suppress", "no")),
    "unknown grain": ("grains", _set("grains", ["day", "year"])),
    "empty grains": ("grains", _set("grains", [])),
    "bad format": ("format", _set("format", ",.0q")),
    "target without warning": ("warning", lambda m, s: ({**m, "target": 10}, s, None)),
    "target not a number": ("target", lambda m, s: ({**m, "target": "ten", "warning": 5}, s, None)),
    "warning on the better side (higher)": (
        "warning", lambda m, s: ({**m, "direction": "higher", "target": 100, "warning": 120}, s, None)),
    "warning on the better side (lower)": (
        "warning", lambda m, s: ({**m, "direction": "lower", "target": 48, "warning": 24}, s, None)),
    "id not matching the file name": ("id", lambda m, s: (m, s, "other_name")),
    "id not a valid identifier": ("id", lambda m, s: ({**m, "id": "Bike Trips"}, s, "Bike Trips")),
    "two statements": ("sql", lambda m, s: (m, s + ";\nSELECT 1", None)),
    "not a select": ("sql", lambda m, s: (m, "DELETE FROM bike_trips WHERE $grain = $start AND $end", None)),
    "missing $end": ("sql", lambda m, s: (m, s.replace("$end", "TIMESTAMP '2200-01-01'"), None)),
    "min_n zero": ("min_n", _set("min_n", 0)),
    "min_n a fraction": ("min_n", _set("min_n", 2.5)),
    "min_n text": ("min_n", _set("min_n", "five")),
    "min_n a boolean": ("min_n", _set("min_n", True)),
    "unknown text in a translation": ("i18n.es.title", _set("i18n", {"es": {"title": "Viajes"}})),
    "empty text in a translation": ("i18n.es.label", _set("i18n", {"es": {"label": " "}})),
    "English as a translation": ("i18n", _set("i18n", {"en": {"label": "Bike trips"}})),
    "not a language code": ("i18n", _set("i18n", {"Spanish": {"label": "Viajes"}})),
    "interval on a sum": ("ci", _set("ci", {"kind": "mean_score", "min": 1, "max": 5})),
    "interval of an unknown kind": ("ci.kind", lambda m, s: ({**m, "aggregate": "mean", "ci": {"kind": "median"}}, s, None)),
    "interval max below min": ("ci.max", lambda m, s: ({**m, "aggregate": "mean", "ci": {"kind": "mean_score", "min": 5, "max": 1}}, s, None)),
}


def test_a_header_translates_into_any_language_the_site_has(tmp_path, monkeypatch):
    """A city adding data/i18n/fr.yaml adds an i18n.fr block to the metric files it translates;
    a text left out (and every metric without the block) is shown in English."""
    meta, sql = base_parts()
    meta["i18n"] = {**meta["i18n"], "fr": {"label": "Trajets en vélo partagé"}}
    write_metric(tmp_path, meta, sql)
    metric = registry.load(tmp_path)["bike_trips"]
    monkeypatch.setattr(i18n, "LANGS", (*i18n.LANGS, "fr"))
    assert i18n.metric_label(metric, "fr") == "Trajets en vélo partagé" and i18n.has_own(metric, "label", "fr")
    assert i18n.metric_description(metric, "fr") == metric.description and not i18n.has_own(metric, "description", "fr")
    assert i18n.metric_label(metric, "es") == "Viajes en bicicleta compartida" and i18n.metric_label(metric) == metric.label


def test_min_n_defaults_by_aggregate_and_can_be_declared(tmp_path):
    """A median, mean or percentage needs more records than a count before it is compared;
    a declared min_n wins."""
    assert METRICS["sr_opened"].min_n == 1
    assert METRICS["satisfaction_score"].min_n >= 5
    assert METRICS["sr_median_hours_to_close"].min_n >= 5
    assert METRICS["bins_over_90_pct"].min_n >= 10
    meta, sql = base_parts()
    write_metric(tmp_path, {**meta, "min_n": 7}, sql)
    assert registry.load(tmp_path)["bike_trips"].min_n == 7


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_a_broken_declaration_names_the_file_and_the_field(tmp_path, case):
    field_name, change = BREAKAGES[case]
    meta, sql = base_parts()
    meta, sql, name = change(meta, sql)
    path = write_metric(tmp_path, meta, sql, name)
    with pytest.raises(RegistryError) as excinfo:
        registry.load(tmp_path)
    message = str(excinfo.value)
    assert path.name in message
    assert f"'{field_name}'" in message


def test_missing_header_is_refused(tmp_path):
    shutil.copy(BASE, tmp_path / "bike_trips.sql")
    (tmp_path / "bike_trips.sql").write_text(BASE.read_text().split("---*/", 1)[1])
    with pytest.raises(RegistryError, match="bike_trips.sql"):
        registry.load(tmp_path)


def test_one_bad_file_among_good_ones_stops_the_load(tmp_path):
    for p in registry.METRICS_DIR.glob("*.sql"):
        shutil.copy(p, tmp_path / p.name)
    assert len(registry.load(tmp_path)) == len(METRICS)
    victim = tmp_path / "sr_open_backlog.sql"
    victim.write_text(victim.read_text().replace("cadence: 1h", "cadence: often"))
    with pytest.raises(RegistryError, match=r"sr_open_backlog\.sql: field 'cadence'"):
        registry.load(tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(direction=st.sampled_from(["higher", "lower"]),
       target=st.floats(-1e6, 1e6, allow_nan=False), gap=st.floats(-1e3, 1e3, allow_nan=False))
def test_warning_must_lie_on_the_worse_side(tmp_path, direction, target, gap):
    meta, sql = base_parts()
    warning = target + gap
    meta.update(direction=direction, target=target, warning=warning)
    write_metric(tmp_path, meta, sql)
    worse_or_equal = warning <= target if direction == "higher" else warning >= target
    if worse_or_equal:
        metric = registry.load(tmp_path)["bike_trips"]
        assert metric.status(target) == "ok"
    else:
        with pytest.raises(RegistryError, match=r"bike_trips\.sql: field 'warning'"):
            registry.load(tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12)
       .filter(lambda s: s.strip() not in ("higher", "lower", "") and "*/" not in s))
def test_any_other_direction_is_refused(tmp_path, value):
    meta, sql = base_parts()
    meta["direction"] = value
    write_metric(tmp_path, meta, sql)
    with pytest.raises(RegistryError, match=r"bike_trips\.sql: field 'direction'"):
        registry.load(tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(0, 10_000), unit=st.sampled_from(["m", "h", "d", "s", "w", "min", ""]))
def test_cadence_must_be_minutes_hours_or_days(tmp_path, amount, unit):
    meta, sql = base_parts()
    meta["cadence"] = f"{amount}{unit}"
    write_metric(tmp_path, meta, sql)
    if unit in ("m", "h", "d") and amount > 0:
        metric = registry.load(tmp_path)["bike_trips"]
        assert metric.cadence == timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    else:
        with pytest.raises(RegistryError, match=r"bike_trips\.sql: field 'cadence'"):
            registry.load(tmp_path)


def test_status_bands_follow_direction():
    lower = METRICS["sr_median_hours_to_close"]   # lower is better: 48 target, 96 warning
    assert [lower.status(v) for v in (10, 48, 60, 96, 200)] == ["ok", "ok", "warning", "warning", "bad"]
    higher = METRICS["recycling_diversion_pct"]
    assert [higher.status(v) for v in (30, 25, 20, 18, 5)] == ["ok", "ok", "warning", "warning", "bad"]
    assert higher.status(math.nan) == "none" and METRICS["bike_trips"].status(5) == "none"
