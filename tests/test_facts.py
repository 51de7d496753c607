"""The facts of a number (data/facts.py), attacked the way an operator or a journalist would:
the same number reads the same everywhere, a partial day is compared with the same part of
its reference and says which, a handful of records gets no change and no colour, a quiet day
is the latest day, and a comparison with a period the data barely covers is no percentage.

Most tests use a second small city whose data ends at 06:00, published with the data clock at
06:30 (the start of a morning shift), in its own var dir; the session's fixture city is put
back afterwards.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pandas as pd
import pytest

from data import facts, registry

MORNING = datetime(2026, 12, 1, 6, 0)      # a Tuesday; the demo's data ends here
SHIFT_START = datetime(2026, 12, 1, 6, 30)  # the publish's data clock


def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json(), ensure_ascii=False)


def _find(component, cls: str):
    """First descendant whose className contains `cls` (a Dash component tree)."""
    stack = [component]
    while stack:
        c = stack.pop(0)
        if cls in (getattr(c, "className", "") or "").split():
            return c
        children = getattr(c, "children", None)
        if isinstance(children, (list, tuple)):
            stack.extend(x for x in children if x is not None and not isinstance(x, (str, int, float)))
        elif children is not None and not isinstance(children, (str, int, float)):
            stack.append(children)
    return None


def _plain(component) -> str:
    if component is None:
        return ""
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if isinstance(children, (str, int, float)):
        return str(children)
    items = children if isinstance(children, (list, tuple)) else [children]
    return "".join(c if isinstance(c, str) else _plain(c) for c in items if c is not None)


@pytest.fixture(scope="module")
def morning(published, tmp_path_factory):
    """A 21-day city ending at 06:00, published at 06:30, served from its own var dir."""
    from data import demo, publish, repository, snapshot, warehouse

    before = os.environ["CITYOPS_VAR_DIR"]
    var = tmp_path_factory.mktemp("morning")
    os.environ["CITYOPS_VAR_DIR"] = str(var)
    try:
        demo.build(warehouse.path(), seed=11, days=21, end=MORNING, scale=0.2, progress=False)
        con = warehouse.connect()
        try:
            publish.publish(con, now=SHIFT_START)
        finally:
            con.close()
        snapshot.reset()
        repository.clear_cache()
        yield var
    finally:
        os.environ["CITYOPS_VAR_DIR"] = before
        snapshot.reset()
        repository.clear_cache()


def _raw(var, sql: str, params: dict):
    import duckdb

    con = duckdb.connect(str(var / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _cards(district="city"):
    from callbacks import common

    metrics = common.available_metrics()
    return metrics, dict(zip([m.id for m in metrics], common.kpi_cards(metrics, district=district, grain="day"), strict=False))


def test_the_operator_at_0630_sees_today_against_the_same_weekday_last_week_to_the_same_hour(morning):
    """The count of requests made today to 06:00 is compared with the requests made on Tuesday
    a week ago up to the same minute — worked out here from the raw records — and the card
    names that reference. (Before: '▼ 93% vs previous', a whole Monday against six hours.)"""
    _metrics, cards = _cards()
    card = cards["sr_opened"]
    (through,), = _raw(morning, "SELECT max(greatest(created_at, coalesce(closed_at, created_at))) "
                                "FROM service_requests", {})
    today = datetime(2026, 12, 1)
    last_week = today - timedelta(days=7)
    (now_count,), = _raw(morning, "SELECT count(*) FROM service_requests WHERE created_at >= $a AND created_at <= $b",
                         {"a": today, "b": through})
    (then_count,), = _raw(morning, "SELECT count(*) FROM service_requests WHERE created_at >= $a AND created_at <= $b",
                          {"a": last_week, "b": through - timedelta(days=7)})
    assert now_count > 0 and then_count > 0
    expected = f"{facts.arrow((now_count - then_count) / then_count * 100)} vs Tue 24 Nov, to {through:%H:%M}"
    assert _plain(_find(card, "kpi-change")) == expected
    assert f"{now_count:,}" in _plain(_find(card, "kpi-value"))
    assert "Tue 1 Dec, to" in _text(card)  # the period says how far its data reaches


def test_a_value_on_too_few_records_shows_no_change_and_no_status_colour(morning):
    """A district's satisfaction or median hours at 06:30 rests on a handful of records: the
    card says so instead of a percentage, and has no ok/warning/bad colour."""
    rows = _raw(morning, "SELECT metric_id, district_id, n FROM metric_values WHERE grain = 'day' "
                         "AND period = $p AND district_id <> 'city' AND n > 0 "
                         "AND metric_id IN ('satisfaction_score', 'sr_median_hours_to_close', 'bins_over_90_pct') "
                         "ORDER BY n, metric_id, district_id", {"p": datetime(2026, 12, 1)})
    small = [(m, d, n) for m, d, n in rows if n < registry.get(m).min_n]
    assert small, "the morning city has values on few records"
    for metric_id, district, n in small[:3]:
        _metrics, cards = _cards(district)
        card = cards[metric_id]
        classes = card.className.split()
        assert not {"kpi-card--ok", "kpi-card--warning", "kpi-card--bad"} & set(classes), (metric_id, district)
        change = _plain(_find(card, "kpi-change"))
        assert "%" not in change and f"too few records (n={n} < {registry.get(metric_id).min_n})" == change


def test_the_wall_and_the_overview_show_the_same_change_for_every_metric(morning, dash_app):
    """For every metric, the wall tile and the overview card show the same value and the same
    change text (before: '▼ 68 %' on one and '▲ 19 %' on the other)."""
    from callbacks.ops import wall

    metrics, cards = _cards()
    tiles = dict(zip([m.id for m in metrics], [t for _s, t in wall.tiles_for(metrics)], strict=False))
    shown = 0
    for metric in metrics:
        tile_change = _plain(_find(tiles[metric.id], "kpi-change"))
        card_change = _plain(_find(cards[metric.id], "kpi-change"))
        assert tile_change == card_change, metric.id
        assert getattr(tiles[metric.id], "data-n") == getattr(cards[metric.id], "data-n"), metric.id
        assert _plain(_find(tiles[metric.id], "kpi-value")) != "–" or _plain(_find(cards[metric.id], "kpi-value")) == "–"
        shown += "%" in card_change
    assert shown >= len(metrics) // 2  # most numbers do have a comparison at 06:30


def test_a_day_with_no_record_is_the_latest_day(morning):
    """A count with no record today in a district reads 0 for today, not an older day's figure
    (before: '1 reports · Wed 25 Nov' when 30 Nov had 0)."""
    quiet = _raw(morning, """
        SELECT d.district_id FROM districts d
        WHERE NOT EXISTS (SELECT 1 FROM metric_values v WHERE v.metric_id = 'missed_collections'
                          AND v.grain = 'day' AND v.district_id = d.district_id AND v.period = $p)
          AND EXISTS (SELECT 1 FROM metric_values v WHERE v.metric_id = 'missed_collections'
                      AND v.grain = 'day' AND v.district_id = d.district_id AND v.period < $p)
        ORDER BY 1 LIMIT 1""", {"p": datetime(2026, 12, 1)})
    assert quiet, "some district had no missed collection today but had some before"
    district = quiet[0][0]
    _metrics, cards = _cards(district)
    card = cards["missed_collections"]
    assert _plain(_find(card, "kpi-value")) == "0"
    assert "Tue 1 Dec" in _text(card)
    # the district profile's complete-day card too: its latest complete day, zeros included
    from data import lookups

    latest = facts.last_complete_period("day", datetime(2026, 12, 1))
    part = pd.DataFrame(_raw(morning, "SELECT period, value, n FROM metric_values WHERE metric_id = 'missed_collections' "
                                      "AND grain = 'day' AND district_id = $d AND period < $p ORDER BY period",
                             {"d": district, "p": latest}), columns=["period", "value", "n"])
    shown = facts.from_series(registry.get("missed_collections"), facts.filled(
        registry.get("missed_collections"), part, grain="day", last=latest), grain="day", district=district,
        period=latest, data_time=None, now=SHIFT_START)
    assert shown.period == datetime(2026, 11, 30) and shown.value == 0 and lookups is not None


def test_a_reference_the_data_barely_covers_is_no_comparable_data(morning):
    """Explorer table: a range whose previous range lies mostly before the data begins (like
    'last year' against a year with a few weeks of data) shows no percentage but says why
    (before: +1111 %)."""
    from data import explore, lookups

    state = explore.parse({"metric": "sr_opened", "start": "2026-11-14", "end": "2026-11-30"})
    prev_start, _ = explore.previous_range(state)
    assert prev_start < datetime(2026, 11, 10)  # the morning city's data begins on 10 Nov
    table = explore.district_table(state, lookups.districts()).set_index("district_id")
    assert table["previous"].notna().any()  # there is a little data before: the trap
    assert table["change_pct"].isna().all()
    assert set(table["comparison"]) == {"no comparable data"}
    # a range the data covers on both sides still has its change
    covered = explore.parse({"metric": "sr_opened", "start": "2026-11-24", "end": "2026-11-30"})
    city = explore.district_table(covered, lookups.districts()).set_index("district_id").loc["city"]
    assert not pd.isna(city["change_pct"]) and city["comparison"] == ""


def test_a_last_year_reference_with_too_little_data_is_no_comparable_data():
    """A period compared with the same period a year before, when that one holds 3 records
    where 10 are needed, or starts before the data does: no percentage."""
    metric = registry.get("satisfaction_score")
    part = pd.DataFrame({"period": [datetime(2025, 11, 1), datetime(2026, 11, 1)], "value": [1.0, 4.2], "n": [3, 400]})
    f = facts.from_series(metric, part.iloc[[1]], grain="month", district="city", period=datetime(2026, 11, 1),
                          data_time=None, now=datetime(2026, 12, 1))
    assert f.change is None and f.change_reason == "reference has no data"
    ref = facts.Reference("year", datetime(2025, 11, 1), None, 1.0, 3, "vs Nov 2025")
    made = facts.make(metric, district="city", grain="month", period=datetime(2026, 11, 1),
                      through=datetime(2026, 12, 1), value=4.2, n=400, reference=ref, data_time=None,
                      now=datetime(2026, 12, 1))
    assert made.change is None and made.change_text.startswith("no comparable data")
    late = facts.Reference("year", datetime(2025, 11, 1), None, 1.0, 300, "vs Nov 2025", complete=False)
    made = facts.make(metric, district="city", grain="month", period=datetime(2026, 11, 1),
                      through=datetime(2026, 12, 1), value=4.2, n=400, reference=late, data_time=None,
                      now=datetime(2026, 12, 1))
    assert made.change is None and made.change_text.startswith("no comparable data")


def test_publish_keeps_the_references_incremental(morning):
    """A second publish with nothing new recomputes no reference window."""
    from data import publish, warehouse
    from data import registry as reg

    con = warehouse.connect()
    try:
        assert publish.update_references(con, publish.metrics_to_publish(con), None) == 0
        windows = con.execute("SELECT count(*) FROM reference_windows").fetchall()[0][0]
    finally:
        con.close()
    assert windows >= len([m for m in reg.metrics().values()])
