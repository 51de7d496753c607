"""The wall without a browser: URL configuration and profiles, rotation hold, small refresh
payloads (Patch / no_update), input validation of every wall callback, sparklines."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

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


def test_a_rotating_view_with_a_critical_alert_holds_and_says_why(wall, refresh):
    from callbacks.ops.alerts import current_alerts

    alerts = current_alerts()
    critical = {registry.get(m).domain for m in alerts[alerts["severity"] == "critical"]["metric_id"]}
    calm = [d for d in registry.DOMAINS if d not in critical]
    assert critical and calm, "the fixture city has both"
    config, _ = wall.parse_config({"view": ",".join(registry.DOMAINS), "rotate": "30"})
    held, _ = refresh(sorted(critical)[0], config)
    assert held["wall-hold"]["data"]["reason"].startswith("✖ Holding on")
    assert "critical alert" in held["wall-hold-text"]["children"]
    free, _ = refresh(calm[0], config)
    assert free["wall-hold"]["data"]["reason"] == ""
    # without rotation there is nothing to hold
    still, _ = refresh(sorted(critical)[0], wall.parse_config({"view": sorted(critical)[0]})[0])
    assert still["wall-hold"]["data"]["reason"] == ""


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
    zoom = lambda r: r["wall-map"]["figure"]["layout"]["map"]["zoom"]  # noqa: E731
    assert zoom(big) == pytest.approx(zoom(small) + 1)
    assert json.dumps(big).count("kpi-card") == json.dumps(small).count("kpi-card")


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
