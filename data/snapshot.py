"""Read side: which snapshot is current, and read-only DuckDB connections to it.

Each web worker process opens the current snapshot file read-only (lazily, after fork: the
process id is part of the state), with ``threads``/``memory_limit`` from settings and
external access disabled, and hands out one cursor per query.

**Fresh within the poll.** Each database (``ops``, ``public``) keeps its own poll state. On
its first use in a request a worker looks at the CURRENT pointer's file identity (one
``stat``: ``os.replace`` gives every flip a new inode) and re-reads the pointer when it
changed, and in any case at least every ``snapshot_poll_s`` seconds; so no worker serves a
superseded version longer than the poll interval (in practice: one request).

**Never backwards.** A worker only ever moves to a newer version than the one it serves.

**One response, one version.** Inside :func:`pinned` (every Flask request and so every Dash
callback, see :func:`install`) the first read of a database pins the version it opened, and
every later ``repository.run`` / ``version`` / ``stream`` of the same request uses it, even if
a publish flips the pointer meanwhile. A superseded connection stays open while any request
(or a streamed download) still holds it, and is closed when the last one lets go.

**Damaged or missing snapshot.** When the current release cannot be opened (missing file,
wrong size, not a DuckDB file, its ``meta`` table does not name the version) the worker keeps
serving the version it has, or, with none, falls back to the newest older release still on
disk, logs an error once and reports it through :func:`status` (the shell's data line says so,
``/data`` alerts the operators). With nothing usable, ``DataUnavailable``.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import duckdb

from data import releases as release_files
from data import settings, snapshot_store

log = logging.getLogger(__name__)

DBS = ("ops", "public")


class DataUnavailable(RuntimeError):
    """No usable published snapshot (nothing published yet, or the files are damaged)."""


@dataclass(eq=False)
class _Open:
    version: str
    con: duckdb.DuckDBPyConnection
    users: int = 0            # requests / cursors / streams holding it
    retired: bool = False     # superseded: closed when the last user lets go
    fallback: str | None = None  # why this is not the release the pointer names (None: it is)
    wanted: str | None = None    # the version the pointer names, when falling back


@dataclass
class _Db:
    opened: _Open | None = None
    checked: float = float("-inf")  # monotonic time the pointer was last read for this db
    stamp: tuple | None = None      # the pointer file's identity when it was read
    logged: set = field(default_factory=set)  # (version, reason) already logged as errors


_lock = threading.RLock()
_state: dict = {"pid": None, "dbs": {}}
# The pins of the current request: db -> _Open (None outside a pinned scope).
_pins: contextvars.ContextVar[dict | None] = contextvars.ContextVar("cityops_snapshot_pins", default=None)


def allowed_dbs() -> tuple[str, ...]:
    """The public process may only ever open the public snapshot."""
    return ("public",) if settings.mode() == "public" else DBS


# --------------------------------------------------------------------------- opening
def _connect(path: Path, version: str | None, size: int | None) -> duckdb.DuckDBPyConnection:
    """Open one release read-only and check it is the release it claims to be."""
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing")
    if size is not None and path.stat().st_size != size:
        raise OSError(f"{path.name} is {path.stat().st_size} bytes, the publish wrote {size}")
    config = {
        "threads": int(settings.get("db_threads")),
        "memory_limit": str(settings.get("db_memory_limit")),
        "enable_external_access": False,
        "lock_configuration": True,
    }
    con = duckdb.connect(str(path), read_only=True, config=config)
    try:
        found = con.execute("SELECT version FROM meta").fetchall()  # warm up and check it is a snapshot
        if version is not None and (len(found) != 1 or found[0][0] != version):
            raise OSError(f"{path.name} does not hold release {version}")
    except BaseException:
        con.close()
        raise
    return con


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


releases = release_files.releases  # (version, path) of every complete release of a db on disk, newest first


def _pointer_stamp() -> tuple | None:
    try:
        st = os.stat(release_files.pointer_path())
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _log_once(state: _Db, version: str | None, message: str) -> None:
    key = (version, message)
    if key not in state.logged:
        state.logged.add(key)
        log.error("%s", message)


def _fallback(db: str, state: _Db, below: str | None, wanted: str | None, why: str) -> _Open | None:
    """The newest older release on disk that opens (versions < `below`), marked as a fallback."""
    for version, path in releases(db):
        if below is not None and version >= below:
            continue
        try:
            con = _connect(path, version, None)
        except (duckdb.Error, OSError):
            continue
        note = f"{why}; serving the previous release {version}"
        _log_once(state, wanted, f"snapshot {db}: {note}")
        _alert_operators()
        return _Open(version, con, fallback=why, wanted=wanted)
    return None


def _replace(state: _Db, opened: _Open) -> _Open:
    old = state.opened
    state.opened = opened
    if old is not None and old is not opened:
        old.retired = True
        _close_if_unused(old)
    return opened


def _close_if_unused(opened: _Open) -> None:
    if opened.retired and opened.users <= 0:
        with contextlib.suppress(Exception):
            opened.con.close()


def _refresh(db: str) -> _Open:
    """The release this worker serves for `db` now (re-reading the pointer when it is due)."""
    if _state["pid"] != os.getpid():  # forked: connections of the parent are not ours
        _state.update(pid=os.getpid(), dbs={})
    state = _state["dbs"].setdefault(db, _Db())
    current = state.opened
    if not _pointer_due(state, current):
        return current
    pointer = release_files.read_pointer()
    if pointer is None:
        return _without_pointer(db, state, current)
    wanted = str(pointer["version"])
    if current is not None:
        if current.version == wanted:
            return current
        if current.version > wanted:  # never backwards: an older pointer is not followed
            _log_once(state, wanted, f"snapshot {db}: the pointer names {wanted}, older than the "
                                     f"{current.version} served; keeping {current.version}")
            return current
    return _follow(db, state, current, pointer, wanted)


def _pointer_due(state: _Db, current: _Open | None) -> bool:
    """Whether to read the pointer again: nothing served yet, the pointer file changed, or the
    poll interval passed. Pulls a newer release from the shared store first (several hosts)."""
    now = time.monotonic()
    stamp = _pointer_stamp()
    poll = float(settings.get("snapshot_poll_s"))
    if current is not None and stamp == state.stamp and now - state.checked < poll:
        return False
    if snapshot_store.configured() is not None:  # several hosts: copy a newer release here first
        snapshot_store.pull(allowed_dbs())
        stamp = _pointer_stamp()
    state.checked, state.stamp = now, stamp
    return True


def _without_pointer(db: str, state: _Db, current: _Open | None) -> _Open:
    """No readable pointer: keep serving what we have, else the newest release that opens."""
    if current is not None:
        return current  # pointer briefly unreadable: keep serving what we have
    if not releases(db):
        raise DataUnavailable("No data has been published yet.")
    opened = _fallback(db, state, None, None, "the CURRENT pointer is missing or unreadable")
    if opened is None:
        raise DataUnavailable("The published data could not be opened (no release on disk opens).")
    return _replace(state, opened)


def _follow(db: str, state: _Db, current: _Open | None, pointer: dict, wanted: str) -> _Open:
    """Open the release the pointer names; if it does not open, keep the one served (saying
    why) or fall back to the newest earlier one that opens."""
    path = settings.var_dir() / pointer[db]
    size = (pointer.get("bytes") or {}).get(db) if isinstance(pointer.get("bytes"), dict) else None
    try:
        con = _connect(path, wanted, size if isinstance(size, int) else None)
    except (duckdb.Error, OSError) as exc:
        why = f"the current release {wanted} could not be opened ({_reason(exc)})"
        if current is not None:  # keep what we serve (older than the wanted one), and say why
            if current.fallback is None or current.wanted != wanted:
                _log_once(state, wanted, f"snapshot {db}: {why}; serving the previous release {current.version}")
                current.fallback, current.wanted = why, wanted
                _alert_operators()
            return current
        opened = _fallback(db, state, wanted, wanted, why)
        if opened is None:
            _log_once(state, wanted, f"snapshot {db}: {why}; no earlier release on disk opens")
            raise DataUnavailable(f"The published data could not be opened ({type(exc).__name__}).") from None
        return _replace(state, opened)
    if current is not None and current.fallback is not None:
        _alert_operators()  # the release the pointer names opens again: the episode can resolve
    return _replace(state, _Open(wanted, con))


_on_fallback: list = []


def on_fallback(listener) -> None:
    """Call `listener()` whenever this process starts or stops serving an older release than
    the pointer names (data.release_alert registers its check, which opens or resolves the
    operators' alert episode in the background)."""
    if listener not in _on_fallback:
        _on_fallback.append(listener)


def _alert_operators() -> None:
    for listener in list(_on_fallback):
        try:
            listener()
        except Exception:
            log.exception("could not start the release alert check")


# --------------------------------------------------------------------------- pinning
def _acquire(db: str) -> _Open:
    if db not in allowed_dbs():
        raise PermissionError(f"snapshot {db!r} is not available in mode {settings.mode()!r}")
    pins = _pins.get()
    with _lock:
        if pins is not None and db in pins:
            opened = pins[db]
        else:
            opened = _refresh(db)
            if pins is not None:
                pins[db] = opened
                opened.users += 1  # held until the pinned scope ends
        opened.users += 1
        return opened


def _release(opened: _Open) -> None:
    with _lock:
        opened.users -= 1
        _close_if_unused(opened)


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """Everything read inside comes from one version per database (the first one read)."""
    if _pins.get() is not None:  # nested: the outer scope pins
        yield
        return
    pins: dict = {}
    token = _pins.set(pins)
    try:
        yield
    finally:
        _pins.reset(token)
        _unpin(pins)


def _unpin(pins: dict) -> None:
    for opened in pins.values():
        _release(opened)
    pins.clear()


def install(server) -> None:
    """Pin one version per database for each request of a Flask `server` (and so for each
    Dash callback): set before the request, released when its context ends (after a
    streamed response has been sent)."""
    import flask

    @server.before_request
    def _pin_snapshot():
        if _pins.get() is None:
            pins: dict = {}
            flask.g.cityops_snapshot_pins = (pins, _pins.set(pins))

    @server.teardown_request
    def _unpin_snapshot(_exc):
        held = flask.g.pop("cityops_snapshot_pins", None)
        if held is None:
            return
        pins, token = held
        try:
            _pins.reset(token)
        except ValueError:  # torn down in another context: clear ours only if it is this one
            if _pins.get() is pins:
                _pins.set(None)
        _unpin(pins)


# --------------------------------------------------------------------------- API
def current(db: str = "ops") -> _Open:
    opened = _acquire(db)
    _release(opened)  # pinned: the scope keeps its own hold
    return opened


def version(db: str = "ops") -> str:
    return current(db).version


@contextlib.contextmanager
def cursor(db: str = "ops") -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A cursor of its own for one query, and the data version it reads."""
    opened = _acquire(db)
    try:
        cur = opened.con.cursor()
        try:
            yield cur, opened.version
        finally:
            cur.close()
    finally:
        _release(opened)


class Held:
    """A hold on the version the current request reads (for a stream read after the request's
    view returned): ``.version``, ``.cursor()``; ``close()`` lets go (idempotent)."""

    def __init__(self, db: str):
        self._opened = _acquire(db)
        self.version = self._opened.version
        self._closed = False

    def cursor(self):
        return self._opened.con.cursor()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release(self._opened)

    def __del__(self):
        self.close()


def hold(db: str = "ops") -> Held:
    return Held(db)


def status(db: str) -> dict | None:
    """None when this worker serves the release the pointer names; else what it serves
    instead and why: {"serving", "wanted", "reason"}."""
    with _lock:
        state = _state["dbs"].get(db) if _state["pid"] == os.getpid() else None
        opened = state.opened if state else None
        if opened is None or opened.fallback is None:
            return None
        return {"serving": opened.version, "wanted": opened.wanted, "reason": opened.fallback}


def health() -> list[str]:
    """Problems with the current release, checked afresh (for operators: /data): one plain line
    each; empty when every database of the pointer opens as the release it names."""
    pointer = release_files.read_pointer()
    if pointer is None:
        return (["The CURRENT pointer is missing or unreadable; web workers serve the newest release on disk."]
                if any(releases(db) for db in allowed_dbs()) else [])
    problems = []
    for db in allowed_dbs():
        size = (pointer.get("bytes") or {}).get(db) if isinstance(pointer.get("bytes"), dict) else None
        try:
            _connect(settings.var_dir() / pointer[db], str(pointer["version"]),
                     size if isinstance(size, int) else None).close()
        except (duckdb.Error, OSError) as exc:
            older = [v for v, _ in releases(db) if v < str(pointer["version"])]
            problems.append(f"The current {db} release {pointer['version']} is damaged or missing "
                            f"({_reason(exc)}); " + (f"workers serve the previous release {older[0]}."
                                                      if older else "no earlier release is on disk."))
    return problems


def reset() -> None:
    """Forget open connections (tests, and after the var dir changes)."""
    with _lock:
        if _state["pid"] == os.getpid():
            for state in _state["dbs"].values():
                if state.opened is not None:
                    state.opened.retired = True
                    state.opened.users = 0
                    _close_if_unused(state.opened)
        _state.update(pid=None, dbs={})
        pins = _pins.get()
        if pins is not None:
            pins.clear()
