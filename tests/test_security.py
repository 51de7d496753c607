"""Issue 14: the findings of an independent probe, each written the way the attacker worked.
(Slow clients and the access log are in tests/test_serving.py.)"""
from __future__ import annotations

import json

import pytest

from data import publish, snapshot, users, warehouse
from data.ingest import load
from tests import dash_http
from tests.conftest import ADMIN, FIXTURE_END, signed_in

PERSONAL = ("742 Evergreen Terrace", "Maria Callers", "555-0142", "XYZ1234")


# ------------------------------------------------------------------ 2. quarantine: nothing personal
def test_ingest_quarantine_keeps_the_judged_field_only(tmp_path):
    """A 311 export with an address, a free-text column naming the caller and her phone number:
    quarantined rows keep file, line, reason and the judged values, never the other columns,
    and the district where the row says it."""
    from data.settings import ROOT

    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        load(con, "boundaries", ROOT / "data" / "boundaries" / "community_districts.geojson", key="district_id")
        csv = tmp_path / "311.csv"
        header = ("Unique Key,Created Date,Closed Date,Complaint Type,Descriptor,Status,Community Board,"
                  "Incident Address,Resolution Description,Latitude,Longitude\n")
        rows = [
            f"1,yesterday,,Noise,Loud Music,Open,01 MANHATTAN,{PERSONAL[0]},"
            f"Caller {PERSONAL[1]} at {PERSONAL[2]},40.71,-74.0\n",                      # bad date, district 101
            f"2,03/01/2025 10:00,02/01/2025 10:00,Noise,Loud Music,Closed,05 BRONX,{PERSONAL[0]},"
            f"{PERSONAL[1]} {PERSONAL[2]},40.85,-73.9\n",                                  # closed before created
            f"3,03/01/2025 10:00,,Noise,Banging,Open,0 Unspecified,{PERSONAL[0]},{PERSONAL[2]},,\n",
            "4,03/01/2025 10:00,,Noise,Loud Music,Open,01 MANHATTAN,1 Main St,none,40.71,-74.0\n",  # a good row
        ]
        csv.write_text(header + "".join(rows), encoding="utf-8")
        result = load(con, "nyc311", csv, max_quarantined_share=1.0)[-1]  # 3 of 4 bad on purpose
        assert result.rows_quarantined == 3
        got = con.execute("SELECT line_no, reason, raw, district_id FROM quarantine ORDER BY line_no").fetchall()
    finally:
        con.close()
    stored = json.dumps(got)
    for value in PERSONAL + ("Loud Music", "Banging"):
        assert value not in stored, value
    by_line = {line: (reason, json.loads(raw), district) for line, reason, raw, district in got}
    assert by_line[2] == ("bad date: Created Date", {"Created Date": "yesterday"}, "101")
    assert by_line[3][1] == {"Created Date": "03/01/2025 10:00", "Closed Date": "02/01/2025 10:00"}
    assert by_line[3][2] == "205"
    assert by_line[4][1] == {"Community Board": "0 Unspecified"} and by_line[4][2] is None


@pytest.fixture()
def quarantined(writer):
    """Quarantine rows as an older ingest left them (whole raw rows with personal data), of
    district 101, of district 205 and of no district, published; removed afterwards."""
    next_id = writer.execute("SELECT nextval('batch_seq')").fetchone()[0]  # never collides with a later load
    raw = json.dumps({"Incident Address": PERSONAL[0], "Resolution Description": f"{PERSONAL[1]} {PERSONAL[2]}",
                      "Plate ID": PERSONAL[3]})
    for i, district in enumerate(("101", "205", None)):
        writer.execute("INSERT INTO quarantine (batch_id, source_id, file, line_no, reason, raw, district_id) "
                       "VALUES ($b, 'demo_311', '/srv/cityops/incoming/311-export.csv', $l, $r, $raw, $d)",
                       {"b": next_id, "l": 10 + i, "r": f"probe reason {district}", "raw": raw, "d": district})
    writer.execute("INSERT INTO load_batches (batch_id, source_id, file, started_at, finished_at, rows_read, "
                   "rows_loaded, rows_quarantined, status) VALUES ($b, 'demo_311', "
                   "'/srv/cityops/incoming/311-export.csv', now(), now(), 3, 0, 3, 'ok')", {"b": next_id})
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()
    yield
    writer.execute("DELETE FROM quarantine WHERE batch_id = $b", {"b": next_id})
    writer.execute("DELETE FROM load_batches WHERE batch_id = $b", {"b": next_id})
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()


def _data_health(client) -> str:
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "data-quarantine"), [1])
    assert status == 200, text[:300]
    return json.dumps(body)


def test_data_page_shows_an_official_no_quarantined_row(dash_app, accounts, quarantined):
    official = _data_health(signed_in(dash_app, "test-official", "official-password-1"))  # district 101
    for value in PERSONAL:
        assert value not in official
    assert "probe reason 205" not in official          # another district's row
    assert "probe reason 101" in official and "probe reason None" in official  # counts of its own
    assert "/srv/cityops" not in official and "311-export.csv" in official  # file name, not the path
    admin = _data_health(signed_in(dash_app, *ADMIN))
    assert "probe reason 205" in admin and "/srv/cityops/incoming/311-export.csv" in admin


# ------------------------------------------------------------------ 4, 9. sessions are server-side
def _get_status(client, path="/explore"):
    return client.get(path).status_code


def _copy_cookies(source, target):
    for name in ("cityops_session",):
        cookie = source.get_cookie(name)
        target.set_cookie(name, cookie.value)


@pytest.mark.ops_store
def test_a_cookie_copied_before_sign_out_stops_working(dash_app, accounts):
    browser = signed_in(dash_app, *ADMIN)
    thief = dash_app.server.test_client()
    _copy_cookies(browser, thief)
    assert _get_status(thief) == 200  # the copy works while the session lives
    assert browser.post("/logout").status_code == 302
    assert _get_status(thief) == 302  # sent to /login: the session ended on the server


@pytest.mark.ops_store
def test_a_removed_users_cookie_does_not_work_for_a_recreated_name(dash_app, accounts):
    users.add("probe-recreated", "first-password-1", "admin")
    old = signed_in(dash_app, "probe-recreated", "first-password-1")
    assert _get_status(old) == 200
    users.remove("probe-recreated")
    users.add("probe-recreated", "second-password-1", "official", "101")
    assert _get_status(old) == 302  # the old session belonged to the removed account
    users.remove("probe-recreated")


# ------------------------------------------------------------------ 11. per-account back-off
def _login(client, username, password):
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.mark.ops_store
def test_a_hundred_wrong_passwords_then_the_right_one_does_not_sign_in(dash_app, accounts, monkeypatch):
    users.add("probe-lockout", "right-password-1", "analyst")
    try:
        statuses = []
        for i in range(100):
            client = dash_app.server.test_client()  # a new client (and address) for each try
            client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i % 250}"
            statuses.append(_login(client, "probe-lockout", f"wrong-password-{i}").status_code)
        client = dash_app.server.test_client()
        client.environ_base["REMOTE_ADDR"] = "198.51.100.251"
        response = _login(client, "probe-lockout", "right-password-1")
        assert response.status_code == 429 and "Try again in" in response.get_data(as_text=True)
        assert _get_status(client) == 302  # not signed in
        assert statuses[:users.LOCK_AFTER - 1] == [401] * (users.LOCK_AFTER - 1) and statuses[-1] == 429
        wait = users.locked_for("probe-lockout")
        print(f"\nafter 100 wrong passwords the right one is refused for {wait} s more")
        assert wait >= users.LOCK_MAX_S - 5
        # once the back-off has passed, the right password signs in (and clears the count)
        later = users._clock() + __import__("datetime").timedelta(seconds=users.LOCK_MAX_S + 1)
        monkeypatch.setattr(users, "_clock", lambda: later)
        assert _login(client, "probe-lockout", "right-password-1").status_code == 302
        assert users.locked_for("probe-lockout") == 0
    finally:
        users.remove("probe-lockout")


# ------------------------------------------------------------------ 5. one bucket per client behind a proxy
def test_behind_a_proxy_one_client_cannot_lock_out_another(dash_app, accounts, monkeypatch):
    monkeypatch.setenv("CITYOPS_LOGIN_RATE_LIMIT", "5 per minute")
    monkeypatch.setenv("CITYOPS_PROXY_HOPS", "1")
    monkeypatch.setenv("CITYOPS_PROXY_ADDRESSES", "127.0.0.1")
    attacker = dash_app.server.test_client()  # through the proxy (peer 127.0.0.1)
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    statuses = [attacker.post("/login", data={"username": f"nobody-{i}", "password": "x"}).status_code
                for i in range(8)]
    assert statuses[-1] == 429
    victim = dash_app.server.test_client()
    victim.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.8"
    assert _login(victim, "test-analyst", "analyst-password-1").status_code == 302
    # a client that is not the proxy cannot choose its address by sending the header
    direct = dash_app.server.test_client()
    direct.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    spoofed = []
    for i in range(8):
        direct.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{100 + i}"
        spoofed.append(direct.post("/login", data={"username": f"nobody-{i}", "password": "x"}).status_code)
    assert spoofed[-1] == 429


# ------------------------------------------------------------------ 6, 14, issue 20.8. keys and files
def test_secret_key_race_every_worker_reads_the_same_whole_key(tmp_path, monkeypatch):
    """20 workers start at once on an empty var dir (issue 20: 149 of 300 died reading it empty)."""
    import multiprocessing

    from data.web import config

    monkeypatch.setenv("CITYOPS_SECRET_KEY", "")
    ctx = multiprocessing.get_context("fork")
    for round_ in range(6):  # the old code lost about one start in 30 here: 120 starts
        var = tmp_path / str(round_)
        var.mkdir()
        monkeypatch.setenv("CITYOPS_VAR_DIR", str(var))
        barrier, results = ctx.Barrier(20), ctx.Queue()

        def worker():
            barrier.wait(timeout=30)  # noqa: B023 - the closure is called within the same iteration
            try:
                results.put(config.secret_key("ops").decode())  # noqa: B023 - the closure is called within the same iteration
            except BaseException as exc:  # noqa: BLE001 - SystemExit("... is damaged") on the old code
                results.put(f"died: {exc}")  # noqa: B023 - the closure is called within the same iteration

        procs = [ctx.Process(target=worker) for _ in range(20)]
        for p in procs:
            p.start()
        got = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert [g for g in got if g.startswith("died")] == []
        assert len(set(got)) == 1 and len(got[0]) == 64
        assert (var / "secret_key").stat().st_mode & 0o077 == 0
        assert [p.name for p in var.iterdir()] == ["secret_key"]  # no temporary file left


def test_ops_files_are_not_world_readable(var_dir, published, dash_app, accounts):
    from data import ops_store
    from data.web import config

    config.secret_key("ops")
    for path in (var_dir / "secret_key", var_dir / ops_store.FILE, var_dir / "warehouse.duckdb"):
        assert path.stat().st_mode & 0o077 == 0, path
    assert (var_dir / "snapshots").stat().st_mode & 0o077 == 0
    assert (var_dir / "public").stat().st_mode & 0o005 == 0o005  # the public site's user reads this


def test_make_run_does_not_print_the_admin_password():
    from data.settings import ROOT

    run = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "cat " not in run and "ADMIN_PASSWORD" in run


def test_the_public_process_cannot_read_the_ops_key_nor_forge_a_session(var_dir, published, dash_app, accounts):
    """The public site signs nothing: its key is its own. Run as another user (as production
    should), it cannot read the ops key, the ops store or the ops snapshots, and still serves."""
    import os
    import subprocess
    import sys

    from flask import Flask

    from data.settings import ROOT
    from data.web import config

    ops_key = config.secret_key("ops")
    script = (
        "import sys, pathlib; import app; from data import settings\n"
        "var = settings.var_dir(); out = [app.server.secret_key.hex()]\n"
        "for name in ('secret_key', 'ops.sqlite', 'snapshots'):\n"
        "    p = var / name\n"
        "    try:\n"
        "        (list(p.iterdir()) if p.is_dir() else p.read_bytes()); out.append(name + ':readable')\n"
        "    except PermissionError: out.append(name + ':denied')\n"
        "c = app.server.test_client(); out.append(str(c.get('/api/v1/metrics').status_code))\n"
        "print(' '.join(out))\n")
    as_other_user = os.geteuid() == 0 and _runs_as_nobody()
    if as_other_user:
        var_dir.chmod(0o711)  # others may traverse to the public snapshot and the pointer only
    env = {**os.environ, "CITYOPS_MODE": "public", "HOME": "/tmp"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, user=65534 if as_other_user else None, group=65534 if as_other_user else None)
    assert result.returncode == 0, result.stderr[-800:]
    public_key, *checks = result.stdout.split()
    assert bytes.fromhex(public_key) != ops_key
    assert checks[-1] == "200"  # it serves the public API
    if as_other_user:
        assert checks[:-1] == ["secret_key:denied", "ops.sqlite:denied", "snapshots:denied"], checks
    # a session cookie forged with the public process's key opens nothing on the ops site
    forger = Flask("forger")
    forger.secret_key = bytes.fromhex(public_key)
    cookie = forger.session_interface.get_signing_serializer(forger).dumps(
        {"_user_id": f"{ADMIN[0]}:0", "_fresh": True})
    client = dash_app.server.test_client()
    client.set_cookie("cityops_session", cookie)
    assert client.get("/district/101/requests.csv").status_code in (302, 401, 403)
    assert client.get("/explore").status_code == 302


def _runs_as_nobody() -> bool:
    """Whether this interpreter can run as user nobody (not when it lives under /root)."""
    import subprocess
    import sys

    try:
        return subprocess.run([sys.executable, "-c", "import flask"], user=65534, group=65534, timeout=60,
                              capture_output=True, cwd="/tmp").returncode == 0
    except OSError:
        return False


# ------------------------------------------------------------------ 10. bad requests are 4xx, one log line
def test_bad_anonymous_requests_on_the_public_site_are_4xx_with_one_log_line(published, tmp_path):
    import urllib.error
    import urllib.request

    from tests import live

    log_path = tmp_path / "public.log"
    with open(log_path, "wb") as log:
        server = live.Gunicorn("public", workers=1, output=log,
                               env={"CITYOPS_RATE_LIMITS": "false"}).start()
        statuses = {}
        try:
            for path in ("/metric/%22", "/metric/%C3%A9%E4%B8%AD", "/metric/x%22%3E%3Cb%3E",
                         "/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/nope.js",
                         "/_dash-component-suites/plotly/package_data/../../../../etc/passwd"):
                try:
                    with urllib.request.urlopen(server.base + path, timeout=20) as response:
                        statuses[path] = response.status
                except urllib.error.HTTPError as exc:
                    statuses[path] = exc.code
            deep = ('{"output": "x", "inputs": ' + "[" * 20000 + "]" * 20000 + "}").encode()
            request = urllib.request.Request(server.base + "/_dash-update-component", data=deep,
                                             headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(request, timeout=20)
            except urllib.error.HTTPError as exc:
                statuses["deep json"] = exc.code
        finally:
            server.stop()
    text = log_path.read_text(errors="replace")
    assert all(status < 500 for status in statuses.values()), statuses
    assert statuses["/_dash-component-suites/nope/x.js"] == 404 and statuses["deep json"] == 400, statuses
    assert "Traceback" not in text, text[-1500:]
    assert len([line for line in text.splitlines() if "from 127.0.0.1" in line or "nested" in line]) <= 4, text


# ------------------------------------------------------------------ 8. no formula leaves in an export
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_the_neutraliser_covers_every_formula_start():
    from data import export_safety

    assert [export_safety.cell(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]
    assert export_safety.cell(-3.5) == -3.5 and export_safety.cell("Bronx CD 1") == "Bronx CD 1"


def _cells(text: str) -> list[str]:
    import csv
    import io

    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _dangerous(cells) -> list[str]:
    from data import export_safety

    def number(text):
        try:
            float(text)
            return True
        except ValueError:
            return False
    return [c for c in cells if isinstance(c, str) and c.startswith(export_safety.FORMULA_START) and not number(c)]


def _poisoned_names(monkeypatch):
    """District names as a hostile source could publish them (one formula per district)."""
    from data import explore

    real = explore.shown_rows

    def shown(state, table):
        rows = real(state, table)
        return rows.assign(name=[FORMULAS[i % len(FORMULAS)] for i in range(len(rows))])
    monkeypatch.setattr(explore, "shown_rows", shown)


def test_explore_csv_and_excel_exports_write_no_formula(client, monkeypatch):
    import io

    from openpyxl import load_workbook

    _poisoned_names(monkeypatch)
    text = client.get("/explore/export.csv?metric=sr_opened&range=30d").get_data(as_text=True)
    cells = _cells(text)
    assert "'" + FORMULAS[0] in cells and _dangerous(cells) == [], text[-600:]
    book = load_workbook(io.BytesIO(client.get("/explore/export.xlsx?metric=sr_opened&range=30d").data))
    values = [c for row in book["table"].iter_rows() for c in row]
    assert not [c.coordinate for c in values if c.data_type == "f"]  # no live formula cell
    assert FORMULAS[0] in [c.value for c in values]  # the text itself, as a string


def test_district_records_csv_writes_no_formula(client, writer):
    request_id = "probe-formula-1"
    writer.execute("INSERT INTO service_requests (request_id, created_at, district_id, category, channel, status, "
                   "source_id) VALUES ($r, TIMESTAMP '2026-10-30 10:00', '101', $c, '@phone', 'open', 'demo_311')",
                   {"r": request_id, "c": FORMULAS[0]})
    publish.publish(writer, now=FIXTURE_END)
    snapshot.reset()
    try:
        cells = _cells(client.get("/district/101/requests.csv").get_data(as_text=True))
        assert "'" + FORMULAS[0] in cells and "'@phone" in cells and _dangerous(cells) == []
    finally:
        writer.execute("DELETE FROM service_requests WHERE request_id = $r", {"r": request_id})
        publish.publish(writer, now=FIXTURE_END)
        snapshot.reset()


def test_public_csv_download_writes_no_formula(anon_client, monkeypatch):
    from data.web import public_api

    real = public_api._values
    monkeypatch.setattr(public_api, "_values", lambda *a: real(*a).assign(district_name=FORMULAS[0]))
    cells = _cells(anon_client.get("/public/download/sr_opened.csv").get_data(as_text=True))
    assert "'" + FORMULAS[0] in cells and _dangerous(cells) == []


# ------------------------------------------------------------------ 3. annotations
@pytest.mark.ops_store
def test_an_official_cannot_post_a_city_wide_annotation_as_district_city(dash_app, accounts):
    from data import annotations, ops_store

    official = signed_in(dash_app, "test-official", "official-password-1")
    dep = dash_http.find(dash_http.dependencies(official), "explore-note-result")
    status, body, _ = dash_http.call(official, dep, [1], ["Probe city-wide", "event", "2026-10-20", "2026-10-20",
                                                          "city", {"metric": "bike_trips"}, 0])
    assert status == 200 and "city-wide annotation needs" in json.dumps(body), body
    with ops_store.connect() as con:
        assert con.execute("SELECT count(*) FROM annotations WHERE title = 'Probe city-wide'").fetchone()[0] == 0
    with pytest.raises(annotations.InvalidAnnotation):  # the data layer refuses too
        annotations.add(created_by="x", title="t", kind="note", starts_at="2026-10-20", ends_at="2026-10-20",
                        district_id="city", scope=frozenset({"101"}))


def test_annotation_titles_are_plain_text_on_other_users_charts(dash_app, accounts, client):
    from tests.test_explore import _views

    official = signed_in(dash_app, "test-official", "official-password-1")
    dep = dash_http.find(dash_http.dependencies(official), "explore-note-result")
    title = '<a href="http://evil.example" target="_blank">Read</a> <span style="font-size:90px">big</span>'
    state = {"metric": "bike_trips", "range": "30d"}
    status, body, _ = dash_http.call(official, dep, [1], [title, "note", "2026-10-20", "2026-10-21", "101", state, 0])
    assert status == 200 and "Annotation saved" in json.dumps(body), body
    layout = _views(client, {**state, "districts": ["101"]})["explore-series"]["figure"]["layout"]  # the admin's view
    texts = [a.get("text", "") for a in layout.get("annotations", [])]
    shown = [t for t in texts if "evil.example" in t]
    assert shown and all("<a" not in t and "<span" not in t and "&lt;a href" in t for t in shown), texts


# ------------------------------------------------------------------ 13, 15. wall tokens and heartbeats
def _wall_client(dash_app, token):
    client = dash_app.server.test_client()
    response = client.get("/wall?token=" + token)
    assert response.status_code == 302 and "token" not in response.headers["Location"]
    return client


def _beat(client, screen_id, view="all"):
    dep = dash_http.find(dash_http.dependencies(client), "wall-tiles")
    from layouts.ops import wall as wall_layout

    config, _ = wall_layout.parse_config({"view": view})
    status, _body, text = dash_http.call(client, dep, [1, view, {"w": 1920, "h": 1080, "id": screen_id}],
                                         [config, {}])
    assert status == 200, text[:300]


def _screens():
    from data import wall_screens

    return {s["screen_id"]: s for s in wall_screens.screens()}


@pytest.mark.ops_store
def test_a_wall_token_cannot_forge_or_overwrite_other_screens(ops_backend, dash_app, accounts):
    from data import ops_store

    assert ops_store.is_postgresql() == (ops_backend == "postgresql")
    run = f"{ops_backend[:2]}{len(_screens()):03d}"  # this run's fakes apart from an earlier run's
    owner = _wall_client(dash_app, users.add_token("probe-owner")[1])
    _beat(owner, "probe-control-room-left", view="parking")
    intruder = _wall_client(dash_app, users.add_token("probe-intruder")[1])
    _beat(intruder, "probe-control-room-left", view="waste")  # somebody else's screen
    assert _screens()["probe-control-room-left"]["view"] == "parking"
    official = signed_in(dash_app, "test-official", "official-password-1")
    _beat(official, "probe-control-room-left", view="transport")  # an official with wall rights
    assert _screens()["probe-control-room-left"]["view"] == "parking"
    for i in range(30):  # 30 fake screens from one token
        _beat(intruder, f"probe-fake-{run}-{i:02d}")
    assert ops_store.is_postgresql() == (ops_backend == "postgresql")
    fakes = [s for s in _screens() if s.startswith(f"probe-fake-{run}-")]
    assert len(fakes) <= 4, fakes


@pytest.mark.ops_store
def test_the_wall_session_cookie_holds_no_token_and_tokens_expire(dash_app, accounts, monkeypatch):
    import base64
    import zlib

    token_id, token = users.add_token("probe-cookie")
    client = _wall_client(dash_app, token)
    cookie = client.get_cookie("cityops_session").value
    payload = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    text = (zlib.decompress(raw) if cookie.startswith(".") else raw).decode()
    assert token not in text and "device_session" in text
    assert client.get("/wall").status_code == 200
    later = users._clock() + __import__("datetime").timedelta(days=366)
    monkeypatch.setattr(users, "_clock", lambda: later)
    assert client.get("/wall").status_code == 302  # expired: back to sign-in
    assert users.device(token) is None
    monkeypatch.undo()
    new_id, new_token = users.rotate_token(token_id)
    assert users.device(token) is None and users.device(new_token) is not None


# ------------------------------------------------------------------ 7. a median of three is a member
def test_a_borough_median_of_three_does_not_give_an_official_a_peers_figure(dash_app, accounts):
    """Staten Island has three (non-joint) districts: the median of three is one of them."""
    from datetime import datetime

    from data import access, repository
    from tests.test_district import _profile

    if users.get("probe-si-official") is None:
        users.add("probe-si-official", "si-password-12", "official", "501")
    official = signed_in(dash_app, "probe-si-official", "si-password-12")
    cards = json.dumps(_profile(official, "501")["district-kpis"]["children"])
    assert "Staten Island median" not in cards
    assert "Among 3 Staten Island districts" in cards and "highest" in cards
    with access.system():  # the borough really has exactly three districts to compare
        medians = repository.run("ops/district_medians", grain="day", before=datetime(2026, 11, 1))
    si = medians[medians["borough"] == "Staten Island"]
    assert (si["districts"] == 3).all() and len(si)
    admin_cards = json.dumps(_profile(signed_in(dash_app, *ADMIN), "501")["district-kpis"]["children"])
    assert "Staten Island median (3 districts)" in admin_cards  # an all-district account sees every peer


# ------------------------------------------------------------------ 16. smaller disclosures
def test_trusted_header_requests_need_the_csrf_token(dash_app, accounts, monkeypatch):
    monkeypatch.setenv("CITYOPS_AUTH_TRUSTED_HEADER", "X-Forwarded-User")
    client = dash_app.server.test_client()
    client.environ_base["HTTP_X_FORWARDED_USER"] = "test-admin"
    dep = dash_http.find(dash_http.dependencies(client), "explore-note-result")
    status, _body, text = dash_http.call(client, dep, [1], ["Forged from another site", "note", "2026-10-20",
                                                           "2026-10-20", None, {"metric": "bike_trips"}, 0])
    assert status == 400 and "CSRF" in text  # a cross-site form would have carried the proxy's cookie


def test_signed_in_public_pages_are_never_publicly_cacheable(dash_app, accounts):
    client = signed_in(dash_app, *ADMIN)
    response = client.get("/public")
    assert response.status_code == 200
    assert "public" not in response.headers.get("Cache-Control", "")
    anonymous = dash_app.server.test_client().get("/public")
    assert "public" in anonymous.headers["Cache-Control"] and "Set-Cookie" not in anonymous.headers


def test_the_host_header_is_not_reflected_in_cacheable_pages(dash_app):
    response = dash_app.server.test_client().get("/public", headers={"Host": "evil.example"})
    assert response.status_code == 200 and b"evil.example" not in response.data


def test_no_python_version_and_no_anonymous_ops_index(dash_app):
    client = dash_app.server.test_client()
    page = client.get("/public").get_data(as_text=True)
    assert "python_version" not in page and "Quarantined rows" not in page
    assert client.get("/_anything").status_code == 302  # an ops path: sign in first
