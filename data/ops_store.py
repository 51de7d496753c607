"""The ops store: small mutable state of the operations site that must survive republishing
and be shared by every web worker (and, on PostgreSQL, every app host): users, sessions, wall
device tokens and heartbeats, annotations, alert episodes (their lifecycle, the audit trail of
every transition, and the outbox notifications read), the shift log.

Where it lives is one setting, ``ops_url`` (an SQLAlchemy URL):

* empty (the default): the SQLite file ``<var>/ops.sqlite`` (WAL journal), embedded, for one
  machine — any number of gunicorn worker processes write to it at once, which a DuckDB file
  would not allow;
* ``postgresql+psycopg://user:password@host/db``: a PostgreSQL server every app host shares.

SQLAlchemy (Core) makes the connections (a pool per process for PostgreSQL), Alembic keeps the
schema (``data/migrations``; the first revision is the schema SQLite files had before, so an
existing ``ops.sqlite`` upgrades in place). The schema is brought to the newest revision once
per process and store, under a lock (a file lock for SQLite, an advisory lock on PostgreSQL),
so workers starting together do not race.

Callers get a thin :class:`Connection`: ``execute(sql, params)`` / ``executemany`` with ``?``
placeholders on either database, a result with ``fetchone`` / ``fetchall`` / iteration /
``rowcount`` / ``lastrowid``, autocommit per statement, and ``begin_immediate()`` /
``commit()`` / ``rollback()`` for the few multi-statement writes that must be serialized
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``BEGIN`` + a transaction advisory lock). Values are
always bound parameters.

A lock held on the store (a long write, a backup tool, a stuck transaction) must never stall
the site: a request waits at most ``ops_busy_timeout_s`` (0.5 s) for it, then :class:`Busy`
says the store is busy, and the caller says what was not done ("The annotation was not saved:
…"). On SQLite that is the busy timeout; on PostgreSQL ``lock_timeout`` (and a
``statement_timeout`` of ``query_timeout_s``), and a server that cannot be reached raises
:class:`Unavailable` (a kind of Busy) after a connect timeout of the same length, rounded up
to whole seconds. Reads do not wait for writers (WAL; MVCC). The public site never opens the
ops store.
"""
from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sqlite3
import threading
from pathlib import Path

from data import settings

FILE = "ops.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_WRITE_LOCK = 7_310_019  # the pg_advisory_xact_lock key begin_immediate() takes (any constant)
_MIGRATE_LOCK = 7_310_020


class Busy(sqlite3.OperationalError):
    """The store is locked by someone else longer than ops_busy_timeout_s."""


class Unavailable(Busy):
    """The store (a PostgreSQL server) cannot be reached."""


BUSY_MESSAGE = "the ops store is busy; try again"
UNAVAILABLE_MESSAGE = "the ops store cannot be reached; try again"


def url() -> str:
    """The ops store's SQLAlchemy URL (``ops_url``, else the SQLite file in the var dir)."""
    configured = str(settings.get("ops_url") or "").strip()
    return configured or f"sqlite:///{settings.var_dir() / FILE}"


def is_postgresql(store_url: str | None = None) -> bool:
    return (store_url or url()).startswith("postgresql")


# --- errors -----------------------------------------------------------------------------------

def _sqlite_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _pg_error(exc: BaseException) -> Busy | None:
    """The Busy an error of psycopg stands for, or None."""
    try:
        import psycopg
        from psycopg import errors
    except ImportError:  # pragma: no cover - psycopg is pinned
        return None
    if isinstance(exc, (errors.LockNotAvailable, errors.QueryCanceled, errors.DeadlockDetected,
                        errors.SerializationFailure)):
        return Busy(BUSY_MESSAGE)
    if isinstance(exc, psycopg.OperationalError):  # refused, timed out, server gone
        return Unavailable(UNAVAILABLE_MESSAGE)
    return None


def _translate(exc: BaseException) -> BaseException | None:
    from sqlalchemy import exc as sa_exc

    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    if isinstance(orig, Busy):
        return None
    if _sqlite_busy(orig):
        return Busy(BUSY_MESSAGE)
    return _pg_error(orig)


# --- engines --------------------------------------------------------------------------------

_engines: dict[tuple, object] = {}
_engines_lock = threading.Lock()


def _timeout() -> float:
    return float(settings.get("ops_busy_timeout_s"))


def _engine(store_url: str):
    """One SQLAlchemy engine per (process, URL, timeouts): a pool of PostgreSQL connections,
    none for SQLite (a file connection is cheap, and a fresh one sees the file as it is now)."""
    key = (os.getpid(), store_url, _timeout(), float(settings.get("query_timeout_s")))
    engine = _engines.get(key)
    if engine is not None:
        return engine
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        if is_postgresql(store_url):
            lock_ms = max(1, int(_timeout() * 1000))
            statement_ms = max(lock_ms, int(float(settings.get("query_timeout_s")) * 1000))
            engine = create_engine(
                store_url, isolation_level="AUTOCOMMIT", pool_size=4, max_overflow=8, pool_pre_ping=True,
                pool_timeout=max(_timeout(), 1.0),
                connect_args={"connect_timeout": max(1, math.ceil(_timeout())),
                              "options": f"-c lock_timeout={lock_ms} -c statement_timeout={statement_ms} "
                                         f"-c idle_in_transaction_session_timeout={max(statement_ms, 60000)}"})
        else:
            engine = create_engine(store_url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                   connect_args={"timeout": _timeout()})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_con, _record):
                dbapi_con.execute("PRAGMA synchronous=NORMAL")
        _engines[key] = engine
    return engine


def dispose() -> None:
    """Close every pooled connection of this process (tests; a forked child gets new ones)."""
    for key, engine in list(_engines.items()):
        if key[0] == os.getpid():
            engine.dispose()
        _engines.pop(key, None)


# --- the connection callers use -----------------------------------------------------------------

def _to_format(sql: str) -> str:
    """``?`` placeholders → psycopg's ``%s`` (and a literal ``%`` → ``%%``), outside quotes."""
    out, quote = [], None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class Result:
    """What ``execute`` returns: rows as tuples, ``rowcount``, ``lastrowid`` (the id the last
    INSERT into a table with an integer ``id`` gave)."""

    def __init__(self, con: "Connection", cursor):
        self._con, self._cursor, self._serial = con, cursor, con._serial

    def fetchone(self):
        return self._con._guard(lambda: self._cursor.fetchone() if self._cursor.description else None)

    def fetchall(self):
        return self._con._guard(lambda: list(self._cursor.fetchall()) if self._cursor.description else [])

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self):
        if not self._con.postgresql:
            return self._cursor.lastrowid
        if self._serial != self._con._serial:
            raise RuntimeError("lastrowid: read it right after the INSERT")
        return self._con._guard(lambda: self._con._raw_execute("SELECT lastval()", None).fetchone()[0])


class Connection:
    """One connection to the ops store (see the module doc); autocommit per statement."""

    def __init__(self, sa_connection, postgresql: bool):
        self._sa = sa_connection
        self.postgresql = postgresql
        self.dialect = "postgresql" if postgresql else "sqlite"
        self._dbapi = sa_connection.connection.dbapi_connection
        self._serial = 0
        self.in_transaction = False

    def _guard(self, fn):
        try:
            return fn()
        except Busy:
            raise
        except Exception as exc:
            busy = _translate(exc)
            if busy is not None:
                raise busy from exc
            raise

    def _raw_execute(self, sql, params):
        cursor = self._dbapi.cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
        return cursor

    def execute(self, sql: str, params=()) -> Result:
        self._serial += 1
        params = tuple(params)
        if self.postgresql:
            statement, bound = (_to_format(sql), params) if params else (sql, None)
        else:
            statement, bound = sql, params
        return Result(self, self._guard(lambda: self._raw_execute(statement, bound)))

    def executemany(self, sql: str, seq) -> None:
        self._serial += 1
        statement = _to_format(sql) if self.postgresql else sql
        self._guard(lambda: self._dbapi.cursor().executemany(statement, [tuple(p) for p in seq]))

    def begin_immediate(self) -> None:
        """Start a transaction that holds the store's write lock until commit/rollback (one
        such writer at a time; waits at most ops_busy_timeout_s, else Busy)."""
        if self.postgresql:
            self._raw_execute("BEGIN", None)
            self.in_transaction = True
            self.execute("SELECT pg_advisory_xact_lock(?)", (_WRITE_LOCK,)).fetchone()
        else:
            self.execute("BEGIN IMMEDIATE")
            self.in_transaction = True

    def commit(self) -> None:
        self.execute("COMMIT")
        self.in_transaction = False

    def rollback(self) -> None:
        self.in_transaction = False
        self._guard(lambda: self._raw_execute("ROLLBACK", None))


# --- schema (Alembic) ----------------------------------------------------------------------

_ready: set[str] = set()  # URLs whose schema this process has brought to the newest revision
_ready_lock = threading.Lock()


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def upgrade(store_url: str | None = None) -> None:
    """Bring the store's schema to the newest Alembic revision (idempotent; a lock keeps two
    processes from migrating at once). `python -m data.ops_store upgrade` runs it by hand."""
    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    store_url = store_url or url()
    if is_postgresql(store_url):
        engine = create_engine(store_url, poolclass=NullPool, connect_args={"connect_timeout": 10})
        try:
            with engine.begin() as con:
                con.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
                command.upgrade(_alembic_config(con), "head")
        finally:
            engine.dispose()
        return
    path = Path(store_url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # password hashes and device tokens: readable by the service user only
        path.touch(mode=0o600)
    lock_path = path.with_name(path.name + ".migrate-lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        engine = create_engine(store_url, poolclass=NullPool, connect_args={"timeout": 30})
        try:
            with engine.connect() as con:
                con.exec_driver_sql("PRAGMA journal_mode=WAL")  # kept in the file
                con.commit()
            with engine.begin() as con:
                command.upgrade(_alembic_config(con), "head")
        finally:
            engine.dispose()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _ensure_schema(store_url: str) -> None:
    if store_url in _ready and (is_postgresql(store_url) or Path(store_url.removeprefix("sqlite:///")).exists()):
        return
    with _ready_lock:
        if store_url in _ready and not is_postgresql(store_url) \
                and not Path(store_url.removeprefix("sqlite:///")).exists():
            _ready.discard(store_url)  # the file was removed: make it again
        if store_url in _ready:
            return
        try:
            upgrade(store_url)
        except Exception as exc:
            busy = _translate(exc)
            if busy is not None:
                raise busy from exc
            raise
        _ready.add(store_url)


@contextlib.contextmanager
def connect():
    """A :class:`Connection` to the ops store (schema brought up to date once per process),
    closed (returned to the pool) on exit; a transaction left open is rolled back. A lock held
    longer than ``ops_busy_timeout_s`` raises :class:`Busy`."""
    store_url = url()
    _ensure_schema(store_url)
    postgresql = is_postgresql(store_url)
    try:
        sa_con = _engine(store_url).connect()
    except Exception as exc:
        busy = _translate(exc)
        if busy is not None:
            raise busy from exc
        raise
    con = Connection(sa_con, postgresql)
    try:
        yield con
    finally:
        try:
            if con.in_transaction:
                con.rollback()
        finally:
            sa_con.close()


# --- small SQLite side files (not the ops store) ----------------------------------------------

@contextlib.contextmanager
def sqlite_file(name: str, schema):
    """A connection to <var>/<name> (WAL journal, autocommit, a short busy timeout:
    ``ops_busy_timeout_s``) with `schema` (CREATE … IF NOT EXISTS statements) applied; closed on
    exit. A lock held longer than the timeout raises :class:`Busy`."""
    try:
        with _sqlite_file(name, schema) as con:
            yield con
    except sqlite3.OperationalError as exc:
        if _sqlite_busy(exc) and not isinstance(exc, Busy):
            raise Busy(BUSY_MESSAGE) from exc
        raise


_side_ready: set[str] = set()


@contextlib.contextmanager
def _sqlite_file(name: str, schema):
    path = settings.var_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
        _side_ready.discard(str(path))
    con = sqlite3.connect(path, timeout=_timeout(), isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=NORMAL")
        if str(path) not in _side_ready:
            con.execute("PRAGMA journal_mode=WAL")
            for statement in schema:
                con.execute(statement)
            _side_ready.add(str(path))
        yield con
    finally:
        con.close()


class NotEmpty(Exception):
    """copy(): the target store already holds rows (and force was not given)."""


def copy(source_url: str, target_url: str, force: bool = False) -> dict[str, int]:
    """Copy every row of the ops store at `source_url` (e.g. a city's ``sqlite:///var/ops.sqlite``)
    into `target_url` (e.g. PostgreSQL): both brought to the newest schema by Alembic, the
    target's tables filled in foreign-key order in one transaction, its id sequences moved past
    the copied ids. A target holding any row is refused (:class:`NotEmpty`) unless `force`, which
    empties it first. Returns the rows copied per table. SQLAlchemy Core statements only (no SQL
    text): the same code for either database."""
    import sqlalchemy as sa

    source_url, target_url = _driver(source_url), _driver(target_url)
    upgrade(source_url)
    upgrade(target_url)
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    counts: dict[str, int] = {}
    try:
        meta = sa.MetaData()
        meta.reflect(bind=target)
        tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]  # parents first
        with source.connect() as src, target.begin() as dst:
            occupied = [t.name for t in tables if dst.execute(sa.select(sa.func.count()).select_from(t)).scalar()]
            if occupied and not force:
                raise NotEmpty(f"{_redacted(target_url)} already holds rows in {', '.join(occupied)} (--force empties it)")
            for table in reversed(tables):
                dst.execute(table.delete())
            source_meta = sa.MetaData()
            source_meta.reflect(bind=src)
            for table in tables:
                src_table = source_meta.tables.get(table.name)
                if src_table is None:  # e.g. screens_owned: on SQLite in its own file (wall_screens.sqlite)
                    counts[table.name] = 0
                    continue
                columns = [c.name for c in table.columns if c.name in src_table.c]
                order = list(src_table.primary_key.columns) or [src_table.c[columns[0]]]
                rows = [dict(row._mapping) for row in src.execute(sa.select(*(src_table.c[c] for c in columns)).order_by(*order))]
                for start in range(0, len(rows), 5000):
                    dst.execute(table.insert(), rows[start:start + 5000])
                counts[table.name] = len(rows)
                _reset_sequence(dst, table)
    finally:
        source.dispose()
        target.dispose()
    return counts


def _driver(store_url: str) -> str:
    """postgresql://... means the psycopg (3) driver this project installs."""
    return "postgresql+psycopg://" + store_url[len("postgresql://"):] if store_url.startswith("postgresql://") else store_url


def _reset_sequence(con, table) -> None:
    """PostgreSQL: the id sequence of `table` (serial or identity) continues after its largest id."""
    import sqlalchemy as sa

    if con.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if not isinstance(column.type, sa.Integer):
            continue
        sequence = con.execute(sa.select(sa.func.pg_get_serial_sequence(table.name, column.name))).scalar()
        if sequence is None:
            continue
        largest = con.execute(sa.select(sa.func.max(column))).scalar()
        con.execute(sa.select(sa.func.setval(sequence, (largest or 0) + 1, False)))


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m data.ops_store", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["upgrade", "current", "head", "copy"])
    parser.add_argument("--from", dest="source", help="copy: the store to read (e.g. sqlite:///var/ops.sqlite)")
    parser.add_argument("--to", dest="target", help="copy: the store to fill (e.g. postgresql+psycopg://...)")
    parser.add_argument("--force", action="store_true", help="copy: empty a target that already holds rows")
    args = parser.parse_args(argv)
    if args.command == "copy":
        if not args.source or not args.target:
            parser.error("copy needs --from and --to")
        try:
            counts = copy(args.source, args.target, force=args.force)
        except NotEmpty as exc:
            print(f"refused: {exc}")
            return 2
        for table, n in counts.items():
            print(f"{table:24} {n:>9,} rows")
        print(f"copied {_redacted(args.source)} -> {_redacted(args.target)}, at revision {head()}")
    elif args.command == "head":
        print(head())
    elif args.command == "upgrade":
        upgrade()
        print(f"{_redacted(url())}: at revision {head()}")
    else:
        from alembic.migration import MigrationContext
        from sqlalchemy import create_engine

        engine = create_engine(url())
        with engine.connect() as con:
            print(MigrationContext.configure(con).get_current_revision() or "(no revision)")
        engine.dispose()
    return 0


def _redacted(store_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(store_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
