"""The shift log: handover notes between shifts, and what happened to the alerts in a time
window ("what happened overnight"), both from the ops store.

Notes are written by accounts that may act (officials and admins; analysts and wall screens
read only). A note names a district or none; a note for no district (the whole city) needs an
all-district account, an official's note names one of their districts. Readers see the notes
of the districts they may see and the city-wide ones. Values are validated here and bound.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from data import access, ops_store

MAX_TEXT = 2000
MAX_SPAN = timedelta(days=31)
# the table shift_notes is in the ops store's schema: data/migrations (Alembic)
NOTE_COLUMNS = ["id", "at", "author", "district_id", "text"]
EVENT_COLUMNS = ["at", "episode_id", "actor", "from_state", "to_state", "note", "metric_id", "district_id",
                 "severity", "rule", "domain", "message"]


class InvalidNote(ValueError):
    pass


def _connect():
    """The ops store (its schema has the shift-log table)."""
    return ops_store.connect()


def _iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat(sep=" ")


def add_note(text, district_id=None, *, known_districts=frozenset(), now: datetime | None = None) -> int:
    """Store a handover note by the current principal; returns its id."""
    principal = access.current()
    if principal is None:
        raise access.AccessDenied("sign in required")
    if principal.role not in ("admin", "official", "system"):
        raise access.AccessDenied(f"{principal.role} may not write the shift log")
    if not isinstance(text, str) or not text.strip():
        raise InvalidNote("write a note first")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidNote(f"a note is at most {MAX_TEXT} characters")
    if district_id in (None, "", "city"):
        district_id = None
        if principal.districts != access.ALL:
            raise access.AccessDenied("a note for the whole city needs an account for every district")
    elif not isinstance(district_id, str) or district_id not in known_districts:
        raise InvalidNote("unknown district")
    elif not principal.sees(district_id):
        raise access.AccessDenied("this district is outside your account")
    now = (now or datetime.now()).replace(microsecond=0)
    with _connect() as con:
        cur = con.execute("INSERT INTO shift_notes (at, author, district_id, text) VALUES (?, ?, ?, ?)",
                          (_iso(now), principal.name[:64], district_id, text))
        return int(cur.lastrowid)


def _window(start: datetime, end: datetime) -> tuple[str, str]:
    if not isinstance(start, datetime) or not isinstance(end, datetime) or end <= start or end - start > MAX_SPAN:
        raise InvalidNote("a window of up to 31 days")
    return _iso(start), _iso(end)


def _scoped(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of districts the caller may not see removed (a note for no district is city-wide)."""
    principal = access.current()
    if principal is None:
        return frame.iloc[0:0]
    if principal.districts == access.ALL or frame.empty:
        return frame
    keep = frame["district_id"].isna() | frame["district_id"].isin({"city", *principal.districts})
    return frame[keep].reset_index(drop=True)


def notes(start: datetime, end: datetime, limit: int = 200) -> pd.DataFrame:
    """Handover notes written in [start, end), newest first, scoped to the caller."""
    lo, hi = _window(start, end)
    with _connect() as con:
        rows = con.execute("SELECT id, at, author, district_id, text FROM shift_notes WHERE at >= ? AND at < ? "
                           "ORDER BY at DESC, id DESC LIMIT ?", (lo, hi, int(limit))).fetchall()
    frame = pd.DataFrame(rows, columns=NOTE_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"])
    return _scoped(frame)


def happened(start: datetime, end: datetime, limit: int = 500) -> pd.DataFrame:
    """Every alert transition in [start, end) (opened, acknowledged, assigned, snoozed, noted,
    resolved), oldest first, with its episode's metric, district and severity; scoped."""
    lo, hi = _window(start, end)
    with _connect() as con:
        rows = con.execute(
            "SELECT t.at, t.episode_id, t.actor, t.from_state, t.to_state, t.note, e.metric_id, e.district_id, "
            "e.severity, e.rule, e.domain, e.message FROM alert_transitions t JOIN alert_episodes e "
            "ON e.id = t.episode_id WHERE t.at >= ? AND t.at < ? ORDER BY t.at, t.id LIMIT ?",
            (lo, hi, int(limit))).fetchall()
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"])
    return _scoped(frame)


def summary(events: pd.DataFrame) -> dict:
    """Counts of a window's transitions: opened, acknowledged, resolved (by hand / by itself)."""
    if events.empty:
        return {"opened": 0, "acknowledged": 0, "resolved_by_hand": 0, "resolved_by_itself": 0, "notes": 0}
    opened = events["from_state"].isna() | ((events["from_state"] == "resolved") & (events["to_state"] == "open"))
    resolved = events["to_state"].eq("resolved") & events["from_state"].ne("resolved")
    return {"opened": int(opened.sum()),
            "acknowledged": int((events["to_state"].eq("acknowledged") & events["from_state"].ne("acknowledged")).sum()),
            "resolved_by_hand": int((resolved & events["actor"].ne("system")).sum()),
            "resolved_by_itself": int((resolved & events["actor"].eq("system")).sum()),
            "notes": int((events["from_state"] == events["to_state"]).sum())}
