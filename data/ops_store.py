"""The ops store: small mutable state of the operations site that must survive republishing
and be shared by every web worker: users, wall device tokens, annotations, alert episodes (their
lifecycle, the audit trail of every transition, and the outbox notifications read).

A SQLite file in the var dir (``ops.sqlite``, WAL journal), because any number of gunicorn
worker processes write to it at once, which a DuckDB file would not allow. Values are always
bound parameters.

A lock held on the file (a long write, a backup tool) must never stall the site: a request
waits at most ``ops_busy_timeout_s`` (0.5 s) for it, then :class:`Busy` says the store is busy,
and the caller says what was not done ("The annotation was not saved: …"). Reads do not wait
for writers (WAL). The public site never opens the ops store.
"""
from __future__ import annotations

import contextlib
import sqlite3

from data import settings

FILE = "ops.sqlite"
_SCHEMA = (
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
    # alert episodes (data/episodes.py): one row per metric x district x rule episode
    """CREATE TABLE IF NOT EXISTS alert_episodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, metric_id TEXT NOT NULL, district_id TEXT NOT NULL,
        rule TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL, domain TEXT,
        grain TEXT, first_period TEXT, last_period TEXT,
        opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT,
        value REAL, expected REAL, lower REAL, upper REAL, n INTEGER, target REAL,
        message TEXT, forecast_at TEXT,
        assignee TEXT, acknowledged_by TEXT, acknowledged_at TEXT, snoozed_until TEXT,
        data_version TEXT)""",
    # at most one episode that is not resolved per metric x district x rule
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
    # sign-ins and wall screens' sessions (data.users): the cookie carries the id, this keeps
    # its hash; sign-out, removal, disabling and a password reset delete the rows
    """CREATE TABLE IF NOT EXISTS sessions (
        session_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, epoch INTEGER NOT NULL,
        created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_subject ON sessions (kind, subject)",
    # failed sign-ins per account name (data.users: back-off)
    """CREATE TABLE IF NOT EXISTS login_failures (
        username TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at TEXT NOT NULL, locked_until TEXT)""",
)


class Busy(sqlite3.OperationalError):
    """The store is locked by someone else longer than ops_busy_timeout_s."""


BUSY_MESSAGE = "the ops store is busy; try again"


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


@contextlib.contextmanager
def sqlite_file(name: str, schema):
    """A connection to <var>/<name> (WAL journal, autocommit, a short busy timeout:
    ``ops_busy_timeout_s``) with `schema` (CREATE … IF NOT EXISTS statements) applied; closed on
    exit. A lock held longer than the timeout raises :class:`Busy`."""
    try:
        with _sqlite_file(name, schema) as con:
            yield con
    except sqlite3.OperationalError as exc:
        if _is_busy(exc) and not isinstance(exc, Busy):
            raise Busy(BUSY_MESSAGE) from exc
        raise


@contextlib.contextmanager
def _sqlite_file(name: str, schema):
    path = settings.var_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # password hashes and device tokens: readable by the service user only
        path.touch(mode=0o600)
        _ready.discard(str(path))
    con = sqlite3.connect(path, timeout=float(settings.get("ops_busy_timeout_s")), isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=NORMAL")
        if str(path) not in _ready:  # once per process and file: every request connects
            con.execute("PRAGMA journal_mode=WAL")  # (the journal mode is kept in the file)
            for statement in schema:
                con.execute(statement)
            _ready.add(str(path))
        yield con
    finally:
        con.close()


_ready: set[str] = set()  # files whose schema this process has applied


def connect():
    return sqlite_file(FILE, _SCHEMA)
