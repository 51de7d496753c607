"""Officials' annotations (storm, strike, outage, note) shown on time series beside the
recorded incidents. They live in the ops store (SQLite), so they survive republishing and are
shared by every worker. Values are validated here and always bound."""
from __future__ import annotations

import json
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
        known_districts=frozenset(), scope=access.ALL, now: datetime | None = None, public: bool = False) -> int:
    """Validate and store one annotation; returns its id. `scope`: the districts the author may
    annotate (an official's); a city-wide one (no district, or "city") needs every district.
    `public`: the author asks for it on the public site (an admin reviews it first)."""
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
        con.begin_immediate()
        try:
            cur = con.execute(
                "INSERT INTO annotations (created_at, created_by, starts_at, ends_at, district_id, domain, kind, title, "
                "public, review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now.isoformat(sep=" "), created_by, clean["starts_at"].isoformat(sep=" "),
                 clean["ends_at"].isoformat(sep=" "), clean["district_id"], clean["domain"], clean["kind"],
                 clean["title"], int(bool(public)), "pending" if public else "none"),
            )
            note_id = int(cur.lastrowid)
            _audit(con, note_id, now, created_by, "add", None, _row(con, note_id))
            con.commit()
        except BaseException:
            con.rollback()
            raise
        return note_id


def between(start: datetime, end: datetime, *, domain: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Annotations overlapping [start, end), for `domain` (and those for every domain), in the
    shape of the incidents query (incident_id, kind, title, domain, district_id, starts_at,
    ends_at) plus created_by. The caller scopes district rows (data.access.scope_frame)."""
    with ops_store.connect() as con:
        rows = con.execute(
            "SELECT id, kind, title, domain, district_id, starts_at, ends_at, created_by FROM annotations "
            "WHERE deleted_at IS NULL AND ends_at >= ? AND starts_at < ? AND (CAST(? AS TEXT) IS NULL OR domain IS NULL OR domain = ?) "
            "ORDER BY starts_at LIMIT ?",
            (start.isoformat(sep=" "), end.isoformat(sep=" "), domain, domain, int(limit)),
        ).fetchall()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["incident_id"] = "note-" + frame["incident_id"].astype(str)
    for col in ("starts_at", "ends_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


# --- edit, delete, the public flag and its review, the audit trail (issue 17) --------------

REVIEWS = ("none", "pending", "approved", "rejected")
_FIELDS = ("id", "created_at", "created_by", "starts_at", "ends_at", "district_id", "domain", "kind", "title",
           "public", "review", "updated_at", "updated_by", "reviewed_by", "reviewed_at", "deleted_at")


_ROW_SQL = "SELECT " + ", ".join(_FIELDS) + " FROM annotations WHERE id = ?"  # noqa: S608 - column names of this module


def _row(con, note_id: int) -> dict | None:
    row = con.execute(_ROW_SQL, (int(note_id),)).fetchone()
    return None if row is None else dict(zip(_FIELDS, row, strict=False))


def _audit(con, note_id: int, now: datetime, actor: str, action: str, before, after) -> None:
    con.execute("INSERT INTO annotation_audit (annotation_id, at, actor, action, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                (int(note_id), now.isoformat(sep=" "), actor, action,
                 None if before is None else json.dumps(before, sort_keys=True),
                 None if after is None else json.dumps(after, sort_keys=True)))


def get(note_id) -> dict | None:
    """One annotation (deleted ones too: their audit trail stays), or None."""
    if not isinstance(note_id, int) or isinstance(note_id, bool) or not 0 < note_id < 2**62:
        return None
    with ops_store.connect() as con:
        return _row(con, note_id)


def may_change(principal, note: dict | None) -> bool:
    """Its author (still allowed to annotate, the district still in their scope) or an admin."""
    if principal is None or note is None or note.get("deleted_at"):
        return False
    if principal.can("admin"):
        return True
    if not principal.can("annotate") or note["created_by"] != principal.name:
        return False
    district = note["district_id"]
    return principal.districts == access.ALL or (district is not None and district in principal.districts)


def _change(note_id, principal, action: str, apply, now: datetime | None) -> dict:
    now = (now or datetime.now()).replace(microsecond=0)
    with ops_store.connect() as con:
        con.begin_immediate()
        try:
            before = _row(con, note_id) if isinstance(note_id, int) and not isinstance(note_id, bool) else None
            if before is None:
                raise InvalidAnnotation("no such annotation")
            apply(con, before, now)
            after = _row(con, note_id)
            _audit(con, note_id, now, principal.name, action, before, after)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return after


def update(note_id, *, principal, title, kind, starts_at, ends_at, district_id=None, domain=None, public=False,
           known_districts=frozenset(), now: datetime | None = None) -> dict:
    """Edit an annotation (its author or an admin), validated as a new one. A public one whose
    content changes goes back to review (an admin approved the old text, not the new)."""
    note = get(note_id)
    if not may_change(principal, note):
        raise InvalidAnnotation("only its author or an administrator may change this annotation")
    clean = validate(title=title, kind=kind, starts_at=starts_at, ends_at=ends_at, district_id=district_id,
                     domain=domain, known_districts=known_districts)
    if principal.districts != access.ALL:
        if clean["district_id"] is None:
            raise InvalidAnnotation("a city-wide annotation needs an account for all districts")
        if clean["district_id"] not in principal.districts:
            raise InvalidAnnotation("you may annotate only your own districts")

    def apply(con, before, now):
        content = {k: (v.isoformat(sep=" ") if isinstance(v, datetime) else v) for k, v in clean.items()}
        changed = any(before[k] != content[k] for k in content)
        wants = bool(public)
        review = before["review"]
        if not wants:
            review = "none"
        elif changed or not before["public"] or review in ("none", "rejected"):
            review = "pending"
        con.execute("UPDATE annotations SET title = ?, kind = ?, starts_at = ?, ends_at = ?, district_id = ?, "
                    "domain = ?, public = ?, review = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                    (content["title"], content["kind"], content["starts_at"], content["ends_at"],
                     content["district_id"], content["domain"], int(wants), review, now.isoformat(sep=" "),
                     principal.name, int(note_id)))
    return _change(note_id, principal, "edit", apply, now)


def delete(note_id, *, principal, now: datetime | None = None) -> dict:
    """Remove an annotation from every chart (its author or an admin); the row and its audit
    trail stay."""
    if not may_change(principal, get(note_id)):
        raise InvalidAnnotation("only its author or an administrator may delete this annotation")

    def apply(con, before, now):
        con.execute("UPDATE annotations SET deleted_at = ?, deleted_by = ? WHERE id = ?",
                    (now.isoformat(sep=" "), principal.name, int(note_id)))
    return _change(note_id, principal, "delete", apply, now)


def review(note_id, *, principal, approve: bool, now: datetime | None = None) -> dict:
    """An admin approves or rejects an annotation asked for the public site."""
    if principal is None or not principal.can("admin"):
        raise InvalidAnnotation("only an administrator reviews public annotations")
    note = get(note_id)
    if note is None or note["deleted_at"] or not note["public"]:
        raise InvalidAnnotation("this annotation is not asked for the public site")

    def apply(con, before, now):
        con.execute("UPDATE annotations SET review = ?, reviewed_by = ?, reviewed_at = ? WHERE id = ?",
                    ("approved" if approve else "rejected", principal.name, now.isoformat(sep=" "), int(note_id)))
    return _change(note_id, principal, "approve" if approve else "reject", apply, now)


LIST_COLUMNS = ["id", "starts_at", "ends_at", "district_id", "domain", "kind", "title", "created_by", "public",
                "review", "updated_at", "updated_by"]
_LIST_SQL = ("SELECT " + ", ".join(LIST_COLUMNS) + " FROM annotations WHERE deleted_at IS NULL "  # noqa: S608 - column names of this module
             "ORDER BY coalesce(updated_at, created_at) DESC, id DESC")


LIST_TITLES = {"id": "#", "starts_at": "From", "ends_at": "To", "district_id": "District", "domain": "Domain",
               "kind": "Kind", "title": "Title", "created_by": "Author", "public": "Public", "review": "Review",
               "updated_by": "Last edited by"}


def listing(principal, *, limit: int = 500) -> pd.DataFrame:
    """The annotations `principal` may see (their districts' and city-wide ones; every one for
    an account of all districts), the most recently added or changed first (so the one just
    saved is on the grid's first page, whatever period it is about), deleted ones left out."""
    if principal is None:
        return pd.DataFrame([], columns=LIST_COLUMNS)
    with ops_store.connect() as con:
        rows = con.execute(_LIST_SQL).fetchall()
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
    if principal.districts != access.ALL:  # scope first, then the limit: newer annotations of
        frame = frame[frame["district_id"].isna() | frame["district_id"].isin(principal.districts)]  # other districts
    return frame.head(int(limit)).reset_index(drop=True)  # must not hide an official's own


def history(note_id) -> pd.DataFrame:
    """The audit trail of one annotation, oldest first: at, actor, action, before, after (JSON)."""
    with ops_store.connect() as con:
        rows = con.execute("SELECT at, actor, action, before, after FROM annotation_audit WHERE annotation_id = ? "
                           "ORDER BY id", (int(note_id),)).fetchall()
    return pd.DataFrame(rows, columns=["at", "actor", "action", "before", "after"])


PUBLIC_COLUMNS = ["starts_at", "ends_at", "district_id", "domain", "kind", "title", "approved_at"]


def public_approved() -> pd.DataFrame:
    """Annotations an admin approved for the public site (not deleted): what publish copies
    into the public snapshot (``public_annotations``). The author's name stays in the ops store."""
    with ops_store.connect() as con:
        rows = con.execute("SELECT starts_at, ends_at, district_id, domain, kind, title, reviewed_at FROM annotations "
                           "WHERE deleted_at IS NULL AND public = 1 AND review = 'approved' ORDER BY starts_at").fetchall()
    frame = pd.DataFrame(rows, columns=PUBLIC_COLUMNS)
    for col in ("starts_at", "ends_at", "approved_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame
