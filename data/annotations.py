"""Officials' annotations (storm, strike, outage, note) shown on time series beside the
recorded incidents. They live in the ops store (SQLite), so they survive republishing and are
shared by every worker. Values are validated here and always bound."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from data import access, ops_store, registry

KINDS = ("storm", "strike", "outage", "event", "note")
MAX_TITLE = 120
MAX_SPAN = timedelta(days=366)
COLUMNS = ["incident_id", "kind", "title", "domain", "district_id", "starts_at", "ends_at", "created_by"]


class InvalidAnnotation(ValueError):
    pass


def _ts(value, name: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(microsecond=0)
    if isinstance(value, str) and 0 < len(value) <= 19:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidAnnotation(f"{name} must be a date (YYYY-MM-DD) or date and time")


def validate(*, title, kind, starts_at, ends_at, district_id=None, domain=None,
             known_districts=frozenset()) -> dict:
    """The cleaned annotation, or InvalidAnnotation with a message for the user."""
    if not isinstance(title, str) or not title.strip():
        raise InvalidAnnotation("a title is required")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise InvalidAnnotation(f"the title is longer than {MAX_TITLE} characters")
    if kind not in KINDS:
        raise InvalidAnnotation(f"kind must be one of {', '.join(KINDS)}")
    start, end = _ts(starts_at, "start"), _ts(ends_at, "end")
    if end < start:
        raise InvalidAnnotation("the end is before the start")
    if end - start > MAX_SPAN:
        raise InvalidAnnotation("an annotation spans at most one year")
    if district_id in ("", None, "city"):
        district_id = None
    elif district_id not in known_districts:
        raise InvalidAnnotation("unknown district")
    if domain in ("", None):
        domain = None
    elif domain not in registry.DOMAINS:
        raise InvalidAnnotation("unknown domain")
    return {"title": title, "kind": kind, "starts_at": start, "ends_at": end,
            "district_id": district_id, "domain": domain}


def add(*, created_by: str, title, kind, starts_at, ends_at, district_id=None, domain=None,
        known_districts=frozenset(), scope=access.ALL, now: datetime | None = None) -> int:
    """Validate and store one annotation; returns its id. `scope`: the districts the author may
    annotate (an official's); a city-wide one (no district, or "city") needs every district."""
    clean = validate(title=title, kind=kind, starts_at=starts_at, ends_at=ends_at, district_id=district_id,
                     domain=domain, known_districts=known_districts)
    if scope != access.ALL:
        if clean["district_id"] is None:
            raise InvalidAnnotation("a city-wide annotation needs an account for all districts")
        if clean["district_id"] not in scope:
            raise InvalidAnnotation("you may annotate only your own districts")
    if not isinstance(created_by, str) or not 0 < len(created_by) <= 64:
        raise InvalidAnnotation("unknown author")
    now = (now or datetime.now()).replace(microsecond=0)
    with ops_store.connect() as con:
        cur = con.execute(
            "INSERT INTO annotations (created_at, created_by, starts_at, ends_at, district_id, domain, kind, title) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now.isoformat(sep=" "), created_by, clean["starts_at"].isoformat(sep=" "),
             clean["ends_at"].isoformat(sep=" "), clean["district_id"], clean["domain"], clean["kind"],
             clean["title"]),
        )
        return int(cur.lastrowid)


def between(start: datetime, end: datetime, *, domain: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Annotations overlapping [start, end), for `domain` (and those for every domain), in the
    shape of the incidents query (incident_id, kind, title, domain, district_id, starts_at,
    ends_at) plus created_by. The caller scopes district rows (data.access.scope_frame)."""
    with ops_store.connect() as con:
        rows = con.execute(
            "SELECT id, kind, title, domain, district_id, starts_at, ends_at, created_by FROM annotations "
            "WHERE ends_at >= ? AND starts_at < ? AND (? IS NULL OR domain IS NULL OR domain = ?) "
            "ORDER BY starts_at LIMIT ?",
            (start.isoformat(sep=" "), end.isoformat(sep=" "), domain, domain, int(limit)),
        ).fetchall()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["incident_id"] = "note-" + frame["incident_id"].astype(str)
    for col in ("starts_at", "ends_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame
