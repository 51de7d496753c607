"""Wall screen heartbeats: every wall reports its view, resolution and last successful refresh.

Kept in a small SQLite file in the var dir (``wall_screens.sqlite``, WAL journal): any number
of gunicorn workers (processes) may write to it at once, which a DuckDB file would not allow,
and the web tier keeps no state of its own. One row per screen, updated on each refresh; rows
silent for 30 days are dropped.

A heartbeat belongs to whoever sends it first (the wall token, or the signed-in user): a
screen id that another token reports is not overwritten, unless that token has since been
revoked, rotated or expired (the screen got a new token); and one sender keeps at most
``MAX_SCREENS_PER_OWNER`` screens, its least recently seen one making way for a new id, so a
token cannot fill the list with fake screens.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from data import ops_store

FILE = "wall_screens.sqlite"
SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,40}$")
FORGET_AFTER = timedelta(days=30)
MAX_SCREENS_PER_OWNER = 4
# (screens_owned replaces the first table, whose rows had no owner: anyone could overwrite them)
_SCHEMA = ("""CREATE TABLE IF NOT EXISTS screens_owned (
    screen_id TEXT PRIMARY KEY, owner TEXT NOT NULL, profile TEXT, view TEXT, width INTEGER, height INTEGER,
    refresh_s INTEGER, first_seen TEXT, last_ok TEXT, refreshes INTEGER DEFAULT 0)""",
           "CREATE INDEX IF NOT EXISTS screens_owned_owner ON screens_owned (owner, last_ok)")


def _connect():
    """SQLite (the default): the side file wall_screens.sqlite; with ops_url set (PostgreSQL),
    the shared ops store, whose schema has the same table, so every app host sees every wall."""
    if ops_store.is_postgresql():
        return ops_store.connect()
    return ops_store.sqlite_file(FILE, _SCHEMA)


def beat(screen_id: str, *, profile: str, view: str, width: int, height: int, refresh_s: int,
         owner: str = "system", owner_gone=lambda owner: False, now: datetime | None = None) -> bool:
    """Record a successful refresh of one screen by `owner` (who sends it); False (and nothing
    written) for a bad id, or an id another live owner reports. `owner_gone(other)`: whether
    another owner's token or account no longer exists (then its screen may be taken over)."""
    if not isinstance(screen_id, str) or not SCREEN_ID.match(screen_id) or not isinstance(owner, str):
        return False
    now = now or datetime.now()
    stamp = now.isoformat(timespec="seconds")
    with _connect() as con:
        row = con.execute("SELECT owner FROM screens_owned WHERE screen_id = ?", (screen_id,)).fetchone()
        if row is not None and row[0] != owner:
            if not owner_gone(row[0]):
                return False  # another token's screen: not ours to refresh
            con.execute("DELETE FROM screens_owned WHERE screen_id = ?", (screen_id,))
            row = None
        if row is None:  # a new screen of this owner: make room among its own
            mine = [r[0] for r in con.execute("SELECT screen_id FROM screens_owned WHERE owner = ? "
                                                 "ORDER BY last_ok DESC", (owner,))]
            for old in mine[MAX_SCREENS_PER_OWNER - 1:]:
                con.execute("DELETE FROM screens_owned WHERE screen_id = ?", (old,))
        con.execute(
            "INSERT INTO screens_owned VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (screen_id) DO UPDATE SET "
            "profile = excluded.profile, view = excluded.view, width = excluded.width, "
            "height = excluded.height, refresh_s = excluded.refresh_s, last_ok = excluded.last_ok, "
            "refreshes = screens_owned.refreshes + 1",
            (screen_id, owner[:120], profile[:40], view[:20], int(width), int(height), int(refresh_s), stamp, stamp))
        if now.minute == 0 and now.second < 5:  # now and then: forget screens gone for a month
            con.execute("DELETE FROM screens_owned WHERE last_ok < ?", ((now - FORGET_AFTER).isoformat(),))
    return True


def silent_after(refresh_s: int) -> timedelta:
    """A screen is silent when three refreshes (at least two minutes) have passed without one."""
    return timedelta(seconds=max(3 * int(refresh_s or 30), 120))


def screens(now: datetime | None = None) -> list[dict]:
    """Every known screen, silent ones first, each with `silent` (bool)."""
    now = now or datetime.now()
    with _connect() as con:
        rows = con.execute("SELECT screen_id, profile, view, width, height, refresh_s, first_seen, last_ok, "
                           "refreshes FROM screens_owned").fetchall()
    out = []
    for row in rows:
        item = dict(zip(("screen_id", "profile", "view", "width", "height", "refresh_s", "first_seen",
                         "last_ok", "refreshes"), row, strict=False))
        item["last_ok"] = datetime.fromisoformat(item["last_ok"])
        item["silent"] = now - item["last_ok"] > silent_after(item["refresh_s"])
        out.append(item)
    return sorted(out, key=lambda s: (not s["silent"], s["screen_id"]))
