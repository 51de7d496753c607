"""Failures of the writer side (publish, ingest), said plainly and kept where ``/data`` reads them.

* :func:`describe` turns an exception into **one plain line naming the cause**: the original
  error of the chain, not the noise raised while cleaning up after it (a ``ROLLBACK`` after a
  failed ``COMMIT`` says "cannot rollback - no transaction is active"; the cause is "No space
  left on device").
* :func:`record` appends a failure to ``<var>/failures.json`` (the last ``KEEP`` events;
  written to a temporary file and renamed, so a reader never sees half a file); a successful
  publish is recorded too, so ``/data`` can say whether the last publish failed.
  Recording never raises: on a full disk the log line is all there is.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import socket
from datetime import datetime

from data import settings

log = logging.getLogger(__name__)

FILE = "failures.json"
KEEP = 50
_NOISE = ("no transaction is active", "cannot rollback", "cannot commit")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and all(exc is not s for s in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def describe(exc: BaseException) -> str:
    """One plain line naming the cause of `exc` (see the module docstring)."""
    chain = _chain(exc)
    for item in chain:  # the operating system's own words, when it said something
        if isinstance(item, OSError) and item.errno == errno.ENOSPC:
            return "No space left on device" + (f" (writing {item.filename})" if item.filename else "")
    for item in chain:
        line = _first_line(item)
        if "No space left on device" in line or "not enough space" in line.lower():
            where = re.search(r'"([^"]+)"', line)
            return "No space left on device" + (f" (writing {where.group(1)})" if where else "")
    meaningful = [item for item in chain if not any(n in _first_line(item).lower() for n in _NOISE)]
    cause = meaningful[-1] if meaningful else chain[-1]  # the original error: the end of the chain
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror + (f" ({cause.filename})" if cause.filename else "")
    return _first_line(cause)[:500]


def path():
    return settings.var_dir() / FILE


def _read() -> dict:
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"events": []}
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return {"events": []}
    return data


def _write(data: dict) -> None:
    target = path()
    tmp = target.with_name(f"{FILE}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        log.error("could not record in %s: %s", target.name, describe(exc))


def record(what: str, message: str, **extra) -> None:
    """Keep one failure (`what`: 'publish' or 'ingest') for /data."""
    data = _read()
    data["events"] = (data["events"] + [{
        "at": datetime.now().isoformat(timespec="microseconds"), "what": what, "message": message,
        "host": socket.gethostname(), "pid": os.getpid(), **extra}])[-KEEP:]
    _write(data)


def record_publish_ok(version: str) -> None:
    data = _read()
    if data.get("events"):  # nothing failed yet: nothing to write
        data["last_publish_ok"] = {"at": datetime.now().isoformat(timespec="microseconds"), "version": version}
        _write(data)


def recent(limit: int = 10) -> list[dict]:
    """The newest failures first."""
    return list(reversed(_read()["events"][-limit:]))


def last_publish_ok() -> dict | None:
    value = _read().get("last_publish_ok")
    return value if isinstance(value, dict) else None
