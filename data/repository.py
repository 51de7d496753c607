"""Run a named SQL file from ``queries/`` against the current snapshot.

``run("ops/metric_series", metric="bike_trips", ...)`` reads ``queries/ops/metric_series.sql``
(one statement, ``$named`` parameters), binds the values, and returns a DataFrame whose
``attrs["version"]`` is the data version it was computed from. Query names are checked
against a strict pattern and must live under the folder of the database they run on
(``ops/`` or ``public/``), so no path or identifier ever comes from input. Results are
cached per process by (database, data version, query, params); a new version is a new key.
"""
from __future__ import annotations

import functools
import re
import threading
from datetime import date, datetime
from pathlib import Path

import cachetools
import pandas as pd

from data import settings, snapshot

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
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    with snapshot.cursor(db) as (cur, version):
        key = (db, version, name, frozen)
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit.copy()
        bound = {k: list(v) if isinstance(v, tuple) else v for k, v in frozen}
        frame = cur.execute(text, bound).df()
    frame.attrs["version"] = version
    with _cache_lock:
        _cache[key] = frame
    return frame.copy()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
