"""Alert episodes: one alert per metric x district x rule episode, with its lifecycle.

The detector (data/detect.py) runs in the writer process after each publish and hands its
findings for that run to :func:`record`; pages and the wall only read episodes here. An
episode is, in the ops store (data/ops_store.py, SQLite, values always bound):

    open --acknowledge--> acknowledged --resolve(note)--> resolved
      \\--snooze(until)--> snoozed --(until passes, still firing)--> open
    any non-resolved state --resolve(note) / auto-resolve after hysteresis--> resolved
    resolved (by the system) --(firing again within `reopen_within` of its last period)--> open ("reopened")
    resolved (by hand) stays resolved for the rest of the run it was resolved in; a later run opens a new episode

At most one episode that is not resolved exists per (metric_id, district_id, rule) — a
partial unique index enforces it — so many publishes of the same trouble update one episode
instead of piling up rows. Every transition is kept in ``alert_transitions`` (who, when, from,
to, note; a plain note keeps from = to), and every change a notification cares about
('opened', 'escalated', 'resolved', 'reopened') is written to the ``alert_events`` outbox in
the same transaction as the episode change.

Who may act: officials on episodes of their own districts only (a city-wide episode needs an
all-district account), admins and the system everywhere; analysts and wall devices never
(:class:`data.access.AccessDenied`). An impossible transition (acknowledging a resolved
episode, a resolve without a note, a snooze into the past) raises :class:`InvalidTransition`
with a message for the user.

A detection (one element of ``record``'s input) is a dict::

    metric_id, district_id ('city' for the city), rule ('threshold'|'anomaly'|'forecast'|'no_data'),
    status   'firing'     the rule holds (pending duration passed): open or update the episode
             'pending'    out of band but not yet for the pending duration: nothing is opened
             'recovering' back in band, but not yet for the hysteresis: the episode stays
             'clear'      back in band for the hysteresis: the episode resolves itself
    severity ('critical'|'warning'), grain, period (ISO start of the period evaluated),
    value, expected, lower, upper, n, target, message, forecast_at (all optional but status),
    first_period (start of the run of periods the rule has held), reopen_within (timedelta: a
    new run starting this soon after an auto-resolved episode reopens it instead of a new one)
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd

from data import access, ops_store

RULES = ("threshold", "anomaly", "forecast", "no_data", "release")  # release: data/release_alert.py
SEVERITIES = ("critical", "warning")
STATES = ("open", "acknowledged", "snoozed", "resolved")
LIVE = ("open", "acknowledged", "snoozed")
STATUSES = ("firing", "pending", "recovering", "clear")
EVENT_KINDS = ("opened", "escalated", "resolved", "reopened")
MAX_NOTE = 2000
MAX_NAME = 64
MAX_SNOOZE = timedelta(days=30)
COLUMNS = ["id", "metric_id", "district_id", "rule", "severity", "state", "domain", "grain",
           "first_period", "last_period", "opened_at", "updated_at", "resolved_at", "value", "expected",
           "lower", "upper", "n", "target", "message", "forecast_at", "assignee", "acknowledged_by",
           "acknowledged_at", "snoozed_until", "data_version"]
_TIME_COLUMNS = ("first_period", "last_period", "opened_at", "updated_at", "resolved_at", "forecast_at",
                 "acknowledged_at", "snoozed_until")
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM alert_episodes"  # noqa: S608 - identifiers from this module's own constants; every value is bound


class InvalidTransition(ValueError):
    """This change is not possible for the episode in its current state (message for the user)."""


# -- helpers ------------------------------------------------------------------------------
def _iso(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return str(value)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _num(value):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if value != value else value


def _domain(metric_id: str) -> str | None:
    from data import registry

    metric = registry.get(metric_id)
    return metric.domain if metric else None


def _text(value, what: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidTransition(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise InvalidTransition(f"{what} must be text")
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise InvalidTransition(f"{what} is longer than {MAX_NOTE} characters")
    return value


def _actor(actor) -> str:
    if not isinstance(actor, str) or not 0 < len(actor) <= MAX_NAME:
        raise InvalidTransition("unknown actor")
    return actor


def _row(con, episode_id) -> dict | None:
    if isinstance(episode_id, bool) or not isinstance(episode_id, int):
        try:
            episode_id = int(episode_id)
        except (TypeError, ValueError):
            return None
    row = con.execute(_SELECT + " WHERE id = ?", (episode_id,)).fetchone()
    return dict(zip(COLUMNS, row, strict=False)) if row else None


def _may_see(principal, district_id: str) -> bool:
    return principal is not None and (principal.districts == access.ALL or principal.sees(district_id))


def _authorize(episode: dict) -> access.Principal:
    """The current principal if it may act on `episode`; AccessDenied otherwise."""
    principal = access.current()
    if principal is None:
        raise access.AccessDenied("sign in required")
    if principal.role not in ("admin", "official", "system"):
        raise access.AccessDenied(f"{principal.role} may not act on alerts")
    if principal.districts != access.ALL:
        if episode["district_id"] == "city":
            raise access.AccessDenied("a city-wide alert needs an account for every district")
        if episode["district_id"] not in principal.districts:
            raise access.AccessDenied("this alert is in a district outside your account")
    return principal


def may_act(district_id) -> bool:
    """Whether the caller may act on an alert of `district_id`: the rule :func:`_authorize`
    enforces (admins everywhere, officials on their own districts, a city-wide alert needs an
    all-district account; analysts and wall screens never), for pages deciding what to show."""
    principal = access.current()
    if principal is None or principal.role not in ("admin", "official", "system"):
        return False
    return principal.districts == access.ALL or (district_id != "city" and district_id in principal.districts)


def _transition(con, episode_id: int, at: datetime, actor: str, from_state, to_state, note=None) -> None:
    con.execute("INSERT INTO alert_transitions (episode_id, at, actor, from_state, to_state, note) "
                "VALUES (?, ?, ?, ?, ?, ?)", (episode_id, _iso(at), actor, from_state, to_state, note))


def _event(con, episode: dict, at: datetime, kind: str) -> None:
    payload = {k: episode.get(k) for k in ("metric_id", "district_id", "rule", "severity", "message", "value",
                                             "n", "domain", "state", "grain", "last_period", "target",
                                             "expected", "forecast_at")}
    payload["episode_id"] = episode["id"]
    con.execute("INSERT INTO alert_events (episode_id, at, kind, payload) VALUES (?, ?, ?, ?)",
                (episode["id"], _iso(at), kind, json.dumps(payload, default=str, sort_keys=True)))


class _Tx:
    """A serialized write transaction on an ops-store connection (begin_immediate ... commit;
    rollback on error)."""

    def __enter__(self):
        self._cm = ops_store.connect()
        self.con = self._cm.__enter__()
        self.con.begin_immediate()
        return self.con

    def __exit__(self, kind, exc, tb):
        try:
            if kind is None:
                self.con.commit()
            else:
                self.con.rollback()
        finally:
            self._cm.__exit__(kind, exc, tb)
        return False


def _act(episode_id, actor, *, now, change) -> dict:
    """Load, authorize and change one episode in one transaction; returns the new row."""
    actor = _actor(actor)
    now = _now(now)
    if access.current() is None:
        raise access.AccessDenied("sign in required")
    with _Tx() as con:
        episode = _row(con, episode_id)
        if episode is None or not _may_see(access.current(), episode["district_id"]):
            raise InvalidTransition("no such alert")
        _authorize(episode)
        change(con, episode, actor, now)
        return _row(con, episode["id"])


def _frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in _TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
    return frame


# -- reading ------------------------------------------------------------------------------
def list_episodes(states=LIVE, *, districts=None, domain=None, limit: int = 500) -> pd.DataFrame:
    """Episodes in `states`, critical first then newest, scoped to what the caller may see
    (data.access.scope_frame); `districts` (ids) and `domain` narrow further."""
    states = tuple(s for s in (states or ()) if s in STATES)
    if not states:
        return _frame([])
    limit = max(1, min(int(limit), 5000))
    with ops_store.connect() as con:
        rows = con.execute(
            _SELECT + f" WHERE state IN ({', '.join('?' * len(states))}) AND (CAST(? AS TEXT) IS NULL OR domain = ?) "
            "ORDER BY CASE severity WHEN 'critical' THEN 0 ELSE 1 END, opened_at DESC, id DESC",
            (*states, domain, domain)).fetchall()
    frame = access.scope_frame(_frame(rows))
    if districts is not None:
        frame = frame[frame["district_id"].isin(set(districts))]
    return frame.head(limit).reset_index(drop=True)


def get(episode_id) -> dict | None:
    """The episode as a dict, or None when it does not exist or the caller may not see it."""
    with ops_store.connect() as con:
        episode = _row(con, episode_id)
    if episode is None or not _may_see(access.current(), episode["district_id"]):
        return None
    return episode


def live_episode(metric_id: str, district_id: str, rule: str) -> dict | None:
    """The episode of (metric, district, rule) that is not resolved, or None (no scoping: for
    the system's own checks)."""
    with ops_store.connect() as con:
        row = con.execute(_SELECT + " WHERE metric_id = ? AND district_id = ? AND rule = ? AND state != 'resolved'",
                          (metric_id, district_id, rule)).fetchone()
    return _frame([row]).iloc[0].to_dict() if row else None


def history(episode_id) -> list[dict]:
    """The episode's transitions, oldest first (empty when the caller may not see it). The
    opening transition has from_state None."""
    if get(episode_id) is None:
        return []
    with ops_store.connect() as con:
        rows = con.execute("SELECT id, episode_id, at, actor, from_state, to_state, note FROM alert_transitions "
                           "WHERE episode_id = ? ORDER BY id", (int(episode_id),)).fetchall()
    return [dict(zip(("id", "episode_id", "at", "actor", "from_state", "to_state", "note"), r, strict=False)) for r in rows]


def events(after_id: int = 0, limit: int = 1000) -> list[dict]:
    """The outbox: events with id > after_id, oldest first (for the notifier)."""
    with ops_store.connect() as con:
        rows = con.execute("SELECT id, episode_id, at, kind, payload FROM alert_events WHERE id > ? "
                           "ORDER BY id LIMIT ?", (int(after_id), int(limit))).fetchall()
    return [{"id": r[0], "episode_id": r[1], "at": r[2], "kind": r[3], "payload": json.loads(r[4])} for r in rows]


# -- acting -------------------------------------------------------------------------------
def acknowledge(episode_id, actor, note=None, *, now: datetime | None = None) -> dict:
    note = _text(note, "a note", required=False)

    def change(con, episode, actor, now):
        if episode["state"] == "resolved":
            raise InvalidTransition("this alert is resolved; it cannot be acknowledged")
        if episode["state"] == "acknowledged":
            raise InvalidTransition(f"already acknowledged by {episode['acknowledged_by']}")
        con.execute("UPDATE alert_episodes SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, "
                    "snoozed_until = NULL, updated_at = ? WHERE id = ?",
                    (actor, _iso(now), _iso(now), episode["id"]))
        _transition(con, episode["id"], now, actor, episode["state"], "acknowledged", note)

    return _act(episode_id, actor, now=now, change=change)


def assign(episode_id, actor, assignee, note=None, *, now: datetime | None = None) -> dict:
    note = _text(note, "a note", required=False)
    if not isinstance(assignee, str) or not 0 < len(assignee.strip()) <= MAX_NAME:
        raise InvalidTransition("choose who to assign the alert to")
    assignee = assignee.strip()

    def change(con, episode, actor, now):
        if episode["state"] == "resolved":
            raise InvalidTransition("this alert is resolved; it cannot be assigned")
        con.execute("UPDATE alert_episodes SET assignee = ?, updated_at = ? WHERE id = ?",
                    (assignee, _iso(now), episode["id"]))
        text = f"assigned to {assignee}" + (f": {note}" if note else "")
        _transition(con, episode["id"], now, actor, episode["state"], episode["state"], text)

    return _act(episode_id, actor, now=now, change=change)


def snooze(episode_id, actor, until: datetime, note=None, *, now: datetime | None = None) -> dict:
    note = _text(note, "a note", required=False)
    when = _now(now)
    if isinstance(until, str):
        try:
            until = datetime.fromisoformat(until)
        except ValueError:
            raise InvalidTransition("snooze until a date and time") from None
    if isinstance(until, pd.Timestamp):
        until = until.to_pydatetime()
    if not isinstance(until, datetime):
        raise InvalidTransition("snooze until a date and time")
    until = until.replace(microsecond=0, tzinfo=None)
    if until <= when:
        raise InvalidTransition("a snooze must end in the future")
    if until - when > MAX_SNOOZE:
        raise InvalidTransition(f"a snooze lasts at most {MAX_SNOOZE.days} days")

    def change(con, episode, actor, now):
        if episode["state"] == "resolved":
            raise InvalidTransition("this alert is resolved; it cannot be snoozed")
        con.execute("UPDATE alert_episodes SET state = 'snoozed', snoozed_until = ?, updated_at = ? WHERE id = ?",
                    (_iso(until), _iso(now), episode["id"]))
        text = f"snoozed until {_iso(until)}" + (f": {note}" if note else "")
        _transition(con, episode["id"], now, actor, episode["state"], "snoozed", text)

    return _act(episode_id, actor, now=now, change=change)


def resolve(episode_id, actor, note, *, now: datetime | None = None) -> dict:
    note = _text(note, "a note saying what was done", required=True)

    def change(con, episode, actor, now):
        if episode["state"] == "resolved":
            raise InvalidTransition("this alert is already resolved")
        con.execute("UPDATE alert_episodes SET state = 'resolved', resolved_at = ?, snoozed_until = NULL, "
                    "updated_at = ? WHERE id = ?", (_iso(now), _iso(now), episode["id"]))
        _transition(con, episode["id"], now, actor, episode["state"], "resolved", note)
        _event(con, {**episode, "state": "resolved"}, now, "resolved")

    return _act(episode_id, actor, now=now, change=change)


def add_note(episode_id, actor, note, *, now: datetime | None = None) -> dict:
    note = _text(note, "a note", required=True)

    def change(con, episode, actor, now):
        con.execute("UPDATE alert_episodes SET updated_at = ? WHERE id = ?", (_iso(now), episode["id"]))
        _transition(con, episode["id"], now, actor, episode["state"], episode["state"], note)

    return _act(episode_id, actor, now=now, change=change)


# -- the detector's side ------------------------------------------------------------------
def _fields(d: dict) -> dict:
    return {"severity": d.get("severity") if d.get("severity") in SEVERITIES else "warning",
            "grain": d.get("grain"), "last_period": _iso(d.get("period")),
            "value": _num(d.get("value")), "expected": _num(d.get("expected")), "lower": _num(d.get("lower")),
            "upper": _num(d.get("upper")), "n": None if d.get("n") is None else int(d["n"]),
            "target": _num(d.get("target")), "message": d.get("message"), "forecast_at": _iso(d.get("forecast_at"))}


def record(detections, *, now: datetime | None = None, version: str | None = None) -> list[dict]:
    """Apply one detector run: open, update, escalate, reopen and auto-resolve episodes, write
    their transitions (actor 'system') and outbox events, all in one transaction. Returns what
    changed: dicts with action ('opened'|'updated'|'escalated'|'reopened'|'unsnoozed'|'resolved'),
    episode_id, metric_id, district_id, rule."""
    now = _now(now)
    changes: list[dict] = []
    with _Tx() as con:
        for d in detections:
            status, rule = d.get("status"), d.get("rule")
            if status not in STATUSES or rule not in RULES:
                raise ValueError(f"detection with an unknown status or rule: {status!r}, {rule!r}")
            key = (str(d["metric_id"]), str(d["district_id"]), rule)
            live = con.execute(_SELECT + " WHERE metric_id = ? AND district_id = ? AND rule = ? AND state != 'resolved'",
                               key).fetchone()
            live = dict(zip(COLUMNS, live, strict=False)) if live else None
            ref = {"metric_id": key[0], "district_id": key[1], "rule": rule}
            fields = _fields(d)
            if status == "firing":
                if live is None:
                    last = con.execute(_SELECT + " WHERE metric_id = ? AND district_id = ? AND rule = ? "
                                       "ORDER BY id DESC LIMIT 1", key).fetchone()
                    last = dict(zip(COLUMNS, last, strict=False)) if last else None
                    first = _iso(d.get("first_period")) or fields["last_period"]
                    if last is not None and last["last_period"] is not None and first is not None:
                        by_hand = _resolved_by_hand(con, last["id"])
                        if by_hand and first <= last["last_period"]:
                            continue  # resolved by hand during this very run: the operator's call holds
                        if not by_hand and first <= _iso(_plus(last["last_period"], d.get("reopen_within"))):
                            _update(con, last["id"], fields, now, version, state="open", resolved_at=None,
                                    acknowledged_by=None, acknowledged_at=None, snoozed_until=None)
                            _transition(con, last["id"], now, "system", "resolved", "open", "firing again")
                            _event(con, {**last, **fields, "state": "open"}, now, "reopened")
                            changes.append({"action": "reopened", "episode_id": last["id"], **ref})
                            continue
                    cur = con.execute(
                        "INSERT INTO alert_episodes (metric_id, district_id, rule, severity, state, domain, grain, "
                        "first_period, last_period, opened_at, updated_at, value, expected, lower, upper, n, target, "
                        "message, forecast_at, data_version) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "?, ?, ?, ?, ?, ?)",
                        (*key, fields["severity"], _domain(key[0]), fields["grain"],
                         _iso(d.get("first_period")) or fields["last_period"], fields["last_period"], _iso(now),
                         _iso(now), fields["value"], fields["expected"], fields["lower"], fields["upper"],
                         fields["n"], fields["target"], fields["message"], fields["forecast_at"], version))
                    episode = _row(con, cur.lastrowid)
                    _transition(con, episode["id"], now, "system", None, "open", fields["message"])
                    _event(con, episode, now, "opened")
                    changes.append({"action": "opened", "episode_id": episode["id"], **ref})
                    continue
                state = live["state"]
                if state == "snoozed" and live["snoozed_until"] and live["snoozed_until"] <= _iso(now):
                    state = "open"
                    _transition(con, live["id"], now, "system", "snoozed", "open", "snooze ended; still firing")
                    changes.append({"action": "unsnoozed", "episode_id": live["id"], **ref})
                escalated = live["severity"] == "warning" and fields["severity"] == "critical"
                if not escalated and fields["severity"] != live["severity"]:
                    fields["severity"] = live["severity"]  # an episode does not de-escalate while it lasts
                _update(con, live["id"], fields, now, version, state=state)
                if escalated:
                    _transition(con, live["id"], now, "system", state, state, "escalated to critical: " +
                                str(fields["message"] or ""))
                    if state != "snoozed":
                        _event(con, {**live, **fields, "state": state}, now, "escalated")
                    changes.append({"action": "escalated", "episode_id": live["id"], **ref})
                else:
                    changes.append({"action": "updated", "episode_id": live["id"], **ref})
            elif status == "clear" and live is not None:
                con.execute("UPDATE alert_episodes SET state = 'resolved', resolved_at = ?, updated_at = ?, "
                            "snoozed_until = NULL, data_version = ? WHERE id = ?",
                            (_iso(now), _iso(now), version, live["id"]))
                _transition(con, live["id"], now, "system", live["state"], "resolved",
                            d.get("message") or "back in band")
                _event(con, {**live, "state": "resolved"}, now, "resolved")
                changes.append({"action": "resolved", "episode_id": live["id"], **ref})
            elif status in ("pending", "recovering") and live is not None:
                # keep the episode as it is; only the latest figures are refreshed
                con.execute("UPDATE alert_episodes SET value = COALESCE(?, value), n = COALESCE(?, n), "
                            "updated_at = ?, data_version = ? WHERE id = ?",
                            (fields["value"], fields["n"], _iso(now), version, live["id"]))
    return changes


def _resolved_by_hand(con, episode_id: int) -> bool:
    row = con.execute("SELECT actor FROM alert_transitions WHERE episode_id = ? AND to_state = 'resolved' "
                      "ORDER BY id DESC LIMIT 1", (episode_id,)).fetchone()
    return bool(row) and row[0] != "system"


def _plus(iso: str, delta) -> datetime:
    start = datetime.fromisoformat(iso)
    if isinstance(delta, (int, float)):
        delta = timedelta(seconds=float(delta))
    return start + (delta if isinstance(delta, timedelta) else timedelta(0))


def _update(con, episode_id: int, fields: dict, now: datetime, version, *, state: str, **extra) -> None:
    values = {**fields, "state": state, "updated_at": _iso(now), "data_version": version, **extra}
    values = {k: v for k, v in values.items() if k in COLUMNS}
    con.execute("UPDATE alert_episodes SET " + ", ".join(f"{k} = ?" for k in values) + " WHERE id = ?",  # noqa: S608 - identifiers from this module's own constants; every value is bound
                (*values.values(), episode_id))


def stats(now: datetime | None = None, days: int = 30) -> pd.DataFrame:
    """Per domain over the last `days`: episodes opened (volume), still open, median hours
    to acknowledge and to resolve (NaN when none was)."""
    now = _now(now)
    since = _iso(now - timedelta(days=int(days)))
    with ops_store.connect() as con:
        rows = con.execute("SELECT domain, state, district_id, opened_at, acknowledged_at, resolved_at "
                           "FROM alert_episodes WHERE opened_at >= ?", (since,)).fetchall()
    frame = access.scope_frame(pd.DataFrame(rows, columns=["domain", "state", "district_id", "opened_at",
                                                           "acknowledged_at", "resolved_at"]))
    out = []
    for domain, group in frame.groupby(frame["domain"].fillna("other"), sort=True):
        opened = pd.to_datetime(group["opened_at"])
        ack = (pd.to_datetime(group["acknowledged_at"]) - opened).dt.total_seconds() / 3600
        res = (pd.to_datetime(group["resolved_at"]) - opened).dt.total_seconds() / 3600
        out.append({"domain": domain, "volume": len(group), "open": int((group["state"] != "resolved").sum()),
                    "median_hours_to_acknowledge": float(ack.median()) if ack.notna().any() else float("nan"),
                    "median_hours_to_resolve": float(res.median()) if res.notna().any() else float("nan")})
    return pd.DataFrame(out, columns=["domain", "volume", "open", "median_hours_to_acknowledge",
                                      "median_hours_to_resolve"])
