"""Access control: every callback declares and enforces who may call it; the authorization
matrix over every callback and caller; the relabelled-input probe; district scoping in the
data layer (default-deny); users, device tokens, trusted header; hardening (CSRF, headers,
cookies, rate limits, malformed payloads, SQL probes)."""
from __future__ import annotations

import json

import pytest

from bench import fuzz
from data import access, repository, users
from data.web import guard
from tests import dash_http
from tests.conftest import ADMIN, signed_in

CALLERS = ("anonymous", "wall", "official", "analyst", "admin")
# What each caller may call, by the permission a callback declares.
ALLOWED = {
    "anonymous": {"public"},
    "wall": {"public", "wall"},
    "official": {"public", "wall", "read", "records", "annotate"},
    "analyst": {"public", "wall", "read", "records"},
    "admin": {"public", "wall", "read", "records", "annotate", "admin"},
}
PASSWORDS = {"official": "official-password-1", "analyst": "analyst-password-1"}


def _server_callbacks(dash_app):
    dash_app.server.test_client().get("/_dash-dependencies")  # Dash registers callbacks on first request
    return {key: entry["callback"] for key, entry in dash_app.callback_map.items()
            if entry.get("callback") is not None}  # clientside callbacks run in the browser only


def test_every_server_callback_declares_its_access(dash_app):
    callbacks = _server_callbacks(dash_app)
    assert len(callbacks) >= 10
    missing = [key for key, fn in callbacks.items()
               if getattr(fn, guard.ACCESS_ATTR, None) not in access.PERMISSIONS
               and "_pages_content" not in key]
    assert missing == [], f"callbacks without @guard.requires: {missing}"


def test_every_page_layout_declares_its_access(dash_app):
    """Dash's own router callback renders layouts: each layout is wrapped instead."""
    import dash

    for page in dash.page_registry.values():
        permission = getattr(page["layout"], guard.ACCESS_ATTR, None)
        assert permission in access.PERMISSIONS, page["path"]
        assert (permission == "public") == (page.get("audience") != "ops"), page["path"]


@pytest.fixture(scope="module")
def callers(dash_app, accounts):
    out = {"anonymous": dash_app.server.test_client(), "admin": signed_in(dash_app, *ADMIN)}
    for role in ("official", "analyst"):
        out[role] = signed_in(dash_app, f"test-{role}", PASSWORDS[role])
    wall = dash_app.server.test_client()
    response = wall.get("/wall?token=" + accounts["wall-token"])
    assert response.status_code == 302 and "token" not in response.headers["Location"]
    out["wall"] = wall
    return out


def _deps_with_permission(dash_app, client):
    deps = dash_http.dependencies(client)
    by_key = _server_callbacks(dash_app)
    out = []
    for dep in deps:
        fn = by_key.get(dep["output"])
        if fn is not None and "_pages_content" not in dep["output"]:
            out.append((dep, getattr(fn, guard.ACCESS_ATTR)))
    return out


@pytest.mark.parametrize("caller", CALLERS)
def test_authorization_matrix(dash_app, callers, caller):
    """Every callback × caller: allowed → answered (200/204), denied → 401 (nobody signed in)
    or 403 (signed in without the permission)."""
    client = callers[caller]
    checked = 0
    for dep, permission in _deps_with_permission(dash_app, client):
        status, _body, text = dash_http.call(client, dep, [None] * len(dep["inputs"]),
                                             [None] * len(dep.get("state", [])))
        if permission in ALLOWED[caller]:
            assert status in (200, 204), f"{caller} {dep['output']}: {status} {text[:200]}"
        else:
            expected = 401 if caller == "anonymous" else 403
            assert status == expected, f"{caller} {dep['output']} ({permission}): {status}"
        assert "Traceback" not in text
        checked += 1
    assert checked >= 10


def test_relabelled_pathname_input_does_not_open_a_protected_callback(dash_app, callers):
    """The dash-auth bypass: relabel a protected callback's input as the router's pathname with
    a public path. Authorization here never looks at inputs, so it stays 401."""
    client = callers["anonymous"]
    probed = 0
    for dep, permission in _deps_with_permission(dash_app, client):
        if permission == "public":
            continue
        payload = {
            "output": dep["output"], "outputs": dash_http.outputs_field(dep),
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/public"}
                       for _ in dep["inputs"]],
            "state": [{"id": st["id"], "property": st["property"], "value": None} for st in dep.get("state", [])],
            "changedPropIds": ["_pages_location.pathname"],
        }
        response = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
        assert response.status_code in (401, 403), f"{dep['output']}: {response.status_code}"
        probed += 1
    assert probed >= 8


def test_anonymous_page_requests_go_to_sign_in_and_public_pages_stay_open(callers):
    anon = callers["anonymous"]
    for path in ("/", "/explore", "/district/101", "/alerts", "/data", "/wall", "/wall-screens",
                 "/district/101/briefing", "/district/101/briefing.pdf"):
        response = anon.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert anon.get("/public").status_code == 200
    assert anon.get("/public/api/v1/metrics").status_code == 200


def test_router_renders_a_sign_in_notice_not_the_page_for_anonymous_callers(callers):
    status, text = dash_http.route(callers["anonymous"], "/explore")
    assert status == 200 and "Sign in required" in text and "explore-map" not in text


@pytest.mark.ops_store
def test_wall_token_opens_wall_pages_only_and_revocation_cuts_it_off(dash_app, callers):
    wall = callers["wall"]
    assert wall.get("/wall").status_code == 200
    assert wall.get("/explore").status_code == 403
    status, text = dash_http.route(wall, "/explore")
    assert "Not allowed" in text and "explore-map" not in text
    token_id, token = users.add_token("revoked-screen")
    screen = dash_app.server.test_client()
    assert screen.get("/wall?token=" + token).status_code == 302
    assert screen.get("/wall").status_code == 200
    users.revoke_token(token_id)
    assert screen.get("/wall").status_code == 302  # back to sign-in
    assert screen.get("/wall?token=" + token).status_code == 401
    assert dash_app.server.test_client().get("/wall?token=" + "x" * 40).status_code == 401
    bearer = dash_app.server.test_client()
    assert bearer.get("/wall", headers={"Authorization": "Bearer " + callers_token(dash_app)}).status_code == 200


def callers_token(_app) -> str:
    return users.add_token("bearer-screen")[1]


# --- district scoping (data layer, default-deny) -------------------------------------------

def test_scoping_is_default_deny_in_the_data_layer(published):
    with access.acting_as(None):
        frame = repository.run("ops/metric_map", metric="sr_opened", grain="day")
        assert frame.empty
        assert not repository.run("ops/districts").empty  # reference data: names and outlines
    official = access.Principal("user", "x", "official", frozenset({"101"}))
    with access.acting_as(official):
        frame = repository.run("ops/metric_map", metric="sr_opened", grain="day")
        assert set(frame["district_id"]) <= {"101", "city"} and "101" in set(frame["district_id"])
        assert repository.run("ops/district_requests_page", district="102", category=None, limit=10).empty
        assert not repository.run("ops/district_requests_page", district="101", category=None, limit=10).empty
    with access.acting_as(access.Principal("device", "w", "device", access.ALL)):
        with pytest.raises(access.AccessDenied):
            repository.run("ops/district_requests_page", district="101", category=None, limit=10)


def _walk(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)
    else:
        yield key, value


def test_official_of_district_a_asking_for_district_b_gets_nothing_of_b(dash_app, callers):
    client = callers["official"]
    deps = dash_http.dependencies(client)
    status, body, text = dash_http.call(client, dash_http.find(deps, "district-kpis"), ["102"])
    assert status == 200
    assert "Kensington" not in text  # no record of 102 (the fixture's 311 rows carry streets)
    assert not any(k == "request_id" for k, _ in _walk(body))
    mapdep = dash_http.find(deps, "explore-map")
    state = {"metric": "sr_opened", "districts": "102,103", "grain": "day", "range": "90d"}
    status, body, text = dash_http.call(client, mapdep, [state, None], [None] * len(mapdep.get("state", [])))
    assert status == 200, text[:300]
    traces = body["response"]["explore-map-values"]["data"]["figure"]["data"]
    valued = set()
    for trace in traces:  # outlines of every district are reference data; values must not be
        if "%{z" not in str(trace.get("hovertemplate")):
            continue  # an outline-only trace (constant z, no hover)
        for location, z in zip(trace.get("locations") or [], fuzz.decoded(trace.get("z")) or [], strict=False):
            if z is not None and z == z:
                valued.add(location)
    assert valued and valued <= {"101", "city"}, valued
    ranking = body["response"]["explore-ranking"]["figure"]["data"]
    assert not {v for k, v in _walk(ranking) if k in ("y", "customdata") and v in ("102", "103")}
    rows = body["response"]["explore-table"]["rowData"]
    assert rows and {r.get("district_id") for r in rows if r.get("district_id")} <= {"101", "city"}


# --- users, sessions, trusted header -------------------------------------------------------

def test_user_cli_add_list_disable_reset(dash_app, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("cli-password-1\n"))
    assert users.main(["add", "cli-user", "--role", "official", "--districts", "101,102", "--password-stdin"]) == 0
    assert users.main(["add", "Bad Name", "--role", "analyst", "--password-stdin"]) == 2
    assert users.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "cli-user" in out and "101,102" in out
    client = signed_in(dash_app, "cli-user", "cli-password-1")
    assert client.get("/explore").status_code == 200
    users.set_disabled("cli-user", True)
    assert client.get("/explore").status_code == 302  # the session ended
    assert users.authenticate("cli-user", "cli-password-1") is None
    users.set_disabled("cli-user", False)
    client = signed_in(dash_app, "cli-user", "cli-password-1")
    users.reset_password("cli-user", "new-password-22")
    assert client.get("/explore").status_code == 302
    assert users.authenticate("cli-user", "cli-password-1") is None
    assert users.authenticate("cli-user", "new-password-22") is not None
    with pytest.raises(users.UserError):
        users.add("short-pw", "abc", "analyst")


def test_wrong_password_is_refused_with_401(anon_client, accounts):
    page = anon_client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = anon_client.post("/login", data={"username": ADMIN[0], "password": "wrong", "csrf_token": token})
    assert response.status_code == 401 and "Wrong user name or password" in response.get_data(as_text=True)
    response = anon_client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})  # no CSRF token
    assert response.status_code == 400


def test_login_redirects_only_to_local_paths(anon_client, accounts):
    page = anon_client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = anon_client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token,
                                                "next": "https://evil.example/x"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_trusted_header_mode(dash_app, accounts, monkeypatch):
    client = dash_app.server.test_client()
    assert client.get("/explore", headers={"X-Forwarded-User": "test-analyst"}).status_code == 302  # off
    monkeypatch.setenv("CITYOPS_AUTH_TRUSTED_HEADER", "X-Forwarded-User")
    assert client.get("/explore", headers={"X-Forwarded-User": "test-analyst"}).status_code == 200
    assert client.get("/explore", headers={"X-Forwarded-User": "nobody"}).status_code == 302
    far = dash_app.server.test_client()
    far.environ_base["REMOTE_ADDR"] = "10.1.2.3"  # not the proxy
    assert far.get("/explore", headers={"X-Forwarded-User": "test-analyst"}).status_code == 302


# --- hardening ------------------------------------------------------------------------------

def test_signed_in_callback_without_csrf_token_is_refused(dash_app, callers):
    client = callers["admin"]
    deps = dash_http.dependencies(client)
    dep = dash_http.find(deps, "home-kpis")
    header = client.environ_base.pop("HTTP_X_CSRFTOKEN")
    try:
        status, _body, text = dash_http.call(client, dep, ["/"])
        assert status == 400 and "CSRF" in text
    finally:
        client.environ_base["HTTP_X_CSRFTOKEN"] = header
    assert dash_http.call(client, dep, ["/"])[0] == 200


def test_security_headers_and_cookie_flags(dash_app, accounts):
    client = dash_app.server.test_client()
    page = client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'sha256-" in csp and "'unsafe-eval'" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
    cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("cityops_session=")][0]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert dash_app.server.debug is False


def test_public_pages_set_no_cookie_and_are_rate_limited(dash_app, monkeypatch):
    client = dash_app.server.test_client()
    response = client.get("/public")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    monkeypatch.setenv("CITYOPS_PUBLIC_RATE_LIMIT", "5 per minute")
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    statuses = [client.get("/public/api/v1/metrics").status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429


def test_sign_in_is_rate_limited(dash_app, accounts, monkeypatch):
    monkeypatch.setenv("CITYOPS_LOGIN_RATE_LIMIT", "3 per minute")
    client = dash_app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.8.8.8"
    statuses = [client.post("/login", data={"username": "x", "password": "y"}).status_code for _ in range(5)]
    assert 429 in statuses and statuses[0] != 429


@pytest.mark.parametrize("body", [
    "not json", "[]", "{}", '{"output": 5}', '{"output": "no-such.children", "inputs": []}',
    '{"output": "home-kpis.children", "inputs": "x"}', '{"output": "home-kpis.children"}',
    '{"output": "home-kpis.children", "outputs": {"id": "home-kpis", "property": "children"}, "inputs": [5]}',
    '{"output": "home-kpis.children", "outputs": {"id": "home-kpis", "property": "children"}, "inputs": [{}]}',
])
def test_malformed_callback_requests_get_400_not_500(callers, body):
    response = callers["admin"].post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "Traceback" not in response.get_data(as_text=True)


def test_oversized_request_is_refused(callers):
    response = callers["admin"].post("/_dash-update-component", data="x" * 2_000_000, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize("sql", ["SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/x.duckdb' AS x",
                                 "COPY (SELECT 1) TO '/tmp/cityops-probe.csv'", "INSTALL httpfs",
                                 "SET enable_external_access = true"])
def test_snapshot_connections_refuse_file_access(published, sql):
    import duckdb

    from data import snapshot

    with snapshot.cursor("ops") as (cur, _version):
        with pytest.raises(duckdb.Error):
            cur.execute(sql).fetchall()


@pytest.mark.parametrize("value", ["read_csv('/etc/passwd')", "'; ATTACH '/etc/passwd' AS x; --",
                                   "bike_trips' OR 1=1 --", "../../etc/passwd"])
def test_sql_probes_through_callback_inputs(callers, value):
    client = callers["admin"]
    deps = dash_http.dependencies(client)
    for fragment, inputs in (("district-kpis", [value]), ("public-metric-series", [value])):
        dep = dash_http.find(deps, fragment)
        status, _body, text = dash_http.call(client, dep, inputs + [None] * (len(dep["inputs"]) - 1),
                                             [None] * len(dep.get("state", [])))
        assert status in (200, 204) and "root:x:0:0" not in text and "Traceback" not in text


def test_slow_queries_are_interrupted():
    import duckdb

    cur = duckdb.connect().cursor()
    with pytest.raises(repository.QueryTimeout):
        repository.execute(cur, "SELECT count(*) FROM range(100000000000) a, range(10) b", {}, 0.2)


def test_query_timeouts_use_one_thread_and_spare_the_next_query():
    """Many statements in a row run under the same watchdog thread (no thread per query), a
    statement that times out does not interrupt the next one on the same cursor, and a fast
    statement is never interrupted by an earlier deadline."""
    import threading

    import duckdb

    cur = duckdb.connect().cursor()
    before = threading.active_count()
    for _ in range(200):
        assert repository.execute(cur, "SELECT 42 AS x", {}, 5.0)["x"][0] == 42
    assert threading.active_count() <= before + 1
    with pytest.raises(repository.QueryTimeout):
        repository.execute(cur, "SELECT count(*) FROM range(100000000000) a, range(10) b", {}, 0.2)
    frame = repository.execute(cur, "SELECT count(*) AS n FROM range(3000000)", {}, 5.0)
    assert frame["n"][0] == 3_000_000


def test_pinned_versions_meet_the_security_floor():
    import dash
    import plotly
    from packaging.version import Version

    assert Version(dash.__version__) >= Version("4.4.1")
    bundle = (plotly.__file__.rsplit("/", 1)[0] + "/package_data/plotly.min.js")
    head = open(bundle, encoding="utf-8").read(400)
    import re
    version = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", head).group(1)
    assert Version(version) >= Version("2.25.2")


def test_analysts_can_be_kept_from_records(dash_app, callers, monkeypatch):
    analyst = callers["analyst"]
    dep = dash_http.find(dash_http.dependencies(analyst), "district-records")
    status, body, text = dash_http.call(analyst, dep, ["101", None])
    assert status == 200 and len(body["response"]["district-records-grid"]["rowData"]) > 0
    monkeypatch.setenv("CITYOPS_ANALYST_RECORDS", "false")
    # the page says so (no 403 for the browser to log as an error), and sends no record
    status, body, text = dash_http.call(analyst, dep, ["101", None])
    assert status == 200 and "does not include record-level data" in text
    assert body["response"]["district-records-grid"]["rowData"] == []
    # the streamed export and the data layer still refuse
    assert analyst.get("/district/101/requests.csv").status_code == 403
    with access.acting_as(access.Principal("user", "a", "analyst", access.ALL)):
        with pytest.raises(access.AccessDenied):
            repository.run("ops/district_requests_page", district="101", category=None, limit=5)


def test_the_ops_store_is_readable_by_its_owner_only(var_dir, accounts):
    from data import ops_store

    assert (var_dir / ops_store.FILE).stat().st_mode & 0o077 == 0
