"""Wall screen heartbeats: every wall reports its view, resolution and last successful refresh.

Kept in a small SQLite file in the var dir (``wall_screens.sqlite``, WAL journal): any number
of gunicorn workers (processes) may write to it at once, which a DuckDB file would not allow,
and the web tier keeps no state of its own. One row per screen, updated on each refresh; rows
silent for 30 days are dropped.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from data import ops_store

FILE = "wall_screens.sqlite"
SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,40}$")
FORGET_AFTER = timedelta(days=30)
_SCHEMA = """CREATE TABLE IF NOT EXISTS screens (
    screen_id TEXT PRIMARY KEY, profile TEXT, view TEXT, width INTEGER, height INTEGER,
    refresh_s INTEGER, first_seen TEXT, last_ok TEXT, refreshes INTEGER DEFAULT 0)"""


def _connect():
    return ops_store.sqlite_file(FILE, (_SCHEMA,))


def beat(screen_id: str, *, profile: str, view: str, width: int, height: int, refresh_s: int,
         now: datetime | None = None) -> bool:
    """Record a successful refresh of one screen; False (and nothing written) for a bad id."""
    if not isinstance(screen_id, str) or not SCREEN_ID.match(screen_id):
        return False
    now = now or datetime.now()
    with _connect() as con:
        con.execute(
            "INSERT INTO screens VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (screen_id) DO UPDATE SET "
            "profile = excluded.profile, view = excluded.view, width = excluded.width, "
            "height = excluded.height, refresh_s = excluded.refresh_s, last_ok = excluded.last_ok, "
            "refreshes = screens.refreshes + 1",
            (screen_id, profile[:40], view[:20], int(width), int(height), int(refresh_s),
             now.isoformat(timespec="seconds"), now.isoformat(timespec="seconds")))
        if now.minute == 0 and now.second < 5:  # now and then: forget screens gone for a month
            con.execute("DELETE FROM screens WHERE last_ok < ?", ((now - FORGET_AFTER).isoformat(),))
    return True


def silent_after(refresh_s: int) -> timedelta:
    """A screen is silent when three refreshes (at least two minutes) have passed without one."""
    return timedelta(seconds=max(3 * int(refresh_s or 30), 120))


def screens(now: datetime | None = None) -> list[dict]:
    """Every known screen, silent ones first, each with `silent` (bool)."""
    now = now or datetime.now()
    with _connect() as con:
        rows = con.execute("SELECT screen_id, profile, view, width, height, refresh_s, first_seen, last_ok, "
                           "refreshes FROM screens").fetchall()
    out = []
    for row in rows:
        item = dict(zip(("screen_id", "profile", "view", "width", "height", "refresh_s", "first_seen",
                         "last_ok", "refreshes"), row))
        item["last_ok"] = datetime.fromisoformat(item["last_ok"])
        item["silent"] = now - item["last_ok"] > silent_after(item["refresh_s"])
        out.append(item)
    return sorted(out, key=lambda s: (not s["silent"], s["screen_id"]))
