"""Issue 17, the district official's side: landing on their district, the rank among ALL
districts with its facts, the trend on the district's own axis, the series and records exports
that follow the page, and annotations that can be edited, deleted, audited and (after an
admin's review) shown on the public trend."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime

import pandas as pd
import pytest

from data import access, annotations, facts, lookups, registry, repository
from data import district_profile as page
from tests import dash_http
from tests.conftest import ADMIN, FIXTURE_END, signed_in

OFFICIAL = ("test-official", "official-password-1")  # district 101 only


def _call(client, fragment, inputs, state=None, changed=None):
    dep = dash_http.find(dash_http.dependencies(client), fragment)
    if changed is None:
        return dash_http.call(client, dep, inputs, state)
    payload = {"output": dep["output"], "outputs": dash_http.outputs_field(dep),
               "inputs": [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], inputs, strict=False)],
               "state": [{"id": s["id"], "property": s["property"], "value": v}
                         for s, v in zip(dep.get("state", []), state or [], strict=False)],
               "changedPropIds": [changed]}
    response = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    return response.status_code, response.get_json(silent=True), response.get_data(as_text=True)


# --- landing -----------------------------------------------------------------------------

def test_an_official_lands_on_their_district_and_my_district_goes_there(dash_app, accounts):
    from tests.live import _login_csrf

    client = dash_app.server.test_client()
    response = client.post("/login", data={"username": OFFICIAL[0], "password": OFFICIAL[1],
                                           "csrf_token": _login_csrf(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/district/101")
    shell = json.dumps(client.get("/_dash-layout").get_json())
    assert '"children": "My district", "id": "shell-my-district", "href": "/district/101"' in shell
    # an explicit next= is still honoured
    other = dash_app.server.test_client()
    response = other.post("/login", data={"username": OFFICIAL[0], "password": OFFICIAL[1], "next": "/alerts",
                                          "csrf_token": _login_csrf(other)})
    assert response.headers["Location"].endswith("/alerts")


def test_admin_my_district_opens_the_chooser_of_every_district(dash_app, accounts):
    admin = signed_in(dash_app, *ADMIN)
    shell = json.dumps(admin.get("/_dash-layout").get_json())
    assert '"children": "My district", "id": "shell-my-district", "href": "/district"' in shell
    status, text = dash_http.route(admin, "/district")
    text = json.dumps(json.loads(text))
    districts = lookups.districts()
    assert status == 200 and "every district" in text
    assert all(f"/district/{d}" in text for d in districts["district_id"] if d != "city")
    official = signed_in(dash_app, *OFFICIAL)
    status, text = dash_http.route(official, "/district")
    text = json.dumps(json.loads(text))
    assert "/district/101" in text and "/district/102" not in text


def test_my_district_path_rules():
    assert page.my_district_path(access.Principal("user", "a", "official", frozenset({"205"}))) == "/district/205"
    assert page.my_district_path(access.Principal("user", "a", "official", frozenset({"1", "2"}))) == "/district"
    assert page.my_district_path(access.Principal("user", "a", "admin", access.ALL)) == "/district"


# --- rank among all districts --------------------------------------------------------------

def _cards(client, district):
    status, body, text = _call(client, "district-kpis", [district])
    assert status == 200 and "Traceback" not in text
    return body["response"]["district-kpis"]["children"], text


def test_every_card_ranks_the_district_among_all_districts_or_says_why_not(dash_app, accounts):
    official = signed_in(dash_app, *OFFICIAL)
    cards, text = _cards(official, "101")
    every = len(lookups.districts().query("district_id != 'city' and not is_joint_area"))
    assert text.count("Among all districts") == len(lookups.available_metrics())
    assert f"highest of {every} districts" in text  # all of them, though the official sees one
    assert text.count("highest of") + text.count("no rank: ") == len(lookups.available_metrics())
    assert "Where we sit" in text and "10th" in text


def test_the_rank_is_the_rank_an_outsider_computes_from_every_district(dash_app, accounts):
    """Recompute the rank of 101 from every district's row, for each daily count the card ranks."""
    official = signed_in(dash_app, *OFFICIAL)
    _cards_, text = _cards(official, "101")
    cards = {c["props"].get("data-metric"): json.dumps(c) for c in json.loads(text)["response"]["district-kpis"]["children"]}
    names = lookups.districts().query("district_id != 'city' and not is_joint_area")["district_id"].tolist()
    times = lookups.table_times()
    checked = 0
    for metric_id in ("sr_opened", "bike_trips", "missed_collections", "parking_citations"):
        metric = registry.get(metric_id)
        if metric_id not in cards or "highest of" not in cards[metric_id]:
            continue
        newest = times[metric.table][0]
        end = datetime.combine(newest.date(), datetime.min.time())
        period = facts.last_complete_period("day", min(end, newest))
        rows = repository.run("ops/metric_series", metric=metric_id, grain="day", districts=names,
                              start=period, end=facts.period_end(period, "day"))
        values = rows.set_index("district_id")["value"].reindex(names).fillna(0.0)
        expected = int((values > values["101"]).sum()) + 1
        ties = int((values == values["101"]).sum())
        joint = f"joint {page.ordinal(expected)}" if ties > 1 else page.ordinal(expected)
        assert f"{joint} highest of {len(names)} districts" in cards[metric_id], (metric_id, ties)
        if ties > 1:
            assert f"with {ties - 1:,} other" in cards[metric_id], metric_id
        checked += 1
    assert checked >= 2


def test_no_rank_when_the_facts_do_not_support_it():
    metric = registry.get("sr_opened")
    base = dict(metric=metric, district="101", grain="day", data_time=None, now=datetime(2026, 11, 1), reference=None)
    row = {"value_rank": 3, "ranked": 59, "districts": 59}
    metric = registry.get("bins_over_90_pct")  # min_n 20
    base["metric"] = metric
    few = facts.make(period=datetime(2026, 10, 30), through=datetime(2026, 10, 31), value=2, n=2, **base)
    assert page.rank_text(metric, few, row) == (None, f"no rank: too few records (n=2 < {metric.min_n})")
    partial = facts.make(period=datetime(2026, 10, 31), through=datetime(2026, 10, 31, 6), value=50, n=500, **base)
    assert page.rank_text(metric, partial, row)[1] == "no rank: the period is still running"
    none = facts.make(period=None, through=None, value=None, n=0, **base)
    assert page.rank_text(metric, none, row)[0] is None
    ok = facts.make(period=datetime(2026, 10, 30), through=datetime(2026, 10, 31), value=50, n=500, **base)
    assert page.rank_text(metric, ok, row)[0].startswith("3rd highest of 59 districts · n = 500")
    assert page.rank_text(metric, ok, {**row, "value_rank": None})[0] is None
    assert page.rank_text(metric, ok, {**row, "ranked": 40})[0].startswith("3rd highest of 40 districts with a value (59")
    # a shared value is a shared place: never "3rd highest" for one of 31 districts at 0
    assert page.rank_text(metric, ok, {**row, "value_ties": 31})[0].startswith(
        "joint 3rd highest of 59 districts, with 30 others · n = 500")
    assert page.rank_text(metric, ok, {**row, "value_ties": 2})[0].startswith("joint 3rd highest of 59 districts, with 1 other ·")
    assert page.rank_text(metric, ok, {**row, "value_ties": 1})[0].startswith("3rd highest of 59 districts · n")
    # the rank among a borough's districts (for callers who may not see every peer) says it too
    assert page.place({"value_rank": 2, "value_ties": 3}) == "joint 2nd highest, with 2 others"
    assert page.place({"value_rank": 2, "value_ties": 1}) == "2nd highest"


# --- trend and exports -------------------------------------------------------------------

def test_trend_is_on_the_districts_own_axis_with_the_strike_listed(client):
    status, body, text = _call(client, "district-trend", ["101", "missed_collections"])
    assert status == 200, text[:300]
    out = body["response"]
    fig = out["district-trend"]["figure"]
    city, district = fig["data"]
    assert city["yaxis"] == "y" and district["yaxis"] == "y2" and "yaxis2" in fig["layout"]
    assert max(v for v in district["y"] if v is not None) > 0
    assert "strike" in json.dumps(out["district-events"]).lower()
    assert "series.csv?metric=missed_collections" in json.dumps(out["district-series-export"])


def test_series_export_holds_the_chart_with_filters_and_version(client, dash_app, accounts):
    from openpyxl import load_workbook

    status, body, _ = _call(client, "district-trend", ["101", "sr_opened"])
    fig = body["response"]["district-trend"]["figure"]
    text = client.get("/district/101/series.csv?metric=sr_opened&grain=day").get_data(as_text=True)
    assert '# metric,"sr_opened (' in text and "# data version," in text and "# district,101 " in text
    rows = list(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("#")))))
    for trace, area in zip(fig["data"], ("city", "101"), strict=False):
        assert [float(r["Value"]) for r in rows if r["District id"] == area] == pytest.approx(trace["y"])
    book = load_workbook(io.BytesIO(client.get("/district/101/series.xlsx?metric=sr_opened").data))
    assert len(list(book["series"].iter_rows())) - 1 == len(rows)
    assert dict(book["filters"].iter_rows(values_only=True))["data version"]
    official = signed_in(dash_app, *OFFICIAL)
    assert official.get("/district/102/series.csv?metric=sr_opened").status_code == 403
    assert official.get("/district/101/series.csv?metric=../../x").status_code == 400
    assert dash_app.server.test_client().get("/district/101/series.csv?metric=sr_opened").status_code == 302


def test_records_download_follows_the_category_filter_and_flags_overdue(client):
    status, body, _ = _call(client, "district-records-grid", ["101", None])
    category = body["response"]["district-records-category"]["options"][0]["value"]
    status, body, _ = _call(client, "district-records-grid", ["101", category])
    link = json.dumps(body["response"]["district-records"]["children"])
    assert "requests.csv?category=" in link
    rows = body["response"]["district-records-grid"]["rowData"]
    assert rows and {r["overdue"] for r in rows} <= {"yes", "no", None}
    from urllib.parse import urlencode
    text = client.get("/district/101/requests.csv?" + urlencode({"category": category})).get_data(as_text=True)
    records = list(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("#")))))
    assert records and {r["category"] for r in records} == {category}
    assert f"# category,{category}" in text and "overdue" in records[0]
    # overdue means: closed after due, or still open past due at the data's time
    for r in records:
        if r["due_at"] and r["closed_at"]:
            assert (r["overdue"] == "yes") == (r["closed_at"] > r["due_at"])
    assert client.get("/district/101/requests.csv?category=%3DHYPERLINK(1)").status_code == 400


# --- annotations ---------------------------------------------------------------------------

KNOWN = frozenset({"101", "102", "301"})


def test_edit_and_delete_by_author_or_admin_with_an_audit_trail():
    author = access.Principal("user", "ann-author", "official", frozenset({"101"}))
    other = access.Principal("user", "ann-other", "official", frozenset({"101"}))
    admin = access.Principal("user", "ann-admin", "admin", access.ALL)
    note = annotations.add(created_by=author.name, title="Road works", kind="event", starts_at="2026-10-01",
                           ends_at="2026-10-02", district_id="101", known_districts=KNOWN, scope=author.districts)
    with pytest.raises(annotations.InvalidAnnotation):
        annotations.update(note, principal=other, title="mine now", kind="event", starts_at="2026-10-01",
                           ends_at="2026-10-02", district_id="101", known_districts=KNOWN)
    with pytest.raises(annotations.InvalidAnnotation):  # the author may not move it out of their scope
        annotations.update(note, principal=author, title="x", kind="event", starts_at="2026-10-01",
                           ends_at="2026-10-02", district_id="102", known_districts=KNOWN)
    annotations.update(note, principal=author, title="Road works on 5th", kind="event", starts_at="2026-10-01",
                       ends_at="2026-10-03", district_id="101", known_districts=KNOWN)
    assert annotations.get(note)["title"] == "Road works on 5th"
    with pytest.raises(annotations.InvalidAnnotation):
        annotations.delete(note, principal=other)
    annotations.delete(note, principal=admin)
    trail = annotations.history(note)
    assert list(trail["action"]) == ["add", "edit", "delete"] and list(trail["actor"]) == [
        "ann-author", "ann-author", "ann-admin"]
    assert json.loads(trail["before"].iloc[1])["title"] == "Road works"
    assert json.loads(trail["after"].iloc[1])["title"] == "Road works on 5th"
    shown = annotations.between(datetime(2026, 9, 1), datetime(2026, 11, 1))
    assert f"note-{note}" not in set(shown["incident_id"])  # gone from every chart


def test_public_flag_needs_an_admins_review_and_an_edit_asks_again():
    author = access.Principal("user", "pub-author", "official", frozenset({"101"}))
    admin = access.Principal("user", "pub-admin", "admin", access.ALL)
    note = annotations.add(created_by=author.name, title="Depot fire", kind="outage", starts_at="2026-10-05",
                           ends_at="2026-10-06", district_id="101", known_districts=KNOWN, scope=author.districts,
                           public=True)
    assert annotations.get(note)["review"] == "pending"
    with pytest.raises(annotations.InvalidAnnotation):
        annotations.review(note, principal=author, approve=True)
    annotations.review(note, principal=admin, approve=True)
    assert "Depot fire" in set(annotations.public_approved()["title"])
    annotations.update(note, principal=author, title="Depot fire (all bins)", kind="outage", starts_at="2026-10-05",
                       ends_at="2026-10-06", district_id="101", known_districts=KNOWN, public=True)
    assert annotations.get(note)["review"] == "pending"
    assert "Depot fire (all bins)" not in set(annotations.public_approved()["title"])
    assert "created_by" not in annotations.public_approved().columns


def test_an_old_ops_store_gets_the_new_columns_and_keeps_its_rows(tmp_path):
    from data import ops_store
    from tests.live import var_dir_of

    old = sqlite3.connect(tmp_path / ops_store.FILE)
    old.execute("""CREATE TABLE annotations (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
        created_by TEXT NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, district_id TEXT, domain TEXT,
        kind TEXT NOT NULL, title TEXT NOT NULL)""")
    old.execute("INSERT INTO annotations (created_at, created_by, starts_at, ends_at, kind, title) VALUES "
                "('2026-01-01', 'x', '2026-01-01', '2026-01-02', 'note', 'kept')")
    old.commit()
    old.close()
    with var_dir_of(tmp_path):
        note = annotations.get(1)
        assert note["title"] == "kept" and note["review"] == "none" and note["public"] == 0
        assert not annotations.history(1).shape[0]


def test_pickers_list_only_the_districts_the_official_may_annotate(dash_app, accounts):
    official = signed_in(dash_app, *OFFICIAL)
    for path in ("/annotations", "/explore"):
        status, text = dash_http.route(official, path)
        assert status == 200
        body = json.loads(text)
        picker = "notes-district" if path == "/annotations" else "explore-note-district"
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("props", {}).get("id") == picker:  # noqa: B023 - the closure is called within the same iteration
                    found.append(node["props"]["options"])  # noqa: B023 - the closure is called within the same iteration
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(body)
        assert found and [o["value"] for o in found[0]] == ["101"], path


NOTE_STATE = ["2026-10-20", "2026-10-24", "101", "waste", True, 0]


def _act(client, button, selected, title, district="101"):
    state = [selected, title, "strike", "2026-10-20", "2026-10-24", district, "waste", True, 0]
    return _call(client, "notes-result", [1, None, None, None], state, changed=f"{button}.n_clicks")


def test_annotation_actions_over_http_author_admin_and_scope(dash_app, accounts):
    official = signed_in(dash_app, *OFFICIAL)
    admin = signed_in(dash_app, *ADMIN)
    status, body, text = _act(official, "notes-save", None, "Bin lorries on strike")
    assert status == 200 and "saved" in text and "review" in text
    note = int(text.split("Annotation #")[1].split(" ")[0])
    status, body, text = _act(official, "notes-save", None, "Not mine", district="102")
    assert "Not done: you may annotate only your own districts" in text
    status, body, text = _act(official, "notes-approve", note, "x")
    assert "Not done: only an administrator reviews" in text
    status, body, text = _act(admin, "notes-approve", note, "x")
    assert "approved" in text
    status, body, text = _act(official, "notes-save", note, "Bin lorries on strike (edited)")
    assert "changed" in text and annotations.get(note)["title"] == "Bin lorries on strike (edited)"
    other = signed_in(dash_app, *ADMIN)  # rows list: the official sees their note
    status, body, _ = _call(official, "notes-grid.rowData", [1])
    assert note in {r["id"] for r in body["response"]["notes-grid"]["rowData"]}
    analyst = signed_in(dash_app, "test-analyst", "analyst-password-1")
    assert _act(analyst, "notes-delete", note, "x")[0] == 403
    status, body, text = _act(official, "notes-delete", note, "x")
    assert "deleted" in text and annotations.get(note)["deleted_at"]
    del other


def test_approved_public_annotation_is_published_and_shades_the_public_trend(writer, dash_app):
    from data import publish, snapshot

    admin = access.Principal("user", "pub-admin2", "admin", access.ALL)
    note = annotations.add(created_by="pub-admin2", title="Sanitation strike (public)", kind="strike",
                           starts_at=(FIXTURE_END - pd.Timedelta(days=14)).isoformat(sep=" ")[:19],
                           ends_at=(FIXTURE_END - pd.Timedelta(days=9)).isoformat(sep=" ")[:19],
                           domain="waste", known_districts=KNOWN, public=True)
    hidden = annotations.add(created_by="pub-admin2", title="Not reviewed yet", kind="note",
                             starts_at="2026-10-20", ends_at="2026-10-21", domain="waste", known_districts=KNOWN,
                             public=True)
    annotations.review(note, principal=admin, approve=True)
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()
    titles = set(repository.run("public/annotations", domain="waste", db="public")["title"])
    assert "Sanitation strike (public)" in titles and "Not reviewed yet" not in titles
    client = dash_app.server.test_client()  # anonymous: the public site
    dep = dash_http.find(dash_http.dependencies(client), "public-metric-series")
    status, body, text = dash_http.call(client, dep, [{"metric": "missed_collections", "lang": "en"}])
    assert status == 200 and "Sanitation strike (public)" in text and "Not reviewed yet" not in text
    assert hidden
    snapshot.reset()  # later tests open the snapshot files themselves


def test_the_annotation_just_saved_lists_first_whatever_period_it_is_about(accounts):
    """The annotations page pages 20 rows: a note about an old period, saved after 25 newer
    ones, must still be on the first page (it was listed by its start, on page 2)."""
    from datetime import datetime

    from data import access

    for i in range(25):
        annotations.add(created_by="test-admin", title=f"newer period {i}", kind="note",
                        starts_at=datetime(2026, 10, 30), ends_at=datetime(2026, 10, 31), district_id="101",
                        known_districts=frozenset({"101"}))
    saved = annotations.add(created_by="test-admin", title="about an old period", kind="note",
                            starts_at=datetime(2026, 9, 3), ends_at=datetime(2026, 9, 4), district_id="101",
                            known_districts=frozenset({"101"}), now=datetime(2030, 1, 1))
    first = annotations.listing(access.Principal("user", "test-admin", "admin", access.ALL))
    assert int(first.iloc[0]["id"]) == saved


def test_an_officials_own_annotations_list_even_behind_many_of_other_districts(accounts):
    """The scope is applied before the listing's limit: 30 newer annotations of another district
    must not push an official's own one out of a list of 20."""
    from datetime import datetime

    from data import access

    own = annotations.add(created_by="test-admin", title="ours in 101", kind="note",
                          starts_at=datetime(2026, 10, 1), ends_at=datetime(2026, 10, 2), district_id="101",
                          known_districts=frozenset({"101", "205"}), now=datetime(2031, 1, 1))
    for i in range(30):
        annotations.add(created_by="test-admin", title=f"theirs {i}", kind="note",
                        starts_at=datetime(2026, 10, 1), ends_at=datetime(2026, 10, 2), district_id="205",
                        known_districts=frozenset({"101", "205"}), now=datetime(2032, 1, 1))
    official = access.Principal("user", "test-official", "official", frozenset({"101"}))
    listed = annotations.listing(official, limit=20)
    assert own in {int(x) for x in listed["id"]}
    assert set(listed["district_id"].dropna()) <= {"101"}
