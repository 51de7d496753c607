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
    # annotations: edits, deletion, the public flag and its review (data.annotations), and the
    # audit trail of every change (issue 17); the columns are added to older files below
    """CREATE TABLE IF NOT EXISTS annotation_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, annotation_id INTEGER NOT NULL, at TEXT NOT NULL,
        actor TEXT NOT NULL, action TEXT NOT NULL, before TEXT, after TEXT)""",
    "CREATE INDEX IF NOT EXISTS annotation_audit_note ON annotation_audit (annotation_id, id)",
    lambda con: add_columns(con, "annotations", ANNOTATION_COLUMNS),
    # failed sign-ins per account name (data.users: back-off)
    """CREATE TABLE IF NOT EXISTS login_failures (
        username TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at TEXT NOT NULL, locked_until TEXT)""",
)


# columns added to ``annotations`` after it first shipped (safe ALTERs, see add_columns)
ANNOTATION_COLUMNS = (
    ("updated_at", "TEXT"), ("updated_by", "TEXT"), ("deleted_at", "TEXT"), ("deleted_by", "TEXT"),
    ("public", "INTEGER NOT NULL DEFAULT 0"),  # the author asks for it on the public site
    ("review", "TEXT NOT NULL DEFAULT 'none'"),  # none | pending | approved | rejected
    ("reviewed_by", "TEXT"), ("reviewed_at", "TEXT"),
)


def add_columns(con, table: str, columns) -> None:
    """ALTER TABLE … ADD COLUMN for each (name, type) the table lacks (an existing file keeps
    its rows; a new one gets them too). Identifiers come from this module, never from input."""
    have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns:
        if name not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


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
                statement(con) if callable(statement) else con.execute(statement)
            _ready.add(str(path))
        yield con
    finally:
        con.close()


_ready: set[str] = set()  # files whose schema this process has applied


def connect():
    return sqlite_file(FILE, _SCHEMA)
