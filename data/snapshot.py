"""Read side: which snapshot is current, and read-only DuckDB connections to it.

Each web worker process opens the current snapshot file read-only (lazily, after fork: the
process id is part of the cache key), with ``threads``/``memory_limit`` from settings and
external access disabled, and hands out one cursor per query. At most every
``snapshot_poll_s`` seconds it re-reads the pointer; when the version changed it opens the
new file and retires the old connection (closed a minute later, so queries running on it
finish first). A missing or corrupt pointer or snapshot raises ``DataUnavailable``,
which pages turn into a "no data published yet" message.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import duckdb

from data import publish, settings

DBS = ("ops", "public")


class DataUnavailable(RuntimeError):
    """No usable published snapshot (nothing published yet, or the files are damaged)."""


@dataclass
class _Open:
    version: str
    con: duckdb.DuckDBPyConnection


RETIRE_AFTER_S = 60.0
_lock = threading.Lock()
_state: dict = {"pid": None, "checked": 0.0, "open": {}, "retired": []}


def allowed_dbs() -> tuple[str, ...]:
    """The public process may only ever open the public snapshot."""
    return ("public",) if settings.mode() == "public" else DBS


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    config = {
        "threads": int(settings.get("db_threads")),
        "memory_limit": str(settings.get("db_memory_limit")),
        "enable_external_access": False,
        "lock_configuration": True,
    }
    con = duckdb.connect(path, read_only=True, config=config)
    con.execute("SELECT count(*) FROM meta").fetchall()  # warm up and check it is a snapshot
    return con


def _refresh(db: str, force: bool = False) -> _Open:
    now = time.monotonic()
    state = _state
    if state["pid"] != os.getpid():  # forked: connections of the parent are not ours
        state.update(pid=os.getpid(), checked=0.0, open={}, retired=[])
    current = state["open"].get(db)
    if current is not None and not force and now - state["checked"] < float(settings.get("snapshot_poll_s")):
        return current
    pointer = publish.read_pointer()
    state["checked"] = now
    if pointer is None:
        if current is not None:
            return current  # pointer briefly unreadable: keep serving what we have
        raise DataUnavailable("No data has been published yet.")
    if current is not None and current.version == pointer["version"]:
        return current
    path = settings.var_dir() / pointer[db]
    try:
        con = _connect(str(path))
    except (duckdb.Error, OSError) as exc:
        if current is not None:
            return current
        raise DataUnavailable(f"The published data could not be opened ({type(exc).__name__}).") from None
    opened = _Open(pointer["version"], con)
    # Closing a connection also closes its cursors, so a superseded one is closed only once
    # every query that could still be running on it has long finished.
    keep = []
    for retired_at, old in state["retired"]:
        if now - retired_at > RETIRE_AFTER_S:
            with contextlib.suppress(Exception):
                old.con.close()
        else:
            keep.append((retired_at, old))
    if current is not None:
        keep.append((now, current))
    state["retired"] = keep
    state["open"][db] = opened
    return opened


def current(db: str = "ops") -> _Open:
    if db not in allowed_dbs():
        raise PermissionError(f"snapshot {db!r} is not available in mode {settings.mode()!r}")
    with _lock:
        return _refresh(db)


def version(db: str = "ops") -> str:
    return current(db).version


@contextlib.contextmanager
def cursor(db: str = "ops") -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A cursor of its own for one query, and the data version it reads."""
    opened = current(db)
    cur = opened.con.cursor()
    try:
        yield cur, opened.version
    finally:
        cur.close()


def reset() -> None:
    """Forget open connections (tests, and after the var dir changes)."""
    with _lock:
        for item in list(_state["open"].values()) + [old for _, old in _state["retired"]]:
            with contextlib.suppress(Exception):
                item.con.close()
        _state.update(pid=None, checked=0.0, open={}, retired=[])
