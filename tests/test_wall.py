"""The wall without a browser: URL configuration and profiles, rotation hold, small refresh
payloads (Patch / no_update), input validation of every wall callback, sparklines."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from data import lookups, registry
from tests import dash_http


@pytest.fixture(scope="module")
def wall(dash_app):
    from layouts.ops import wall as wall_layout

    return wall_layout


@pytest.fixture()
def refresh(client):
    dep = dash_http.find(dash_http.dependencies(client), "wall-tiles")

    def call(view, config, sig=None, screen=None, trigger=1):
        status, body, text = dash_http.call(client, dep, [trigger, view, screen or {"w": 1920, "h": 1080}],
                                            [config, sig or {}])
        assert status == 200, text[:300]
        assert "Traceback" not in text
        return body["response"], text

    return call


def test_defaults_without_parameters(wall):
    config, notices = wall.parse_config({})
    assert notices == []
    assert config["views"] == ["all"] and config["rotate"] == 0 and config["metrics"] == []


def test_the_issue_example_url(wall):
    config, notices = wall.parse_config({"view": "parking", "rotate": "30", "refresh": "15",
                                         "metrics": "parking_occupancy_pct,bike_trips"})
    assert notices == []
    assert config["refresh"] == 15 and config["rotate"] == 30
    assert config["metrics"] == ["parking_occupancy_pct", "bike_trips"]
    assert config["views"] == ["parking", "transport"]  # rotation starts at the chosen view


@pytest.mark.parametrize("params,expected", [
    ({"view": "banana"}, "unknown view"),
    ({"refresh": "-3"}, "bad refresh"),
    ({"refresh": "2"}, "bad refresh"),
    ({"refresh": "1"}, "bad refresh"),  # 1 s only for the soak benchmark (soak=1)
    ({"rotate": "abc"}, "bad rotate"),
    ({"rotate": "3"}, "bad rotate"),
    ({"metrics": "nope,bike_trips"}, "unknown metric"),
    ({"nightly": "25:00"}, "bad nightly"),
    ({"view": "parking", "rotate": "30", "metrics": "parking_occupancy_pct"}, "not rotating"),
])
def test_bad_parameters_fall_back_with_a_notice(wall, params, expected):
    config, notices = wall.parse_config(params)
    assert any(expected in n for n in notices), notices
    assert 5 <= config["refresh"] <= 3600
    assert config["views"] and all(v in wall.VIEWS for v in config["views"])


def test_several_views_rotate_by_default(wall):
    config, _ = wall.parse_config({"view": "waste,parking"})
    assert config["views"] == ["waste", "parking"] and config["rotate"] == 30


def test_every_named_profile_is_valid(wall):
    profiles = wall.load_profiles()
    assert "parking-desk" in profiles
    for name in profiles:
        config, notices = wall.parse_config({}, profile=name)
        assert notices == [], name
        assert config["profile"] == name


def test_unknown_profile_shows_the_default_wall(wall):
    config, notices = wall.parse_config({}, profile="../../etc/passwd")
    assert config["views"] == ["all"] and "unknown profile" in notices[0]


def test_url_values_override_a_profile(wall):
    config, _ = wall.parse_config({"refresh": "60"}, profile="parking-desk")
    assert config["refresh"] == 60 and config["views"] == ["parking"] and len(config["metrics"]) == 4


def test_a_broken_profiles_file_gives_no_profiles(wall, tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("{unclosed: [")
    assert wall.load_profiles(bad) == {}


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["view", "rotate", "refresh", "metrics", "nightly", "soak"]),
                       st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(st.text(max_size=8)))),
       st.one_of(st.none(), st.text(max_size=20)))
def test_any_parameters_give_a_valid_config(wall, params, profile):
    config, notices = wall.parse_config(params, profile)
    assert all(v in wall.VIEWS for v in config["views"]) and config["views"]
    assert config["rotate"] == 0 or 10 <= config["rotate"] <= 3600
    assert 1 <= config["refresh"] <= 3600
    assert all(registry.get(m) for m in config["metrics"])
    assert all(len(n) < 120 for n in notices)


def test_profile_page_and_bad_parameters_render(client):
    for path, search, text in [("/wall/parking-desk", "", "Parking desk"),
                               ("/wall/nope", "?view=x&rotate=y", "unknown profile"),
                               ("/wall", "?metrics=a,b,c&nightly=99", "unknown metric")]:
        status, body = dash_http.route(client, path, search)
        assert status == 200 and "Traceback" not in body
        assert text in body
    assert client.get("/wall/parking-desk").status_code == 200


def test_first_refresh_fills_everything_then_only_changes_are_sent(wall, refresh):
    config, _ = wall.parse_config({})
    first, text = refresh("all", config)
    available = {m.id for m in lookups.available_metrics()}  # a metric without a source is hidden
    shown = [m for m in wall.view_metrics("all", config) if m.id in available]
    assert 0 < len(shown) < len(wall.view_metrics("all", config))  # the demo has no citywide-only operator
    assert str(first["wall-tiles"]["children"]).count("kpi-card kpi-card--") == len(shown)
    assert first["wall-map"]["figure"]["data"]
    assert "kpi-spark" in str(first) and "data:image/svg+xml" in str(first)
    sig = first["wall-sig"]["data"]
    again, text = refresh("all", config, sig)
    assert "wall-tiles" not in again and "wall-map" not in again and "wall-alerts" not in again
    assert len(text.encode()) < 2_000  # nothing changed: signatures and the build only
    # one tile changed (its signature differs): a Patch for that tile alone
    sig["tiles"][2] = "0000000000"
    patched, text = refresh("all", config, sig)
    update = patched["wall-tiles"]["children"]
    assert update["__dash_patch_update"] == "__dash_patch_update"
    assert [op["location"] for op in update["operations"]] == [[2]]
    assert len(text.encode()) < 10_000


def _episode(metric_id, district_id, severity="critical", rule="threshold"):
    """An alert episode as the detector records one (the wall reads episodes, nothing else)."""
    from datetime import datetime

    from data import episodes

    metric = registry.get(metric_id)
    changes = episodes.record([{"metric_id": metric_id, "district_id": district_id, "rule": rule,
                                "status": "firing", "severity": severity, "grain": "day",
                                "period": "2026-11-01 00:00:00", "first_period": "2026-10-31 00:00:00",
                                "value": 99.0, "n": 400, "target": metric.target,
                                "message": f"{metric.label}: 99 on 400 records"}], now=datetime.now(), version="t")
    return changes[0]["episode_id"]


def _resolve(*episode_ids):
    from data import episodes

    for episode_id in episode_ids:
        if episodes.get(episode_id)["state"] != "resolved":
            episodes.resolve(episode_id, "system", "test over")


def test_rotation_holds_only_on_an_open_critical_episode_and_says_why(wall, refresh):
    """Old behaviour (wrong, issue 12): the wall held on any latest value off target, however
    few records it rested on. Now only an open critical episode from the episode store holds,
    and for at most `hold` seconds (the client enforces the limit; the config carries it)."""
    from data import episodes

    config, _ = wall.parse_config({"view": ",".join(registry.DOMAINS), "rotate": "30", "hold": "120"})
    assert config["hold"] == 120
    free, _ = refresh("parking", config)
    assert free["wall-hold"]["data"]["reason"] == ""  # off-target values alone hold nothing
    warning = _episode("parking_occupancy_pct", "102", severity="warning")
    held, _ = refresh("parking", config)
    assert held["wall-hold"]["data"]["reason"] == ""  # a warning does not hold
    critical = _episode("parking_occupancy_pct", "101")
    try:
        held, text = refresh("parking", config)
        reason = held["wall-hold"]["data"]["reason"]
        assert reason.startswith("✖ Holding on Parking (up to 2 min)") and "Parking occupancy" in reason
        assert "open critical alert" in held["wall-hold-text"]["children"]
        other, _ = refresh("waste", config)
        assert other["wall-hold"]["data"]["reason"] == ""  # another view's alert does not hold this one
        # without rotation, or with hold=0, there is nothing to hold
        still, _ = refresh("parking", wall.parse_config({"view": "parking"})[0])
        assert still["wall-hold"]["data"]["reason"] == ""
        never, _ = refresh("parking", wall.parse_config({"view": "parking,waste", "rotate": "30", "hold": "0"})[0])
        assert never["wall-hold"]["data"]["reason"] == ""
        # once someone acknowledges it, the wall moves on
        episodes.acknowledge(critical, "test-admin")
        taken, _ = refresh("parking", config)
        assert taken["wall-hold"]["data"]["reason"] == ""
    finally:
        _resolve(warning, critical)


def test_the_ticker_lists_open_alerts_first_and_dims_acknowledged_ones_with_who_took_them(wall, refresh):
    from data import episodes

    config, _ = wall.parse_config({"view": "parking"})
    first = _episode("parking_occupancy_pct", "103")
    second = _episode("parking_citations", "104", severity="warning")
    try:
        episodes.acknowledge(first, "maria")
        response, text = refresh("parking", config)
        items = response["wall-alerts"]["children"]
        order = [item["props"]["data-episode"] for item in items]
        assert order.index(str(second)) < order.index(str(first))  # open before acknowledged
        taken = items[order.index(str(first))]
        assert "alert-item--acknowledged" in taken["props"]["className"]
        assert "✓ maria" in json.dumps(taken, ensure_ascii=False)
        assert "alert-item--open" in items[order.index(str(second))]["props"]["className"]
    finally:
        _resolve(first, second)
    response, _ = refresh("parking", config)
    left = response.get("wall-alerts", {}).get("children", [])
    assert str(first) not in [i.get("props", {}).get("data-episode") for i in left]  # resolved: off the wall


def test_hold_parameter_is_validated(wall):
    assert wall.parse_config({})[0]["hold"] == 300
    config, notices = wall.parse_config({"hold": "5"})
    assert config["hold"] == 300 and "bad hold" in notices[0]
    assert wall.parse_config({"hold": "0"})[0]["hold"] == 0
    assert wall.valid_config({"hold": 10 ** 9})["hold"] == 300


@pytest.mark.parametrize("view,config,sig,screen", [
    ("nope", {"views": ["banana"], "rotate": "x", "refresh": -1, "metrics": "all"}, {"tiles": "x"}, {"w": "a"}),
    (None, None, None, None),
    (["all"], {"views": [1, None, {"a": 1}], "metrics": [1] * 1000, "refresh": 10 ** 12}, {"tiles": ["a" * 10_000]}, []),
    ("' OR 1=1 --", {"views": ["all"], "profile": "../../x"}, {"map": 5, "view": {"x": 1}}, {"w": 1e308, "h": -5}),
    ("parking", {"views": ["parking"], "refresh": True, "rotate": True}, [], {"w": True, "h": True}),
])
def test_bad_input_to_the_refresh_callback_falls_back(wall, refresh, view, config, sig, screen):
    response, text = refresh(view, config, sig, screen)
    assert "kpi-card" in text
    assert response["wall-meta"]["data"]["build"] == wall.BUILD


def test_sparkline_svg():
    from layouts import figures

    assert figures.sparkline_svg([1.0]) == "" and figures.sparkline_svg([None, float("nan")]) == ""
    uri = figures.sparkline_svg([1, 3, 2, None, 5], colour="#8be28b")
    assert uri.startswith("data:image/svg+xml,") and "#" not in uri and len(uri) < 1_000


def test_change_vs_last_week_compares_a_running_total_with_the_same_hours():
    """(Was a test of the wall's own change text; the wall now takes its change from
    data.facts like every page.) A running day is compared with the same weekday last week up
    to the same time, a complete day with that whole day."""
    from datetime import datetime

    from data import facts

    metric = registry.get("bike_trips")
    running = facts.reference_window(metric, "day", datetime(2026, 11, 1, 6, 0))
    assert running.kind == "same_elapsed" and running.ref_period == datetime(2026, 10, 25)
    assert datetime(2026, 10, 25, 6, 0) < running.ref_end <= datetime(2026, 10, 25, 6, 0, 1)
    assert facts.reference_label("day", running.kind, running.ref_period, running.ref_end) == "vs Sun 25 Oct, to 06:00"
    whole = facts.reference_window(metric, "day", datetime(2026, 11, 2))
    assert (whole.kind, whole.period, whole.ref_period, whole.ref_end) == (
        "whole", datetime(2026, 11, 1), datetime(2026, 10, 25), datetime(2026, 10, 26))
    ref = facts.Reference("same_elapsed", running.ref_period, running.ref_end, 100.0, 100, "vs Sun 25 Oct, to 06:00")
    assert facts.make(metric, district="city", grain="day", period=running.period, through=running.through,
                      value=150.0, n=150, reference=ref, data_time=None,
                      now=datetime(2026, 11, 1, 6)).change_text == "▲ 50% vs Sun 25 Oct, to 06:00"


def test_screens_scale_the_map(wall, refresh):
    from callbacks.ops import wall as wall_callbacks

    assert wall_callbacks.screen_scale({"w": 3840, "h": 2160}) == 2.0
    assert wall_callbacks.screen_scale({"w": 1366, "h": 768}) == pytest.approx(0.71, abs=0.01)
    assert wall_callbacks.screen_scale("x") == 1.0
    config, _ = wall.parse_config({"view": "parking"})
    small, _ = refresh("parking", config, screen={"w": 1920, "h": 1080})
    big, _ = refresh("parking", config, screen={"w": 3840, "h": 2160})
    zoom = lambda r: r["wall-map"]["figure"]["layout"]["map"]["zoom"]
    assert zoom(big) == pytest.approx(zoom(small) + 1)
    assert json.dumps(big).count("kpi-card") == json.dumps(small).count("kpi-card")


@pytest.mark.ops_store
def test_heartbeat_lists_screens_and_flags_silent_ones(wall, refresh, client):
    from datetime import datetime, timedelta

    from data import wall_screens

    config, _ = wall.parse_config({"view": "parking", "screen": "lobby-left"})
    assert config["screen"] == "lobby-left"
    refresh("parking", config, screen={"w": 3840, "h": 2160, "id": "lobby-left"})
    refresh("parking", config, screen={"w": 3840, "h": 2160, "id": "../../bad id"})  # ignored
    listed = {s["screen_id"]: s for s in wall_screens.screens()}
    assert "lobby-left" in listed and "../../bad id" not in listed
    screen = listed["lobby-left"]
    assert (screen["view"], screen["width"], screen["height"]) == ("parking", 3840, 2160)
    assert not screen["silent"]
    later = datetime.now() + timedelta(minutes=10)
    assert {s["screen_id"]: s for s in wall_screens.screens(now=later)}["lobby-left"]["silent"]
    deps = dash_http.dependencies(client)
    status, body, _ = dash_http.call(client, dash_http.find(deps, "wall-screens-table"), [1])
    assert status == 200 and "lobby-left" in str(body) and "3840×2160" in str(body)
    status, text = dash_http.route(client, "/wall-screens")
    assert status == 200 and "Wall screens" in text


def test_wall_numbers_fit_a_tile():
    from layouts import components

    tonnes = registry.get("waste_tonnage_total")
    assert components._wall_number(tonnes, 3080.2) == "3,080"  # was "3,080.2", wider than a 1080p tile
    assert components._wall_number(tonnes, 14455) == "14.5k"
    assert components._wall_number(registry.get("recycling_diversion_pct"), 21.04) == "21.0"
