"""Explorer: URL state parsing, control limits, annotations, and every explorer callback and
export over HTTP, including bad input and district scoping."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest

from data import annotations, control_limits, explore, lookups, registry
from tests import dash_http
from tests.conftest import signed_in

# --- state ---------------------------------------------------------------------------------

def test_state_round_trips_through_its_query(published):
    state = explore.parse({"metric": "parking_occupancy_pct", "range": "30d", "grain": "week",
                           "districts": "301,302", "scale": "abs"})
    again = explore.parse(state.query())
    assert again == state and not state.notices
    assert state.domain == "parking" and state.districts == ("301", "302")


@pytest.mark.parametrize("params,fragment", [
    ({"metric": "nope"}, "Unknown metric"),
    ({"domain": "weather"}, "Unknown domain"),
    ({"range": "fortnight"}, "Unknown date range"),
    ({"range": "custom", "start": "2026-10-05", "end": "2026-10-01"}, "Invalid custom dates"),
    ({"start": "1999-01-01", "end": "2026-10-01"}, "Invalid custom dates"),
    ({"start": "2026-13-01", "end": "2026-10-01"}, "Invalid custom dates"),
    ({"grain": "fortnight"}, "not available by"),
    ({"metric": "missed_collections", "grain": "hour"}, "not available by hour"),
    ({"grain": "hour", "range": "90d"}, "Hourly values"),
    ({"districts": "301,999,../etc"}, "not recognised"),
    ({"scale": "per-bogus"}, "Unknown scale"),
    ({"metric": "parking_occupancy_pct", "scale": "per1k"}, "does not apply"),
])
def test_bad_parameters_fall_back_with_a_notice(published, params, fragment):
    state = explore.parse(params)
    assert any(fragment in n for n in state.notices), state.notices
    assert explore.parse(state.query()).notices == ()  # the fallback is itself valid


def test_garbage_of_every_type_never_raises(published):
    for value in (None, 5, ["a", "b"], {"x": 1}, "x" * 10_000, "' OR 1=1 --", "\x00"):
        state = explore.parse({k: value for k in ("domain", "metric", "range", "start", "end", "grain",
                                                   "districts", "scale")})
        assert state.metric.id in registry.metrics()


def test_domain_change_picks_a_metric_of_that_domain(published):
    state = explore.parse({"metric": "bike_trips", "domain": "waste"})
    assert state.metric.domain == "waste" and not state.notices


@pytest.mark.parametrize("preset,expected", [
    ("7d", (date(2026, 10, 26), date(2026, 11, 1))), ("mtd", (date(2026, 11, 1), date(2026, 11, 1))),
    ("month", (date(2026, 10, 1), date(2026, 10, 31))), ("quarter", (date(2026, 7, 1), date(2026, 9, 30))),
    ("qtd", (date(2026, 10, 1), date(2026, 11, 1))), ("year", (date(2025, 1, 1), date(2025, 12, 31))),
    ("ytd", (date(2026, 1, 1), date(2026, 11, 1))),
])
def test_presets_match_reporting_periods(preset, expected):
    assert explore.preset_range(preset, date(2026, 11, 1)) == expected


def test_presets_end_at_the_newest_data(published):
    state = explore.parse({"metric": "bike_trips", "range": "7d"})
    assert state.end == state.anchor.date() <= date(2026, 11, 1)


def test_click_toggles_a_district(published):
    state = explore.parse({"districts": "301"})
    assert explore.toggle_district(state, "302")["districts"] == "301,302"
    assert "districts" not in explore.toggle_district(state, "301")


def test_scales_only_where_they_make_sense():
    metrics = registry.metrics()
    assert explore.scales_for(metrics["bike_trips"]) == ["abs", "per1k", "perkm2"]
    assert explore.scales_for(metrics["parking_occupancy_pct"]) == ["abs"]


def test_district_table_ranks_and_scales(published):
    districts = lookups.districts()
    state = explore.parse({"metric": "bike_trips", "range": "30d"})
    table = explore.district_table(state, districts)
    assert table.iloc[0]["district_id"] == "city"
    body = table[table["district_id"] != "city"].dropna(subset=["value"])
    assert list(body["value"]) == sorted(body["value"], reverse=True)  # higher is better: best first
    per1k = explore.district_table(explore.parse({**state.query(), "scale": "per1k"}), districts)
    row, raw_row = per1k.set_index("district_id").loc["301"], table.set_index("district_id").loc["301"]
    pop = float(districts.set_index("district_id").loc["301", "population"])
    assert row["value"] == pytest.approx(raw_row["value"] / pop * 1000, abs=2e-3)


def test_ratio_metrics_are_weighted_over_the_range(published):
    state = explore.parse({"metric": "parking_occupancy_pct", "range": "30d"})
    table = explore.district_table(state, lookups.districts()).set_index("district_id")
    assert 0 <= table.loc["city", "value"] <= 100


# --- control limits ------------------------------------------------------------------------

def test_rule_1_fires_beyond_three_sigma():
    signal = control_limits.test([10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 30])
    assert signal.rule == "rule 1" and signal.direction == "up" and "Rule 1" in signal.explanation


def test_rule_2_fires_on_a_run_of_eight():
    values = [10, 8, 12, 9, 11, 10, 8, 12, 9, 11] + [10.8, 10.5, 11.2, 10.9, 10.6, 11.4, 10.7, 11.0]
    signal = control_limits.test(values)
    assert signal.rule == "rule 2" and signal.direction == "up" and "Rule 2" in signal.explanation


def test_a_signal_card_shows_the_side_of_the_range_apart_from_the_step():
    """A run above the centre line whose last step went down reads "-4% vs previous · ▲ above
    normal · rule 2", never "▲ -4%"."""
    import json

    from data import facts, registry
    from layouts import components

    values = [10, 8, 12, 9, 11, 10, 8, 12, 9, 11] + [10.8, 10.5, 11.2, 10.9, 10.6, 11.4, 11.2, 10.8]
    signal = control_limits.test(values)
    assert signal.rule == "rule 2" and signal.direction == "up"
    metric = registry.get("sr_opened")
    ref = facts.Reference(kind="previous", period=datetime.min, end=None, value=values[-2], n=metric.min_n,
                          label="vs previous")
    made = facts.make(metric, district="", grain="day", period=None, through=None, value=values[-1],
                      n=metric.min_n, reference=ref, data_time=None, now=datetime.now(), simulated=False)
    card = components.kpi_card(made, variant="signal", title="t", signal=signal)
    text = json.dumps(card.to_plotly_json(), default=lambda o: o.to_plotly_json(), ensure_ascii=False)
    assert "−4" in text or "-4" in text
    assert "above normal" in text and "rule 2" in text


def test_normal_variation_fires_nothing():
    signal = control_limits.test([10, 12, 9, 11, 10, 13, 8, 11, 10, 12, 9, 11])
    assert not signal.fired and "normal variation" in signal.explanation


def test_short_history_fires_nothing():
    assert not control_limits.test([1, 2, 100]).fired


# --- annotations ---------------------------------------------------------------------------

@pytest.mark.ops_store
def test_annotations_persist_and_validate(var_dir):
    new_id = annotations.add(created_by="tester", title="  Water  main\nbreak ", kind="outage",
                             starts_at="2026-10-20", ends_at="2026-10-21 06:00:00", district_id="301",
                             domain="transport", known_districts={"301"})
    found = annotations.between(datetime(2026, 10, 1), datetime(2026, 11, 1), domain="transport")
    row = found.set_index("incident_id").loc[f"note-{new_id}"]
    assert row["title"] == "Water main break" and row["district_id"] == "301"
    assert f"note-{new_id}" not in set(annotations.between(datetime(2026, 10, 1), datetime(2026, 11, 1),
                                                           domain="waste")["incident_id"])
    for bad in ({"title": ""}, {"title": "x" * 121}, {"kind": "party"}, {"starts_at": "yesterday"},
                {"ends_at": "2026-10-01"}, {"district_id": "999"}, {"domain": "weather"},
                {"ends_at": "2028-01-01"}):
        args = {"title": "ok", "kind": "note", "starts_at": "2026-10-20", "ends_at": "2026-10-21",
                "district_id": None, "domain": None, **bad}
        with pytest.raises(annotations.InvalidAnnotation):
            annotations.add(created_by="tester", known_districts={"301"}, **args)


# --- callbacks over HTTP -------------------------------------------------------------------

def _dep(client, fragment):
    return dash_http.find(dash_http.dependencies(client), fragment)


def _views(client, state):
    status, body, text = dash_http.call(client, _dep(client, "explore-kpis"), [state, 0])
    assert status == 200, text[:300]
    assert "Traceback" not in text
    return body["response"]


def test_views_fill_every_output(client):
    out = _views(client, {"metric": "bike_trips", "range": "30d", "districts": "301,302"})
    assert out["explore-map-values"]["data"]["figure"]["data"] and out["explore-ranking"]["figure"]["data"]
    names = [t.get("name", "") for t in out["explore-series"]["figure"]["data"]]
    assert "Whole city" in names and any("previous period" in n for n in names)
    rows = out["explore-table"]["rowData"]
    assert {r["district_id"] for r in rows} == {"city", "301", "302"}  # click-to-filter: the table follows
    assert str(out["explore-kpis"]["children"]).count("kpi-card kpi-card--") == 3


def test_series_draws_last_year_on_the_current_axis():
    import pandas as pd

    from layouts import figures

    metric = registry.metrics()["bike_trips"]
    now = pd.DataFrame({"district_id": "city", "period": pd.date_range("2026-10-01", periods=5), "value": 1.0})
    before = now.assign(period=now["period"] - pd.DateOffset(years=1), value=2.0)
    fig = figures.explore_series(now, metric, {"city": "Whole city"}, last_year=before,
                                 last_year_shift=pd.DateOffset(years=1))
    trace = [t for t in fig["data"] if "last year" in t["name"]][0]
    assert list(pd.to_datetime(trace["x"])) == list(now["period"]) and list(trace["y"]) == [2.0] * 5


def test_single_district_focus_draws_its_comparisons(client):
    out = _views(client, {"metric": "bike_trips", "range": "30d", "districts": "301"})
    names = [t.get("name", "") for t in out["explore-series"]["figure"]["data"]]
    assert any(n.endswith("previous period") and "CD 1" in n for n in names)


@pytest.mark.parametrize("state", [
    None, "nope", 5, [], {"metric": {"x": 1}}, {"metric": "nope", "range": "custom", "start": "x"},
    {"districts": ",".join(["999"] * 500)}, {"grain": "fortnight", "scale": "per1k", "domain": "x" * 500},
])
def test_views_bad_state_falls_back(client, state):
    out = _views(client, state)
    assert out["explore-series"]["figure"]["data"]


@pytest.mark.parametrize("metric", list(registry.metrics()))
def test_views_render_every_metric(client, metric):
    out = _views(client, {"metric": metric, "range": "30d"})
    assert out["explore-series"]["figure"]["data"], metric
    assert "Something went wrong" not in json.dumps(out)


def _sync(client, trigger_index, values, state):
    dep = _dep(client, "explore-url")
    inputs = [None] * len(dep["inputs"])
    for i, v in values.items():
        inputs[i] = v
    payload = {"output": dep["output"], "outputs": {"id": "explore-url", "property": "search"},
               "inputs": [{"id": d["id"], "property": d["property"], "value": v} for d, v in zip(dep["inputs"], inputs, strict=False)],
               "state": [{"id": dep["state"][0]["id"], "property": dep["state"][0]["property"], "value": state}],
               "changedPropIds": [f"{dep['inputs'][trigger_index]['id']}.{dep['inputs'][trigger_index]['property']}"]}
    response = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    return response.status_code, response.get_data(as_text=True)


def test_sync_url_writes_the_canonical_query(client):
    state = {"metric": "bike_trips", "range": "30d"}
    status, text = _sync(client, 6, {6: ["302", "301", "999"]}, state)  # districts
    assert status == 200 and "districts=302,301" in text
    status, text = _sync(client, 0, {0: "waste"}, state)  # domain → a waste metric
    assert "domain=waste" in text
    status, text = _sync(client, 8, {8: {"points": [{"location": "301"}]}}, state)  # map click
    assert "districts=301" in text
    status, text = _sync(client, 9, {9: {"points": [{"customdata": "301"}]}}, {**state, "districts": "301"})
    assert status == 200 and "districts" not in text.split('"search"')[-1]  # second click: deselect
    status, text = _sync(client, 2, {2: "custom"}, state)
    assert "range=custom" in text and "start=" in text


@pytest.mark.parametrize("index,value", [(1, "nope"), (4, "2026-99-01"), (5, "fortnight"), (7, "bogus"),
                                         (8, {"points": [{"location": "999"}]}), (8, "junk"), (6, "301")])
def test_sync_url_bad_input_never_fails(client, index, value):
    status, text = _sync(client, index, {index: value}, {"metric": "bike_trips"})
    assert status in (200, 204), text[:300]
    assert "Traceback" not in text


def test_explorer_layout_shows_notices_for_bad_url(client):
    status, text = dash_http.route(client, "/explore", "?metric=nope&range=banana&grain=x&districts=999")
    assert status == 200 and "Unknown metric" in text and "Unknown date range" in text


@pytest.mark.ops_store
def test_add_annotation_shows_on_the_series(client):
    dep = _dep(client, "explore-note-result")
    state = {"metric": "bike_trips", "range": "30d"}
    status, body, text = dash_http.call(client, dep, [1], ["Bridge closed", "event", "2026-10-20", "2026-10-22",
                                                           None, state, 0])
    assert status == 200 and "Annotation saved" in text, text[:300]
    out = _views(client, state)
    assert "Bridge closed" in json.dumps(out["explore-series"]["figure"]["layout"])
    status, body, text = dash_http.call(client, dep, [1], ["", "party", "x", None, "999", state, 0])
    assert status == 200 and "Not saved" in text


def test_annotation_needs_the_annotate_permission(dash_app, accounts):
    analyst = signed_in(dash_app, "test-analyst", accounts["test-analyst"])
    dep = _dep(analyst, "explore-note-result")
    status, _body, _text = dash_http.call(analyst, dep, [1], ["x", "note", "2026-10-20", "2026-10-20", None, {}, 0])
    assert status == 403


def test_anonymous_callers_get_nothing(anon_client):
    dep = dash_http.find(dash_http.dependencies(anon_client), "explore-kpis")
    status, _body, _text = dash_http.call(anon_client, dep, [{"metric": "bike_trips"}, 0])
    assert status == 401
    assert anon_client.get("/explore/export.csv").status_code in (302, 401)


def test_official_sees_only_their_district(dash_app, accounts):
    official = signed_in(dash_app, "test-official", accounts["test-official"])
    dep = dash_http.find(dash_http.dependencies(official), "explore-kpis")
    status, body, text = dash_http.call(official, dep, [{"metric": "bike_trips", "range": "30d"}, 0])
    assert status == 200
    rows = body["response"]["explore-table"]["rowData"]
    assert {r["district_id"] for r in rows} <= {"city", "101"}
    locations = [loc for t in body["response"]["explore-map-values"]["data"]["figure"]["data"][1:2] for loc in t.get("locations", [])]
    assert set(locations) <= {"101"}
    text = official.get("/explore/export.csv?metric=bike_trips&range=30d&districts=301").get_data(as_text=True)
    assert ",301," not in text and "Brooklyn" not in text


# --- exports -------------------------------------------------------------------------------

def test_csv_export_rows_equal_the_table(client):
    state = {"metric": "bike_trips", "range": "30d", "districts": "301,302", "scale": "per1k"}
    rows = _views(client, state)["explore-table"]["rowData"]
    response = client.get("/explore/export.csv?metric=bike_trips&range=30d&districts=301,302&scale=per1k")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    text = response.get_data(as_text=True)
    table_text = text.split("# series")[0]
    lines = [line for line in table_text.splitlines() if line and not line.startswith("#")]
    records = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [r["District id"] for r in records] == [r["district_id"] for r in rows]
    for record, row in zip(records, rows, strict=False):
        assert float(record["Value"]) == pytest.approx(row["value"])
    from data import publish
    assert f"# data version,{publish.read_pointer()['version']}" in text
    assert "# scale,\"Per 1,000 residents\"" in text and "# districts,\"301,302\"" in text


def test_csv_export_bad_query_falls_back_with_the_notice_in_the_file(client):
    response = client.get("/explore/export.csv?metric=../../etc&start=zzz&districts=' OR 1=1")
    assert response.status_code == 200
    assert "# notice,Unknown metric" in response.get_data(as_text=True)


def test_excel_export_has_the_table_and_the_filters(client):
    from openpyxl import load_workbook

    response = client.get("/explore/export.xlsx?metric=bike_trips&range=30d&districts=301")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    table = list(book["table"].iter_rows(values_only=True))
    assert table[0][1] == "District id" and {r[1] for r in table[1:]} == {"city", "301"}
    filters = dict(book["filters"].iter_rows(values_only=True))
    assert filters["data version"] and "Bike" in filters["metric"]


@pytest.fixture()
def no_data(monkeypatch):
    """Nothing published: every snapshot read raises DataUnavailable (the ops store, and so the
    signed-in session, stay as they are)."""
    import contextlib

    from data import repository, snapshot

    @contextlib.contextmanager
    def unavailable(db="ops"):
        raise snapshot.DataUnavailable("No data published yet.")
        yield  # pragma: no cover

    monkeypatch.setattr(snapshot, "cursor", unavailable)
    repository.clear_cache()
    yield
    repository.clear_cache()


def test_without_published_data_the_explorer_says_so(client, no_data):
    out_status, body, text = dash_http.call(client, _dep(client, "explore-kpis"), [{"metric": "bike_trips"}, 0])
    assert out_status == 200 and "Data unavailable" in text
    for path in ("/explore", "/district/301"):
        status, text = dash_http.route(client, path, "?metric=bike_trips&districts=301")
        assert status == 200 and "Traceback" not in text
    status, body, text = dash_http.call(client, dash_http.find(dash_http.dependencies(client), "district-kpis"), ["301"])
    assert status == 200 and "Data unavailable" in text
    assert client.get("/explore/export.csv").status_code == 503
    assert client.get("/explore/export.xlsx").status_code == 503


@pytest.mark.ops_store
def test_scoped_official_annotates_own_district_only_and_not_city_wide(dash_app, accounts):
    official = signed_in(dash_app, "test-official", accounts["test-official"])
    dep = _dep(official, "explore-note-result")
    for district, expected in (("102", "only your own districts"), (None, "city-wide annotation needs"),
                               ("101", "Annotation saved")):
        status, body, _text = dash_http.call(official, dep, [1], ["Street fair", "event", "2026-10-20", "2026-10-20",
                                                                  district, {"metric": "bike_trips"}, 0])
        assert status == 200 and expected in str(body), (district, body)


# --- issue 17: comparisons that never mislead; exports hold the series -------------------

def _traces_by_name(fig):
    return {t["name"]: t for t in fig["data"]}


def test_series_puts_districts_on_their_own_axis_next_to_the_city(client):
    views = _views(client, {"metric": "sr_opened", "range": "30d", "districts": "101"})
    fig = views["explore-series"]["figure"]
    traces = _traces_by_name(fig)
    city, district = traces["Whole city"], traces["Manhattan CD 1"]
    assert city.get("yaxis", "y") == "y" and district["yaxis"] == "y2"
    layout = fig["layout"]
    assert layout["yaxis"]["domain"][0] >= layout["yaxis2"]["domain"][1]  # two panels, not one axis
    # the district's own axis spans its own values, not the city's (no flat line at zero)
    assert max(v for v in fig_values(district) if v is not None) < max(v for v in fig_values(city) if v is not None)


def fig_values(trace):
    from bench import fuzz
    return fuzz.decoded(trace["y"]) if not isinstance(trace["y"], list) else trace["y"]


def test_city_alone_keeps_one_axis(client):
    fig = _views(client, {"metric": "sr_opened", "range": "30d"})["explore-series"]["figure"]
    assert "yaxis2" not in fig["layout"] and all("yaxis" not in t for t in fig["data"])


def test_map_colour_scale_spans_all_districts_not_the_two_chosen(dash_app, accounts):
    """An official of one district, two chosen: the colour scale is set over every district of
    the city (zmin/zmax), so neither of the two is drawn as 'worst' by construction."""
    from data import access, lookups
    from data import explore as explore_data
    from tests.conftest import signed_in

    official = signed_in(dash_app, "test-official", accounts["test-official"])
    state = {"metric": "sr_opened", "range": "30d", "districts": "101,102"}
    views = _views(official, state)
    trace = views["explore-map-values"]["data"]["figure"]["data"][1]
    with access.system():
        parsed = explore_data.parse(state, names=lookups.district_names(), available=lookups.available_metrics())
        table = explore_data.district_table(parsed, lookups.districts())
    every = table.loc[table["district_id"] != "city", "value"].dropna()
    assert len(every) > 10 and trace["zauto"] is False
    assert trace["zmin"] == pytest.approx(every.quantile(0.05)) and trace["zmax"] == pytest.approx(every.quantile(0.95))
    assert f"all {len(every)} districts" in trace["colorbar"]["title"]["text"]
    assert set(trace["locations"]) <= {"101"}  # the values shown stay the official's own


def test_exports_hold_the_series_on_screen_csv_and_excel(client):
    from openpyxl import load_workbook

    state = {"metric": "sr_opened", "range": "30d", "districts": "101,102", "grain": "day"}
    fig = _views(client, state)["explore-series"]["figure"]
    shown = {t["name"]: fig_values(t) for t in fig["data"] if "previous" not in t["name"] and "last year" not in t["name"]}
    query = "metric=sr_opened&range=30d&districts=101,102&grain=day"
    text = client.get("/explore/export.csv?" + query).get_data(as_text=True)
    assert "# series: " in text
    series = list(csv.DictReader(io.StringIO(text.split("# series")[1].split("\n", 1)[1])))
    for name, values in shown.items():
        exported = [float(r["Value"]) for r in series if r["Area"] == name]
        assert exported == pytest.approx([float(v) for v in values]), name
    book = load_workbook(io.BytesIO(client.get("/explore/export.xlsx?" + query).data))
    rows = list(book["series"].iter_rows(values_only=True))
    assert rows[0] == ("District id", "Area", "Period", "Value", "Records")
    assert len(rows) - 1 == len(series)
    filters = dict(book["filters"].iter_rows(values_only=True))
    assert filters["data version"] and filters["districts"] == "101,102"
