"""Run a named SQL file from ``queries/`` against the current snapshot.

``run("ops/metric_series", metric="bike_trips", ...)`` reads ``queries/ops/metric_series.sql``
(one statement, ``$named`` parameters), binds the values, and returns a DataFrame whose
``attrs["version"]`` is the data version it was computed from. Query names are checked
against a strict pattern and must live under the folder of the database they run on
(``ops/`` or ``public/``), so no path or identifier ever comes from input. Results are
cached per process by (database, data version, query, params); a new version is a new key.

Access: rows of the ops snapshot are scoped to the districts of the caller
(``data.access``, default-deny). A query file whose first line is ``-- access: reference``
returns reference data every caller may see (district names and outlines); one whose first
line is ``-- access: records`` returns row-level records and needs the "records" permission.
"""
from __future__ import annotations

import functools
import re
import threading
import time
from datetime import date, datetime
from pathlib import Path

import cachetools
import duckdb
import pandas as pd

from data import access, settings, snapshot

QUERIES = Path(__file__).resolve().parent.parent / "queries"
_NAME = re.compile(r"^(ops|public)/[a-z0-9_]{1,60}$")
_SCALARS = (str, int, float, bool, date, datetime, type(None))


class QueryError(ValueError):
    pass


@functools.cache
def sql(name: str) -> str:
    """The text of queries/<name>.sql, after checking the name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise QueryError(f"invalid query name {name!r}")
    path = (QUERIES / f"{name}.sql").resolve()
    if QUERIES not in path.parents or not path.is_file():
        raise QueryError(f"unknown query {name!r}")
    return path.read_text(encoding="utf-8")


@functools.cache
def access_class(name: str) -> str:
    """'reference', 'records', 'admin' or 'scoped' (the default), from the query file's first line."""
    first = sql(name).lstrip().split("\n", 1)[0].strip().lower()
    match = re.fullmatch(r"--\s*access:\s*(reference|records|admin)", first)
    return match.group(1) if match else "scoped"


def _checked_access(name: str, db: str) -> str:
    """The access class of a query on `db`, after checking the caller may run it at all."""
    kind = access_class(name) if db == "ops" else "reference"
    if kind in ("records", "admin"):
        access.require(kind)
    return kind


def _freeze(value):
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, _SCALARS) for v in value):
            raise QueryError("list parameters may hold only scalar values")
        return tuple(value)
    if not isinstance(value, _SCALARS):
        raise QueryError(f"unsupported parameter type {type(value).__name__}")
    return value


_cache: cachetools.LRUCache = cachetools.LRUCache(maxsize=int(settings.get("query_cache_size")))
_cache_lock = threading.Lock()


def run(name: str, *, db: str | None = None, **params) -> pd.DataFrame:
    """Run queries/<name>.sql with bound params on the current snapshot of `db`."""
    text = sql(name)  # validates the name first
    db = db or name.split("/", 1)[0]
    if not name.startswith(db + "/"):
        raise QueryError(f"query {name!r} does not belong to database {db!r}")
    kind = _checked_access(name, db)
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    with snapshot.cursor(db) as (cur, version):
        key = (db, version, name, frozen)
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit.copy() if kind == "reference" else access.scope_frame(hit.copy())
        bound = {k: list(v) if isinstance(v, tuple) else v for k, v in frozen}
        frame = execute(cur, text, bound, float(settings.get("query_timeout_s")))
    frame.attrs["version"] = version
    with _cache_lock:
        _cache[key] = frame
    return frame.copy() if kind == "reference" else access.scope_frame(frame.copy())


def stream(name: str, *, chunk_rows: int = 10_000, **params):
    """Like :func:`run`, but yields the result in DataFrames of at most `chunk_rows` rows, for
    exports larger than memory should hold. Access is checked now, in the caller's request;
    the chunks are scoped to the same caller while they are read, and come from the version
    the request has pinned (held until the last chunk, even after a publish). Not cached."""
    text = sql(name)
    db = name.split("/", 1)[0]
    kind = _checked_access(name, db)
    principal = access.current()
    bound = {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, _freeze(v)) for k, v in params.items())}

    held = snapshot.hold(db)  # the version of this request, kept while the chunks are read

    def chunks():
        try:
            with access.acting_as(principal):
                cur = held.cursor()
                try:
                    reader = cur.sql(text, params=bound).to_arrow_reader(chunk_rows)  # lazy: one batch at a time
                    for batch in reader:
                        frame = batch.to_pandas()
                        frame.attrs["version"] = held.version
                        yield frame if kind == "reference" else access.scope_frame(frame)
                finally:
                    cur.close()
        finally:
            held.close()
    return chunks()


class QueryTimeout(QueryError):
    pass


class _Watchdog:
    """One daemon thread that interrupts statements past their deadline. DuckDB has no
    statement timeout of its own, and a ``threading.Timer`` per query started a thread for
    every statement (about a seventh of a cold explorer view's time under load)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._running: dict[int, tuple[float, object]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None

    def watch(self, cur, timeout_s: float) -> int:
        with self._lock:
            self._next += 1
            token = self._next
            self._running[token] = (time.monotonic() + timeout_s, cur)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="query-watchdog", daemon=True)
                self._thread.start()
            self._lock.notify()
            return token

    def done(self, token: int) -> None:
        with self._lock:
            self._running.pop(token, None)

    def _loop(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                late = [t for t, (deadline, _) in self._running.items() if deadline <= now]
                for token in late:
                    _, cur = self._running.pop(token)
                    try:
                        cur.interrupt()
                    except Exception:  # noqa: BLE001 - a closed cursor has nothing left to stop
                        pass
                wait = min((d for d, _ in self._running.values()), default=now + 60) - now
                self._lock.wait(timeout=max(wait, 0.01))


_watchdog = _Watchdog()


def execute(cur, text: str, params: dict, timeout_s: float) -> pd.DataFrame:
    """Run one statement on `cur`, interrupting it after `timeout_s` seconds (by the one
    watchdog thread: ``interrupt()`` from another thread stops a DuckDB query)."""
    token = _watchdog.watch(cur, timeout_s)
    try:
        return cur.execute(text, params).df()
    except duckdb.InterruptException:
        raise QueryTimeout(f"query stopped after {timeout_s:g} s") from None
    finally:
        _watchdog.done(token)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
