"""Detection: threshold (min n, pending, hysteresis), count anomalies, forecast breach, no data,
complete periods only, one episode per trouble, and the registry's validation of alert policies.

Small synthetic panels built here (hours of a made-up metric), so every expectation is worked
out by hand; one test runs the writer's step on the demo fixture.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from data import access, alert_policy, detect, episodes, ops_store, registry

NOW = datetime(2026, 11, 24, 6, 30)          # a Tuesday, at the start of a shift
LAST = datetime(2026, 11, 24, 5)             # the newest complete hour
DAYS = 15


def _metric(base_id: str, **policy) -> registry.Metric:
    metric = registry.get(base_id)
    block = {"rules": ["threshold"], "grain": "hour", **policy}
    parsed = alert_policy.parse(block, grains=metric.grains, has_target=metric.target is not None,
                                direction=metric.direction)
    return dataclasses.replace(metric, alert=parsed)


def _hours(end=LAST, days=DAYS):
    return pd.date_range(end - timedelta(days=days), end, freq="1h")


def _frame(values: dict[str, np.ndarray], n: dict[str, np.ndarray] | None = None, hours=None) -> pd.DataFrame:
    hours = _hours() if hours is None else hours
    rows = []
    for district, vals in values.items():
        ns = (n or {}).get(district, np.full(len(hours), 50))
        for h, v, k in zip(hours, vals, ns, strict=False):
            if v == v:
                rows.append((district, h, float(v), int(k)))
    return pd.DataFrame(rows, columns=["district_id", "period", "value", "n"])


def _panel(metric, frame, *, end=LAST):
    return detect.panel(frame, "hour", end - timedelta(days=DAYS), end + timedelta(hours=2),
                        count=detect.is_count(metric))


def _by(detections, district, rule):
    found = [d for d in detections if d["district_id"] == district and d["rule"] == rule]
    return found[0] if found else None


def _occupancy(k: int, rng) -> np.ndarray:
    """Occupancy % with a daily profile (60 % by day, 30 % at night) and a little noise."""
    hours = _hours()
    day = 30 + 30 * np.clip(np.sin((hours.hour.to_numpy() - 6) / 12 * np.pi), 0, None)
    return day + rng.normal(0, 1.0, len(hours)) + 0 * k


# -- threshold ------------------------------------------------------------------------------
def test_a_threshold_alert_is_never_built_from_fewer_records_than_min_n():
    metric = _metric("parking_occupancy_pct", min_n=10, pending=1)
    hours = _hours()
    values = np.full(len(hours), 99.0)                       # far beyond the warning band, always
    thin = _frame({"101": values}, {"101": np.full(len(hours), 3)})    # ... on 3 records an hour
    assert _by(detect.evaluate(metric, _panel(metric, thin), NOW), "101", "threshold") is None
    fat = _frame({"101": values}, {"101": np.full(len(hours), 10)})
    found = _by(detect.evaluate(metric, _panel(metric, fat), NOW), "101", "threshold")
    assert found is not None and found["n"] >= 10


def test_threshold_waits_for_pending_periods_and_resolves_after_hysteresis():
    metric = _metric("parking_occupancy_pct", pending=2, hysteresis=2)
    hours = _hours()
    base = np.full(len(hours), 60.0)

    def status_with(tail):
        vals = base.copy()
        vals[len(vals) - len(tail):] = tail
        return _by(detect.evaluate(metric, _panel(metric, _frame({"101": vals})), NOW), "101", "threshold")["status"]

    assert status_with([60, 90]) == "pending"        # one period out of band: not yet
    assert status_with([60, 90, 91]) == "firing"     # two in a row: an alert
    assert status_with([90, 91, 70]) == "recovering"  # back in band once: the alert stays
    assert status_with([90, 91, 70, 71]) == "clear"   # twice: it resolves itself
    firing = _by(detect.evaluate(metric, _panel(metric, _frame({"101": np.r_[base[:-3], 60, 90, 97]})), NOW),
                 "101", "threshold")
    assert firing["severity"] == "critical" and firing["first_period"] == LAST - timedelta(hours=1)


def test_a_breach_just_past_the_target_never_reads_as_the_target_itself():
    """Congestion 20.04 % against a 20 % target: the operator must not read "20.0 %, off target
    (target 20.0 %)"; the message shows the decimals that tell the two apart."""
    metric = _metric("traffic_congestion_index", pending=1)
    assert metric.target == 20.0 and metric.format_value(20.04) == metric.format_value(20.0)
    hours = _hours()
    values = np.full(len(hours), 12.0)
    values[-1] = 20.04
    found = _by(detect.evaluate(metric, _panel(metric, _frame({"101": values})), NOW), "101", "threshold")
    assert found is not None and found["status"] in ("firing", "pending")
    message = found["message"]
    assert "20.04 %" in message and "target 20.00 %" in message, message


def test_a_breach_that_is_usual_at_that_hour_opens_no_alert():
    """Midtown garages are over 85 % every workday at 10:00: that is the pattern, not news."""
    metric = _metric("parking_occupancy_pct", pending=1)
    hours = _hours()
    vals = np.where(hours.hour == 5, 90.0, 60.0)     # over target at 05:00 every day
    found = _by(detect.evaluate(metric, _panel(metric, _frame({"101": vals})), NOW), "101", "threshold")
    assert found["status"] == "pending" and "usual" in found["message"]


def _congestion(last_day: datetime, tail: list[float], days: int = 28) -> tuple[registry.Metric, detect.Panel]:
    """A district congested every workday (30 %, over its 20 % target), quiet at weekends
    (15 %), with `tail` as its newest days; the shipped traffic policy (day grain, pending 2,
    hysteresis 3, 24 hourly records a day)."""
    metric = registry.get("traffic_congestion_index")
    days_ = pd.date_range(last_day - timedelta(days=days), last_day, freq="1D")
    vals = np.where(days_.day_of_week >= 5, 15.0, 30.0) + np.random.default_rng(7).normal(0, 0.5, len(days_))
    vals[len(vals) - len(tail):] = tail
    frame = pd.DataFrame({"district_id": "101", "period": days_, "value": vals, "n": 24})
    return metric, detect.panel(frame, "day", days_[0], last_day + timedelta(days=1), count=False)


def test_a_usual_workday_breach_does_not_count_towards_an_unusual_weekend_one():
    """Off target every workday is the pattern. The first Saturday over target (22 %, where
    Saturdays are 15 %) is one unusual period, not two: the policy's pending 2 is not met by
    counting Friday's usual breach as the first."""
    saturday = datetime(2026, 11, 21)
    metric, p = _congestion(saturday, [30.0, 22.0])          # Fri usual, Sat unusual
    found = _by(detect.evaluate(metric, p, saturday + timedelta(days=1, minutes=30)), "101", "threshold")
    assert found is not None and found["status"] == "pending", found
    metric, p = _congestion(saturday + timedelta(days=1), [30.0, 22.0, 22.0])   # ... and Sunday too
    found = _by(detect.evaluate(metric, p, saturday + timedelta(days=2, minutes=30)), "101", "threshold")
    assert found["status"] == "firing" and found["first_period"] == saturday


def test_an_unusual_breach_resolves_while_the_usual_ones_go_on():
    """An alert opened by an unusual weekend resolves after hysteresis (3 days) even though the
    district is off target every workday after it, as it always is: the usual breaches keep no
    alert open (before, it stayed open for as long as the workdays stayed congested)."""
    wednesday = datetime(2026, 11, 25)
    metric, p = _congestion(wednesday, [30.0, 22.0, 22.0, 30.0, 30.0, 30.0])  # Fri, Sat, Sun, Mon-Wed
    found = _by(detect.evaluate(metric, p, wednesday + timedelta(days=1, minutes=30)), "101", "threshold")
    assert found is not None and found["status"] == "clear", found


def _garage(spaces: int, tail_occupied: int, tail_hours: int, rng) -> pd.DataFrame:
    """One sensor report an hour from one facility of `spaces` spaces: its usual day (about
    half full by day, a fifth at night, a space or two of noise), then `tail_occupied` spaces
    taken in each of the last `tail_hours` hours."""
    hours = _hours()
    usual = 0.2 + 0.35 * np.clip(np.sin((hours.hour.to_numpy() - 6) / 12 * np.pi), 0, None)
    occupied = np.clip(np.round(usual * spaces + rng.normal(0, 1.0, len(hours))), 0, spaces)
    occupied[-tail_hours:] = tail_occupied
    return pd.DataFrame({"district_id": "101", "period": hours, "value": 100.0 * occupied / spaces,
                         "numerator": occupied, "denominator": float(spaces), "n": 1})


def test_a_single_parking_report_out_of_the_ordinary_never_opens_an_alert():
    """One report (one facility, one hour) far from its usual value is a reading to confirm,
    not an alert: anomaly and forecast wait for a second period, the threshold for its three."""
    metric = registry.get("parking_occupancy_pct")   # its shipped policy (min_n 1: one report counts)
    for spaces, taken in ((11, 10), (39, 30), (442, 430)):
        frame = _garage(spaces, taken, 1, np.random.default_rng(spaces))
        found = detect.evaluate(metric, _panel(metric, frame), NOW)
        opened = [d for d in found if d["status"] == "firing"]
        assert opened == [], (spaces, [d["message"] for d in opened])
        assert {d["rule"] for d in found if d["status"] == "pending"} >= {"anomaly"}


def test_a_small_zone_over_85_percent_by_one_car_is_not_off_target():
    """10 of 11 spaces is 90.9 %, 'over 85 %' by one car, for six hours: the target lies well
    inside what chance gives on 11 spaces, so the threshold rule does not even start."""
    metric = registry.get("parking_occupancy_pct")
    frame = _garage(11, 10, 6, np.random.default_rng(5))
    found = _by(detect.evaluate(metric, _panel(metric, frame), NOW), "101", "threshold")
    assert found is None or found["status"] not in ("firing", "pending"), found["message"]


def test_a_big_garage_over_its_target_still_opens_a_threshold_alert():
    """The same one report an hour, from a 442-space garage at 95 % (420 cars) for 4 hours:
    the target is far outside what chance gives, so the rule fires after its pending hours."""
    metric = registry.get("parking_occupancy_pct")
    frame = _garage(442, 420, 4, np.random.default_rng(4))
    found = _by(detect.evaluate(metric, _panel(metric, frame), NOW), "101", "threshold")
    assert found is not None and found["status"] == "firing" and found["n"] == 1


def test_a_garage_over_its_target_most_mornings_is_the_pattern_not_an_alert():
    """A 442-space garage at 87 % (385 cars) from 03:00 to 05:00 on most days, at 90 % (398) on
    two of them: over 85 % is its pattern at those hours even though 87 % on 442 spaces is
    within chance of 85 % and only the two 90 % mornings are beyond it. Another 90 % morning is
    that pattern, not an alert (judging 'usual' on the breaches beyond chance alone saw 2 in 15
    and opened one)."""
    metric = registry.get("parking_occupancy_pct")
    hours = _hours()
    rng = np.random.default_rng(8)
    occupied = np.clip(np.round(0.45 * 442 + rng.normal(0, 3, len(hours))), 0, 442)
    early = (hours.hour >= 3) & (hours.hour <= 5)
    occupied[early] = 385
    days = np.asarray(hours.normalize())
    for k in (3, 9):                                  # two mornings at 90 %
        occupied[early & (days == days[0] + np.timedelta64(k, "D"))] = 398
    occupied[-3:] = 398                               # and this morning, 03:00-05:00
    frame = pd.DataFrame({"district_id": "101", "period": hours, "value": 100.0 * occupied / 442,
                          "numerator": occupied, "denominator": 442.0, "n": 1})
    found = _by(detect.evaluate(metric, _panel(metric, frame), NOW), "101", "threshold")
    assert found is not None and found["status"] == "pending" and "usual" in found["message"], found


def _district_parking(surge_hours: int, rng, spaces: int = 328) -> pd.DataFrame:
    """Two garages' reports an hour for a district of `spaces` spaces: half full by day, a
    fifth at night, each hour varying by about 4 points; then +13 points (43 cars) in each of
    the last `surge_hours` hours (an event nearby)."""
    hours = _hours()
    usual = 0.2 + 0.3 * np.clip(np.sin((hours.hour.to_numpy() - 6) / 12 * np.pi), 0, None)
    occupied = usual * spaces + rng.normal(0, 0.04 * spaces, len(hours))
    if surge_hours:
        occupied[-surge_hours:] += 0.13 * spaces
    occupied = np.clip(np.round(occupied), 0, spaces)
    return pd.DataFrame({"district_id": "101", "period": hours, "value": 100.0 * occupied / spaces,
                         "numerator": occupied, "denominator": float(spaces), "n": 2})


def test_a_parking_surge_a_few_hours_long_is_found_though_no_hour_alone_is_out_of_band():
    """+13 points for 4 hours where an hour varies by 4: no single hour is 4.5 scales out (the
    single-period band), but the 3-hour mean is far beyond what 3-hour means vary by, so the
    anomaly rule fires (after its pending 2); the same district without the surge does not."""
    metric = registry.get("parking_occupancy_pct")
    for seed in range(5):
        frame = _district_parking(4, np.random.default_rng(seed))
        found = _by(detect.evaluate(metric, _panel(metric, frame), NOW), "101", "anomaly")
        assert found is not None and found["status"] == "firing", (seed, found)
        assert "last 3 hours" in found["message"] or "last 6 hours" in found["message"], found["message"]
        quiet = _district_parking(0, np.random.default_rng(seed))
        found = _by(detect.evaluate(metric, _panel(metric, quiet), NOW), "101", "anomaly")
        assert found is None or found["status"] != "firing", (seed, found["message"])


def test_a_share_of_counted_units_policy_must_say_true_or_false(tmp_path):
    metric = registry.get("bins_over_90_pct")
    with pytest.raises(alert_policy.PolicyError) as err:
        alert_policy.parse({"rules": ["threshold"], "grain": "day", "trials": "yes"}, grains=metric.grains,
                           has_target=True, direction=metric.direction)
    assert err.value.field == "trials"


def test_only_complete_periods_are_judged():
    metric = _metric("parking_occupancy_pct", pending=1)
    hours = pd.date_range(LAST - timedelta(days=DAYS), LAST + timedelta(hours=1), freq="1h")
    vals = np.full(len(hours), 60.0)
    vals[-1] = 99.0                                  # 06:00-07:00 is still filling at 06:30
    frame = _frame({"101": vals}, hours=hours)
    found = _by(detect.evaluate(metric, _panel(metric, frame, end=LAST + timedelta(hours=1)), NOW), "101", "threshold")
    assert found is None or found["status"] != "firing"
    later = detect.evaluate(metric, _panel(metric, frame, end=LAST + timedelta(hours=1)), NOW + timedelta(hours=1))
    assert _by(later, "101", "threshold")["status"] == "firing"


# -- count anomalies ------------------------------------------------------------------------
def _requests(rng, small_tail=None, big_tail=None):
    hours = _hours()
    shape = 0.5 + np.clip(np.sin((hours.hour.to_numpy() - 6) / 12 * np.pi), 0, None)  # busier by day
    big = rng.poisson(4.0 * shape).astype(float)
    small = rng.poisson(0.08 * shape).astype(float)
    for series, tail in ((small, small_tail), (big, big_tail)):
        if tail is not None:
            series[len(series) - len(tail):] = tail
    values = {"big": big, "small": small, "city": big + small}
    return {k: np.where(v > 0, v, np.nan) for k, v in values.items()}   # no row for an hour with none


def test_three_reports_in_a_quiet_district_are_not_an_anomaly_but_a_burst_is():
    metric = _metric("sr_opened", rules=["anomaly"], min_n=5, sensitivity=4.5, pending=1)
    rng = np.random.default_rng(3)
    three = _requests(rng, small_tail=[0, 0, 3])
    found = _by(detect.evaluate(metric, _panel(metric, _frame(three, three)), NOW), "small", "anomaly")
    assert found is None or found["status"] != "firing"
    rng = np.random.default_rng(3)
    burst = _requests(rng, small_tail=[3, 4, 5])       # 12 requests in 3 h where 0.2 are usual
    found = _by(detect.evaluate(metric, _panel(metric, _frame(burst, burst)), NOW), "small", "anomaly")
    assert found["status"] == "firing" and found["n"] >= 5 and found["expected"] < 1


def test_a_surge_in_a_busy_district_is_an_anomaly_and_normal_hours_are_not():
    metric = _metric("sr_opened", rules=["anomaly"], min_n=5, sensitivity=4.5, pending=1)
    quiet = _requests(np.random.default_rng(5))
    found = _by(detect.evaluate(metric, _panel(metric, _frame(quiet, quiet)), NOW), "big", "anomaly")
    assert found is None or found["status"] != "firing"
    surge = _requests(np.random.default_rng(5), big_tail=[14, 16, 18])   # about 4x the usual
    found = _by(detect.evaluate(metric, _panel(metric, _frame(surge, surge)), NOW), "big", "anomaly")
    assert found["status"] == "firing" and "expected" in found["message"]


def test_noise_alone_raises_almost_no_count_anomalies():
    metric = _metric("sr_opened", rules=["anomaly"], min_n=5, sensitivity=4.5, pending=1)
    values = _requests(np.random.default_rng(11))
    p = _panel(metric, _frame(values, values))
    fired = 0
    for hour in range(48):  # two days of hourly runs on pure noise
        now = NOW - timedelta(hours=hour)
        fired += sum(d["status"] == "firing" for d in detect.evaluate(metric, p, now))
    assert fired <= 1


# -- continuous anomaly and forecast ------------------------------------------------------------
def test_forecast_warns_before_the_target_is_crossed():
    metric = _metric("parking_occupancy_pct", rules=["forecast"], horizon=3)
    rng = np.random.default_rng(1)
    vals = _occupancy(0, rng)
    vals[-4:] = [45, 58, 68, 76]                     # usually ~30-45 at this hour, rising fast
    found = _by(detect.evaluate(metric, _panel(metric, _frame({"101": vals})), NOW), "101", "forecast")
    assert found["status"] == "firing"
    assert "85.0 % in about" in found["message"]
    assert LAST < found["forecast_at"] <= LAST + timedelta(hours=4)
    usual = _occupancy(0, np.random.default_rng(1))
    found = _by(detect.evaluate(metric, _panel(metric, _frame({"101": usual})), NOW), "101", "forecast")
    assert found is None or found["status"] != "firing"


def test_a_jump_against_the_hourly_profile_is_an_anomaly_with_its_band():
    metric = _metric("parking_occupancy_pct", rules=["anomaly"], sensitivity=4.5)
    vals = _occupancy(0, np.random.default_rng(2))
    vals[-1] += 25
    found = _by(detect.evaluate(metric, _panel(metric, _frame({"101": vals})), NOW), "101", "anomaly")
    assert found["status"] == "firing" and found["lower"] < found["expected"] < found["upper"] < found["value"]


# -- no data --------------------------------------------------------------------------------
def test_a_silent_district_while_others_report_is_no_data():
    metric = _metric("parking_occupancy_pct", rules=["no_data"], no_data=2)
    rng = np.random.default_rng(4)
    a, b = _occupancy(0, rng), _occupancy(1, rng)
    b[-3:] = np.nan                                  # district 102 silent for 3 hours
    found = detect.evaluate(metric, _panel(metric, _frame({"101": a, "102": b})), NOW)
    assert _by(found, "102", "no_data")["status"] == "firing"
    assert _by(found, "101", "no_data")["status"] == "clear"


# -- one episode per trouble, across many runs -----------------------------------------------
def _wipe():
    with ops_store.connect() as con:
        for table in ("alert_events", "alert_transitions", "alert_episodes"):
            con.execute(f"DELETE FROM {table}")


def test_repeated_runs_make_one_episode_that_resolves_itself_after_hysteresis():
    _wipe()
    metric = _metric("parking_occupancy_pct", pending=1, hysteresis=2)
    hours = pd.date_range(LAST - timedelta(days=DAYS), LAST + timedelta(hours=4), freq="1h")
    vals = np.full(len(hours), 60.0)
    vals[-6:-3] = 92.0                               # 00:00-03:00 ... over target for three hours
    frame = _frame({"101": vals}, hours=hours)
    p = detect.panel(frame, "hour", hours[0], hours[-1] + timedelta(hours=1), count=False)
    with access.system():
        for hour in range(-3, 5):
            for refresh in range(5):                 # a publish every few minutes within the hour
                now = NOW + timedelta(hours=hour, minutes=5 * refresh)
                episodes.record(detect.evaluate(metric, p, now), now=now, version="t")
        frame = episodes.list_episodes(states=episodes.STATES)
    assert len(frame) == 1
    assert frame["state"].iloc[0] == "resolved"
    assert [e["kind"] for e in episodes.events()] == ["opened", "resolved"]


# -- the writer's step on the demo fixture ------------------------------------------------------
def test_publish_records_episodes_resting_on_enough_records(published):
    with access.system():
        frame = episodes.list_episodes(states=episodes.STATES, limit=5000)
    metrics = registry.metrics()
    assert (frame["rule"].isin(alert_policy.RULES)).all()
    resting = frame[frame["rule"] != "no_data"]
    assert all(int(row.n) >= detect.min_n(metrics[row.metric_id]) for row in resting.itertuples())
    assert frame.groupby(["metric_id", "district_id", "rule"]).size().max() <= 1 or frame.empty


# -- the registry validates policies ---------------------------------------------------------
@pytest.mark.parametrize("block, field", [
    ("alert:\n  rules: [threshold, sparkle]\n", "alert.rules"),
    ("alert:\n  rules: [anomaly]\n  pending: 0\n", "alert.pending"),
    ("alert:\n  rules: [anomaly]\n  pending: {anomaly: 2, bogus: 1}\n", "alert.pending"),
    ("alert:\n  rules: [anomaly]\n  grain: month\n", "alert.grain"),
    ("alert:\n  rules: [anomaly]\n  sensitivity: yes\n", "alert.sensitivity"),
    ("alert:\n  rules: [anomaly]\n  severity: panic\n", "alert.severity"),
    ("alert:\n  rules: [anomaly]\n  horizon: 3\n", "alert.horizon"),
    ("alert:\n  rules: [anomaly]\n  min_n: -1\n", "alert.min_n"),
    ("alert:\n  rules: [anomaly]\n  snooze: 3\n", "alert.snooze"),
    ("alert: [anomaly]\n", "alert"),
])
def test_an_invalid_alert_policy_stops_the_registry_naming_file_and_field(tmp_path, block, field):
    source = registry.METRICS_DIR / "sr_opened.sql"
    text = source.read_text(encoding="utf-8")
    text = text.replace("alert:\n", "old_alert_removed:\n", 1)
    # drop the shipped alert block, put the broken one in its place
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("old_alert_removed:"):
            skipping = True
            out.append(block)
            continue
        if skipping and line.startswith("  "):
            continue
        skipping = False
        out.append(line)
    (tmp_path / "sr_opened.sql").write_text("".join(out), encoding="utf-8")
    with pytest.raises(registry.RegistryError) as err:
        registry.load(tmp_path)
    assert "sr_opened.sql" in str(err.value) and f"'{field}'" in str(err.value)


def test_threshold_and_forecast_need_a_target(tmp_path):
    source = registry.METRICS_DIR / "sr_opened.sql"   # sr_opened has no target
    text = source.read_text(encoding="utf-8").replace("rules: [anomaly]", "rules: [anomaly, forecast]")
    (tmp_path / "sr_opened.sql").write_text(text, encoding="utf-8")
    with pytest.raises(registry.RegistryError, match=r"sr_opened.sql: field 'alert.rules'.*target"):
        registry.load(tmp_path)


def test_every_shipped_policy_is_valid_and_covers_the_capacity_metrics():
    metrics = registry.load()
    assert "forecast" in metrics["parking_occupancy_pct"].alert.rules
    assert "anomaly" in metrics["sr_opened"].alert.rules
    for metric in metrics.values():
        if metric.alert is not None:
            assert metric.alert.grain in metric.grains
