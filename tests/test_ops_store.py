"""The ops store on SQLite (the default) and on PostgreSQL (ops_url): the schema is Alembic's,
an ops.sqlite made before Alembic upgrades in place, the portable forms of SQLite's own
spellings behave the same on both, and a held lock says "busy" fast on both."""
from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import datetime

import pytest

from data import access, annotations, episodes, ops_store, users
from tests import dash_http

# The schema main had before Alembic (data/ops_store.py and data/shiftlog.py, verbatim): what an
# existing var/ops.sqlite holds.
OLD_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
        districts TEXT NOT NULL DEFAULT '', disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, session_epoch INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS device_tokens (
        token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        created_at TEXT NOT NULL, revoked_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS annotations (
        id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
        starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, district_id TEXT, domain TEXT,
        kind TEXT NOT NULL, title TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS annotations_time ON annotations (starts_at, ends_at)",
    """CREATE TABLE IF NOT EXISTS alert_episodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, metric_id TEXT NOT NULL, district_id TEXT NOT NULL,
        rule TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL, domain TEXT,
        grain TEXT, first_period TEXT, last_period TEXT,
        opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT,
        value REAL, expected REAL, lower REAL, upper REAL, n INTEGER, target REAL,
        message TEXT, forecast_at TEXT,
        assignee TEXT, acknowledged_by TEXT, acknowledged_at TEXT, snoozed_until TEXT,
        data_version TEXT)""",
    """CREATE UNIQUE INDEX IF NOT EXISTS alert_episodes_live
        ON alert_episodes (metric_id, district_id, rule) WHERE state != 'resolved'""",
    "CREATE INDEX IF NOT EXISTS alert_episodes_state ON alert_episodes (state, opened_at)",
    """CREATE TABLE IF NOT EXISTS alert_transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, episode_id INTEGER NOT NULL REFERENCES alert_episodes(id),
        at TEXT NOT NULL, actor TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, note TEXT)""",
    "CREATE INDEX IF NOT EXISTS alert_transitions_episode ON alert_transitions (episode_id, id)",
    """CREATE TABLE IF NOT EXISTS alert_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, episode_id INTEGER NOT NULL REFERENCES alert_episodes(id),
        at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, epoch INTEGER NOT NULL,
        created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_subject ON sessions (kind, subject)",
    """CREATE TABLE IF NOT EXISTS login_failures (
        username TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at TEXT NOT NULL, locked_until TEXT)""",
    """CREATE TABLE IF NOT EXISTS shift_notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, author TEXT NOT NULL,
        district_id TEXT, text TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS shift_notes_at ON shift_notes (at)",
)
NEW_TABLES = {"notify_cursor", "notify_items", "notify_messages", "notify_log"}  # not in that file yet


def _old_store(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    for statement in OLD_SCHEMA:
        con.execute(statement)
    return con


def test_an_ops_sqlite_made_before_alembic_upgrades_in_place_and_keeps_its_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("CITYOPS_OPS_URL", raising=False)
    old = _old_store(tmp_path / ops_store.FILE)
    old.execute("INSERT INTO annotations (created_at, created_by, starts_at, ends_at, kind, title) "
                "VALUES ('2026-10-01 08:00:00', 'ada', '2026-10-01 00:00:00', '2026-10-02 00:00:00', 'event', 'Fair')")
    old.execute("INSERT INTO alert_episodes (metric_id, district_id, rule, severity, state, opened_at, updated_at) "
                "VALUES ('sr_opened', '101', 'anomaly', 'warning', 'open', '2026-10-01', '2026-10-01')")
    old.close()
    assert not (set(NEW_TABLES) & {r[0] for r in sqlite3.connect(tmp_path / ops_store.FILE).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")})

    made = users.add("old-store-admin", "old-store-password-1", "admin")  # first use: upgrade, then insert
    assert made.username == "old-store-admin"
    con = sqlite3.connect(tmp_path / ops_store.FILE)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert NEW_TABLES <= tables and "alembic_version" in tables
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(ops_store.head(),)]
    assert con.execute("SELECT title FROM annotations").fetchall() == [("Fair",)]  # rows kept
    con.close()
    # the upgraded file keeps SQLite's AUTOINCREMENT ids and the one-live-episode rule
    new_id = annotations.add(created_by="old-store-admin", title="Parade", kind="event",
                             starts_at=datetime(2026, 10, 3), ends_at=datetime(2026, 10, 4))
    assert new_id == 2
    with ops_store.connect() as store, pytest.raises(sqlite3.IntegrityError):
        store.execute("INSERT INTO alert_episodes (metric_id, district_id, rule, severity, state, opened_at, "
                      "updated_at) VALUES ('sr_opened', '101', 'anomaly', 'warning', 'open', 'x', 'x')")
    # a second process (a fresh schema check) finds it at the newest revision and changes nothing
    ops_store._ready.clear()
    ops_store.upgrade()
    assert users.get("old-store-admin") is not None


def test_a_new_sqlite_store_is_made_by_alembic_private_and_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("CITYOPS_OPS_URL", raising=False)
    assert users.get("nobody") is None
    path = tmp_path / ops_store.FILE
    assert path.stat().st_mode & 0o077 == 0
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone() == (ops_store.head(),)


@pytest.mark.ops_store
def test_portable_forms_behave_the_same_on_both(ops_backend):
    tag = uuid.uuid4().hex[:8]
    with ops_store.connect() as con:
        assert con.dialect == ops_backend
        ids = []
        for i in range(3):  # AUTOINCREMENT / identity ids, read back as lastrowid
            cur = con.execute("INSERT INTO shift_notes (at, author, district_id, text) VALUES (?, ?, ?, ?)",
                              (f"2026-11-0{i + 1} 08:00:00", f"a-{tag}", None, "50 % done; 'quoted' ?"))
            ids.append(cur.lastrowid)
        assert ids == sorted(ids) and len(set(ids)) == 3
        assert con.execute("SELECT text FROM shift_notes WHERE id = ?", (ids[0],)).fetchone() == \
            ("50 % done; 'quoted' ?",)  # % and ? inside a bound value are data
        assert con.execute("SELECT count(*) FROM shift_notes WHERE text LIKE '50 %' AND author = ?",
                           (f"a-{tag}",)).fetchone()[0] == 3  # a literal % in the SQL
        # ON CONFLICT DO NOTHING (was INSERT OR IGNORE): the duplicate is skipped, rowcount 0
        row = (1, 1, f"r-{tag}", "webhook", "opened", "warning", "t", "t", "pending", "{}")
        sql = ("INSERT INTO notify_items (event_id, episode_id, route, channel, kind, severity, created_at, due_at, "
               "status, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
        assert con.execute(sql, row).rowcount == 1 and con.execute(sql, row).rowcount == 0
        # at most one live episode per metric x district x rule; resolved ones may repeat
        episode = ("INSERT INTO alert_episodes (metric_id, district_id, rule, severity, state, opened_at, updated_at, "
                   "value) VALUES (?, '101', 'anomaly', 'warning', ?, 't', 't', ?)")
        for state in ("resolved", "resolved", "open"):
            con.execute(episode, (f"m-{tag}", state, 1 / 3))
        with pytest.raises(Exception) as raised:
            con.execute(episode, (f"m-{tag}", "acknowledged", 0.0))
        assert "unique" in str(raised.value).lower()
        assert con.execute("SELECT value FROM alert_episodes WHERE metric_id = ? AND state = 'open'",
                           (f"m-{tag}",)).fetchone()[0] == 1 / 3  # double precision, not float4
        # text sorts byte-wise on both (ISO timestamps, names): 'B' < 'a', ' ' < 'T'
        names = [f"{tag}-a", f"{tag}-B", f"{tag}-2026-11-01T09", f"{tag}-2026-11-01 10"]
        for name in names:
            con.execute("INSERT INTO login_failures VALUES (?, 1, 't', NULL)", (name,))
        got = [r[0] for r in con.execute("SELECT username FROM login_failures WHERE username LIKE ? "
                                         "ORDER BY username", (f"{tag}-%",))]
        assert got == sorted(names)


@pytest.mark.ops_store
def test_a_serialized_write_waits_for_another_and_both_land(ops_backend):
    """Two writers in begin_immediate at once (the detector and a notifier, two hosts): the
    second waits for the first (within the busy timeout) instead of interleaving."""
    tag = uuid.uuid4().hex[:8]
    order = []

    def writer(name, hold):
        with ops_store.connect() as con:
            con.begin_immediate()
            order.append(f"{name}-in")
            time.sleep(hold)
            con.execute("INSERT INTO shift_notes (at, author, text) VALUES ('t', ?, ?)", (f"w-{tag}", name))
            order.append(f"{name}-out")
            con.commit()

    first = threading.Thread(target=writer, args=("first", 0.2))
    first.start()
    time.sleep(0.05)
    writer("second", 0)
    first.join()
    assert order == ["first-in", "first-out", "second-in", "second-out"]


# ---------------------------------------------------------------------------- PostgreSQL only
@pytest.fixture()
def pg(postgres_ops_url):
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_ops_url)
    con = psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True)
    yield con
    con.close()


@pytest.mark.postgres
def test_a_held_table_lock_on_postgresql_is_busy_within_the_timeout(pg, accounts):
    with ops_store.connect() as con:
        assert con.dialect == "postgresql"
    pg.execute("BEGIN")
    pg.execute("LOCK TABLE annotations IN ACCESS EXCLUSIVE MODE")  # a long migration, a stuck admin
    try:
        started = time.monotonic()
        with pytest.raises(ops_store.Busy, match="busy"):
            annotations.add(created_by="test-admin", title="Bridge closed", kind="event",
                            starts_at=datetime(2026, 10, 20), ends_at=datetime(2026, 10, 22))
        elapsed = time.monotonic() - started
        assert 0.4 < elapsed < 2.0, elapsed  # ops_busy_timeout_s = 0.5
        assert users.get("test-admin") is not None  # other tables keep working
    finally:
        pg.execute("ROLLBACK")
    assert annotations.add(created_by="test-admin", title="Bridge closed", kind="event",
                           starts_at=datetime(2026, 10, 20), ends_at=datetime(2026, 10, 22)) > 0


@pytest.mark.postgres
def test_a_held_write_lock_on_postgresql_makes_an_alert_action_busy_not_stuck(pg, accounts):
    pg.execute("BEGIN")
    pg.execute("SELECT pg_advisory_xact_lock(%s)", (ops_store._WRITE_LOCK,))  # another host's transaction
    try:
        started = time.monotonic()
        with access.system(), pytest.raises(ops_store.Busy):
            episodes.acknowledge(1, "test-admin")
        assert time.monotonic() - started < 2.0
    finally:
        pg.execute("ROLLBACK")


@pytest.mark.postgres
def test_the_annotation_form_says_not_saved_fast_when_postgresql_is_locked(pg, client):
    pg.execute("BEGIN")
    pg.execute("LOCK TABLE annotations IN ACCESS EXCLUSIVE MODE")
    try:
        dep = dash_http.find(dash_http.dependencies(client), "explore-note-result")
        started = time.monotonic()
        status, _body, text = dash_http.call(client, dep, [1], ["Bridge closed", "event", "2026-10-20", "2026-10-22",
                                                                None, {"metric": "bike_trips"}, 0])
        assert status == 200 and "The annotation was not saved: the ops store is busy; try again" in text, text[:300]
        assert time.monotonic() - started < 2.5
    finally:
        pg.execute("ROLLBACK")


def test_an_unreachable_ops_server_is_busy_fast_not_a_crash(monkeypatch):
    from tests import live

    port = live.free_port()  # nothing listens there
    monkeypatch.setenv("CITYOPS_OPS_URL", f"postgresql+psycopg://cityops@127.0.0.1:{port}/cityops")
    started = time.monotonic()
    with pytest.raises(ops_store.Unavailable):
        users.get("anyone")
    assert time.monotonic() - started < 3.0
