"""Shared fixtures: a small deterministic demo city, built and published once per session.

The whole test session uses its own var dir (CITYOPS_VAR_DIR), set before the app is
imported, so tests never touch a developer's var/.
"""
from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

os.environ["CITYOPS_VAR_DIR"] = tempfile.mkdtemp(prefix="cityops-test-")
os.environ.setdefault("CITYOPS_MODE", "all")
os.environ["CITYOPS_SNAPSHOT_POLL_S"] = "0"  # tests see a new version at once
os.environ.setdefault("CITYOPS_LOGIN_RATE_LIMIT", "100000 per minute")  # tests sign in often;
os.environ.setdefault("CITYOPS_PUBLIC_RATE_LIMIT", "100000 per minute")  # test_access sets its own

FIXTURE_END = datetime(2026, 11, 1, 12)
FIXTURE_DAYS = 60


@pytest.fixture(scope="session")
def var_dir() -> Path:
    return Path(os.environ["CITYOPS_VAR_DIR"])


@pytest.fixture(scope="session")
def warehouse_path(var_dir) -> Path:
    from data import demo, warehouse

    path = warehouse.path()
    if not path.exists():
        demo.build(path, seed=7, days=FIXTURE_DAYS, end=FIXTURE_END, scale=0.2, progress=False)
    return path


@pytest.fixture(scope="session")
def published(warehouse_path):
    """The fixture city, published once: returns the PublishResult."""
    from data import publish, snapshot, warehouse

    con = warehouse.connect(warehouse_path)
    try:
        result = publish.publish(con, now=FIXTURE_END)
    finally:
        con.close()
    snapshot.reset()
    return result


@pytest.fixture()
def writer(published, warehouse_path):
    """The warehouse opened read-write (one writer), closed after the test."""
    from data import warehouse

    con = warehouse.connect(warehouse_path)
    yield con
    con.close()


@pytest.fixture(scope="session")
def dash_app(published):
    import app as app_module

    return app_module.app


from tests.live import signed_in

ADMIN = ("test-admin", "admin-password-1")


@pytest.fixture(autouse=True)
def _system_scope():
    """Code that reads the ops snapshot outside a web request (unit tests, like the CLI tools)
    acts as the system; web requests set their own caller and override this."""
    from data import access

    with access.system():
        yield


@pytest.fixture(scope="session")
def accounts(var_dir):
    """Users and a wall token in the ops store: name -> (password or token)."""
    from data import users

    made = {}
    for name, password, role, districts in (
            (*ADMIN, "admin", ""), ("test-analyst", "analyst-password-1", "analyst", ""),
            ("test-official", "official-password-1", "official", "101")):
        if users.get(name) is None:
            users.add(name, password, role, districts)
        made[name] = password
    made["wall-token"] = users.add_token("test-wall")[1]
    return made


@pytest.fixture()
def client(dash_app, accounts):
    """Signed in as an admin (most tests exercise pages, not access control)."""
    return signed_in(dash_app, *ADMIN)


@pytest.fixture()
def anon_client(dash_app):
    return dash_app.server.test_client()


def pytest_sessionfinish(session, exitstatus):
    """Remove this session's var dir (warehouse and snapshots)."""
    import shutil

    path = os.environ.get("CITYOPS_VAR_DIR", "")
    if "cityops-test-" in path:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (browser tests)."""
    from playwright.sync_api import sync_playwright

    from tests.live import launch_chromium

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


# --- the ops store on SQLite and on PostgreSQL -------------------------------------------------
# Tests marked `ops_store` run twice: on the SQLite file (the default) and on a real PostgreSQL
# server this session starts (tests/pg_server.py). Only those tests: the rest of the suite does
# not touch the ops store's engine. On PostgreSQL every such test shares one database, as the
# SQLite runs share the session's ops.sqlite; the session's accounts are copied into it.

def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("ops_store") is not None:
        metafunc.fixturenames.insert(0, "ops_backend")  # before the test's own fixtures
        metafunc.parametrize("ops_backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for this session (skips when none can be started here)."""
    from tests import pg_server

    reason = pg_server.missing_reason()
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    server = pg_server.Server().start()
    try:
        yield server
    finally:
        from data import ops_store

        ops_store.dispose()
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server):
    """A database at the newest schema, copied for each test (faster than migrating each)."""
    from data import ops_store

    url = postgres_server.create_database("cityops_template")
    ops_store.upgrade(url)
    ops_store.dispose()  # a template database must have no connections
    return "cityops_template"


_pg_databases = iter(range(1, 1_000_000))
_COPIED = {"users": 9, "device_tokens": 5, "sessions": 6}  # table: columns (users: + email, migration 0003)


@pytest.fixture()
def postgres_ops_url(postgres_server, postgres_template, accounts, monkeypatch):
    """A fresh ops-store database on PostgreSQL for one test, set as CITYOPS_OPS_URL (as a fresh
    var dir gives a test a fresh ops.sqlite), holding the session's accounts, tokens and signed-in
    sessions (module fixtures sign clients in on SQLite before a test runs)."""
    from data import ops_store

    rows = {}
    with ops_store.connect() as sqlite_con:  # the session's SQLite store (no ops_url set yet)
        for table in _COPIED:
            rows[table] = sqlite_con.execute(f"SELECT * FROM {table}").fetchall()
    url = postgres_server.create_database(f"cityops_t{next(_pg_databases)}", template=postgres_template)
    monkeypatch.setenv("CITYOPS_OPS_URL", url)
    with ops_store.connect() as con:
        for table, width in _COPIED.items():
            if rows[table]:
                con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)}) ON CONFLICT DO NOTHING",
                                rows[table])
    yield url
    ops_store.dispose()


@pytest.fixture()
def ops_backend(request):
    """'sqlite' or 'postgresql' (then CITYOPS_OPS_URL points at a fresh PostgreSQL database for
    this test, and at nothing afterwards)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql":
        request.getfixturevalue("postgres_ops_url")
    return backend


# --- an S3-compatible object store (moto's server mode, tests/s3_server.py) --------------------

@pytest.fixture(scope="session")
def s3_server():
    from tests import s3_server as s3

    server = s3.Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def s3_store(s3_server, monkeypatch):
    """CITYOPS_SNAPSHOT_STORE = s3://<a fresh bucket>/city on the local S3 server (+ its endpoint
    and fake credentials); returns the store URL."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    url = f"s3://{s3_server.new_bucket()}/city"
    monkeypatch.setenv("CITYOPS_SNAPSHOT_STORE", url)
    return url
