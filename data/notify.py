"""Notifications: alert episodes' events (the ``alert_events`` outbox in the ops store) sent to
webhooks (JSON, HMAC-SHA256 signed) and e-mail (SMTP) by route.

    python -m data.notify check          # validate the routes file, print the routes
    python -m data.notify run            # one pass: queue new events, group, deliver due messages
    python -m data.notify run --loop 30  # a pass every 30 s (beside the live feed)
    python -m data.notify log [--limit N]

The writer process calls :func:`run` after each detection run (``data.livefeed``); page
callbacks never send anything. One pass:

1. **queue** every event after the last one seen (a cursor in the ops store) once per matching
   route and channel (``notify_items``). The same kind of event of the same episode already
   queued for that channel within ``notify_dedupe_hours`` is kept as a *duplicate* and not
   sent again; events older than ``notify_max_age_hours`` are *expired* (a notifier started
   late does not replay history).
2. **group**: the items of one channel become ONE message once the oldest has waited
   ``notify_group_s`` (a burst of alerts → one message). During a route's quiet hours warnings
   (and criticals too with ``quiet_critical: hold``) are held and sent as one digest when the
   quiet hours end.
3. **deliver** the messages that are due, each claimed with a lease (two notifiers never send
   the same message); a failed attempt is retried with exponential back-off
   (``notify_backoff_s`` × 2^(attempt-1), at most ``notify_backoff_max_s``) up to
   ``notify_max_attempts``; a permanent refusal (HTTP 4xx other than 408/425/429, SMTP
   recipients refused) fails at once. Every attempt is written to ``notify_log``.

Routes live in a YAML file (``notify_routes`` setting, default ``<var>/notify.yaml``; keep it
mode 600, it holds webhook secrets)::

    routes:
      - name: waste-desk
        domains: [waste]                 # omitted: every domain
        severities: [critical, warning]  # omitted: both
        districts: ["101", "102", city]  # omitted: every district and the city
        events: [opened, escalated, reopened, resolved]   # omitted: all four
        quiet_hours: "22:00-07:00"       # local time; omitted: none
        quiet_critical: send             # send (default) or hold criticals in quiet hours too
        webhook: {url: "https://hooks.example/cityops", secret: "at least 16 characters"}
        email: [waste-desk@city.example]

A webhook receives ``POST`` JSON ``{"source": "cityops", "message_id", "sent_at", "count",
"events": [...]}`` with headers ``X-CityOps-Timestamp`` (Unix seconds),
``X-CityOps-Signature: sha256=<hex>`` = HMAC-SHA256(secret, timestamp + "." + body) and
``X-CityOps-Delivery`` (the message id: a retry after a lost answer repeats it, so a
receiver can drop the duplicate).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import re
import smtplib
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import yaml

from data import ops_store, registry, settings

log = logging.getLogger(__name__)

KINDS = ("opened", "escalated", "reopened", "resolved")
SEVERITIES = ("critical", "warning")
CHANNELS = ("webhook", "email")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s,;<>\"']{1,64}@[A-Za-z0-9.-]{1,190}$")
_DISTRICT = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
RETRY_HTTP = {408, 425, 429}
LEASE_S = 120
MAX_ITEMS_PER_MESSAGE = 200
BATCH = 1000

# the tables (notify_cursor, notify_items, notify_messages, notify_log) are in the ops store's
# schema: data/migrations (Alembic)


class RoutesError(ValueError):
    """The routes file is invalid; the message names the route and the field."""


@dataclass(frozen=True)
class Route:
    name: str
    domains: frozenset[str] | None = None
    severities: frozenset[str] = frozenset(SEVERITIES)
    districts: frozenset[str] | None = None
    events: frozenset[str] = frozenset(KINDS)
    quiet: tuple[int, int] | None = None  # minutes after midnight: start, end
    quiet_critical: str = "send"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    email: tuple[str, ...] = ()

    def channels(self) -> list[str]:
        return [c for c in CHANNELS if (c == "webhook" and self.webhook_url) or (c == "email" and self.email)]

    def matches(self, payload: dict, kind: str) -> bool:
        if kind not in self.events:
            return False
        if payload.get("severity") not in self.severities:
            return False
        if self.domains is not None and payload.get("domain") not in self.domains:
            return False
        return self.districts is None or str(payload.get("district_id")) in self.districts

    def destination(self, channel: str) -> str:
        return self.webhook_url if channel == "webhook" else ", ".join(self.email)

    def quiet_until(self, when: datetime) -> datetime | None:
        """End of the quiet period `when` falls in, or None outside quiet hours."""
        if self.quiet is None:
            return None
        start, end = self.quiet
        minute = when.hour * 60 + when.minute
        midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
        if start <= end:  # e.g. 12:00-14:00
            if start <= minute < end:
                return midnight + timedelta(minutes=end)
            return None
        if minute >= start:  # e.g. 22:00-07:00, before midnight
            return midnight + timedelta(days=1, minutes=end)
        if minute < end:
            return midnight + timedelta(minutes=end)
        return None


# --- routes ---------------------------------------------------------------------------------

def routes_path() -> Path:
    configured = str(settings.get("notify_routes") or "")
    if not configured:
        return settings.var_dir() / "notify.yaml"
    path = Path(configured)
    return path if path.is_absolute() else settings.ROOT / path


def _set(value, allowed, where: str, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RoutesError(f"{where}: {what} must be a non-empty list")
    out = set()
    for item in value:
        item = str(item)
        if allowed is not None and item not in allowed:
            raise RoutesError(f"{where}: unknown {what[:-1] if what.endswith('s') else what} {item!r} "
                              f"(one of {', '.join(allowed)})")
        if allowed is None and not _DISTRICT.match(item):
            raise RoutesError(f"{where}: bad district id {item[:30]!r}")
        out.add(item)
    return frozenset(out)


_ROUTE_FIELDS = {"name", "domains", "severities", "districts", "events", "quiet_hours", "quiet_critical",
                 "webhook", "email"}


def parse_routes(data) -> list[Route]:
    """Validate the parsed YAML; RoutesError names the route and field."""
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"routes"}:
        raise RoutesError("the file must hold one key, 'routes', with a list of routes")
    items = data.get("routes") or []
    if not isinstance(items, list):
        raise RoutesError("routes must be a list")
    routes, names = [], set()
    for i, item in enumerate(items):
        routes.append(_route(item, f"route {i + 1}", names))
    return routes


def _route(item, where: str, names: set[str]) -> Route:
    """One route, checked field by field in a fixed order (the first problem is the one named);
    `names` collects the names seen so far."""
    if not isinstance(item, dict):
        raise RoutesError(f"{where}: must be a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RoutesError(f"{where}: name must be a-z0-9_- (1-41 characters)")
    where = f"route {name!r}"
    if name in names:
        raise RoutesError(f"{where}: the name is used twice")
    names.add(name)
    unknown = set(item) - _ROUTE_FIELDS
    if unknown:
        raise RoutesError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    quiet = _quiet_hours(item.get("quiet_hours"), where)
    quiet_critical = item.get("quiet_critical", "send")
    if quiet_critical not in ("send", "hold"):
        raise RoutesError(f"{where}: quiet_critical must be 'send' or 'hold'")
    url, secret = _webhook(item.get("webhook"), where)
    email = _emails(item.get("email"), where)
    if url is None and not email:
        raise RoutesError(f"{where}: needs a webhook or an email")
    return Route(
        name=name, domains=_set(item.get("domains"), registry.DOMAINS, where, "domains"),
        severities=_set(item.get("severities"), SEVERITIES, where, "severities") or frozenset(SEVERITIES),
        districts=_set(item.get("districts"), None, where, "districts"),
        events=_set(item.get("events"), KINDS, where, "events") or frozenset(KINDS),
        quiet=quiet, quiet_critical=quiet_critical, webhook_url=url, webhook_secret=secret, email=email)


def _quiet_hours(text, where: str) -> tuple[int, int] | None:
    """'HH:MM-HH:MM' → (start, end) in minutes of the day; None when not given."""
    if text is None:
        return None
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2 or not all(_HHMM.match(p.strip()) for p in parts):
        raise RoutesError(f"{where}: quiet_hours must be 'HH:MM-HH:MM'")
    start, end = (int(p.strip()[:2]) * 60 + int(p.strip()[3:]) for p in parts)
    if start == end:
        raise RoutesError(f"{where}: quiet_hours start and end are the same")
    return start, end


def _webhook(hook, where: str) -> tuple[str | None, str | None]:
    """{url, secret} → (url, secret); (None, None) when not given."""
    if hook is None:
        return None, None
    if not isinstance(hook, dict) or set(hook) - {"url", "secret"}:
        raise RoutesError(f"{where}: webhook must be {{url: ..., secret: ...}}")
    url, secret = hook.get("url"), hook.get("secret")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+(/\S*)?$", url) or len(url) > 500:
        raise RoutesError(f"{where}: webhook url must be an http(s) URL")
    if not isinstance(secret, str) or len(secret) < 16:
        raise RoutesError(f"{where}: webhook secret must be at least 16 characters")
    return url, secret


def _emails(raw, where: str) -> tuple[str, ...]:
    """An address or a list of at most 50; () when not given."""
    if raw is None:
        return ()
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not raw or len(raw) > 50:
        raise RoutesError(f"{where}: email must be an address or a list of addresses")
    for address in raw:
        if not isinstance(address, str) or not _EMAIL.match(address):
            raise RoutesError(f"{where}: bad e-mail address {str(address)[:60]!r}")
    return tuple(raw)


def load_routes(path: Path | None = None) -> list[Route]:
    """The routes of the file; none when it does not exist. RoutesError when it is invalid."""
    path = path or routes_path()
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RoutesError(f"{path}: cannot read it ({str(exc).splitlines()[0]})") from None
    try:
        return parse_routes(data)
    except RoutesError as exc:
        raise RoutesError(f"{path}: {exc}") from None


# --- store ----------------------------------------------------------------------------------

def connect():
    """The ops store (its schema has the notification tables)."""
    return ops_store.connect()


def _iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat(sep=" ")


def queue(now: datetime, routes: list[Route]) -> dict:
    """Step 1: new events → one item per matching route and channel. Returns counts."""
    counts = {"events": 0, "queued": 0, "duplicate": 0, "expired": 0}
    group = timedelta(seconds=float(settings.get("notify_group_s")))
    dedupe = timedelta(hours=float(settings.get("notify_dedupe_hours")))
    oldest = now - timedelta(hours=float(settings.get("notify_max_age_hours")))
    with connect() as con:
        con.begin_immediate()  # one notifier moves the cursor at a time
        try:
            row = con.execute("SELECT event_id FROM notify_cursor WHERE name = 'events'").fetchone()
            cursor = row[0] if row else 0
            events = con.execute("SELECT id, episode_id, at, kind, payload FROM alert_events WHERE id > ? "
                                 "ORDER BY id LIMIT ?", (cursor, BATCH)).fetchall()
            for event_id, episode_id, at, kind, payload_text in events:
                counts["events"] += 1
                cursor = max(cursor, event_id)
                try:
                    payload = json.loads(payload_text or "{}")
                except ValueError:
                    payload = {}
                if not isinstance(payload, dict):
                    payload = {}
                payload.update(event_id=event_id, episode_id=episode_id, kind=kind, at=at)
                try:
                    happened = datetime.fromisoformat(str(at)).replace(tzinfo=None)
                except ValueError:
                    happened = now
                for route in routes:
                    if not route.matches(payload, kind):
                        continue
                    for channel in route.channels():
                        status = "pending"
                        if happened < oldest:
                            status = "expired"
                        elif con.execute(
                                "SELECT 1 FROM notify_items WHERE route = ? AND channel = ? AND episode_id = ? "
                                "AND kind = ? AND status IN ('pending', 'grouped') AND created_at >= ? LIMIT 1",
                                (route.name, channel, episode_id, kind, _iso(now - dedupe))).fetchone():
                            status = "duplicate"
                        cur = con.execute(
                            "INSERT INTO notify_items (event_id, episode_id, route, channel, kind, "
                            "severity, created_at, due_at, status, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING",
                            (event_id, episode_id, route.name, channel, kind, payload.get("severity"), _iso(now),
                             _iso(now + group), status, json.dumps(payload, default=str)))
                        if cur.rowcount:
                            counts["queued" if status == "pending" else status] += 1
            con.execute("INSERT INTO notify_cursor (name, event_id) VALUES ('events', ?) "
                        "ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id", (cursor,))
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return counts


def _subject(items: list[dict]) -> str:
    if len(items) == 1:
        item = items[0]
        return f"[CityOps] {item.get('severity', '')} {item.get('kind', '')}: {item.get('message') or item.get('metric_id')}"[:200]
    critical = sum(1 for i in items if i.get("severity") == "critical")
    parts = [f"{critical} critical"] if critical else []
    if len(items) - critical:
        parts.append(f"{len(items) - critical} warning")
    return f"[CityOps] {len(items)} alert events: " + ", ".join(parts)


def _link(item: dict) -> str | None:
    base = str(settings.get("notify_base_url") or "").rstrip("/")
    return f"{base}/alerts/{item['episode_id']}" if base and item.get("episode_id") is not None else None


def _text(items: list[dict]) -> str:
    lines = []
    for item in items:
        where = "the city" if item.get("district_id") == "city" else f"district {item.get('district_id')}"
        line = (f"- {str(item.get('severity', '')).upper()} {item.get('kind')} · {item.get('metric_id')} in {where}"
                f" ({item.get('rule')}) at {item.get('at')}: {item.get('message') or ''}")
        link = _link(item)
        lines.append(line + (f"\n  {link}" if link else ""))
    return "\n".join(lines) + "\n\n— CityOps notifications (routes: python -m data.notify check)\n"


def group(now: datetime, routes: list[Route]) -> dict:
    """Step 2: the due items of each route and channel → one message. In a route's quiet
    hours only criticals go out (none with quiet_critical: hold); the rest wait, and leave as
    one digest at the first pass after the quiet hours end. Returns counts."""
    counts = {"messages": 0, "held": 0}
    by_name = {r.name: r for r in routes}
    with connect() as con:
        con.begin_immediate()
        try:
            targets = con.execute("SELECT route, channel FROM notify_items WHERE status = 'pending' "
                                  "GROUP BY route, channel HAVING min(due_at) <= ?", (_iso(now),)).fetchall()
            for route_name, channel in targets:
                route = by_name.get(route_name)
                if route is None or channel not in route.channels():
                    con.execute("UPDATE notify_items SET status = 'dropped' WHERE status = 'pending' AND route = ? "
                                "AND channel = ?", (route_name, channel))  # the route was removed
                    continue
                rows = con.execute("SELECT id, severity, payload FROM notify_items WHERE status = 'pending' "
                                   "AND route = ? AND channel = ? ORDER BY event_id LIMIT ?",
                                   (route_name, channel, MAX_ITEMS_PER_MESSAGE)).fetchall()
                if route.quiet_until(now) is not None:
                    allowed = [r for r in rows if r[1] == "critical" and route.quiet_critical == "send"]
                    counts["held"] += len(rows) - len(allowed)
                    rows = allowed
                if not rows:
                    continue
                items = [json.loads(p) for _id, _sev, p in rows]
                for item in items:
                    item["url"] = _link(item)
                body = {"source": "cityops", "route": route_name, "count": len(items), "events": items}
                cur = con.execute(
                    "INSERT INTO notify_messages (route, channel, destination, created_at, items, subject, body, "
                    "status, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (route_name, channel, route.destination(channel), _iso(now), len(items), _subject(items),
                     json.dumps(body, default=str), _iso(now)))
                message_id = int(cur.lastrowid)
                con.executemany("UPDATE notify_items SET status = 'grouped', message_id = ? WHERE id = ?",
                                [(message_id, row[0]) for row in rows])
                counts["messages"] += 1
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return counts


class _Permanent(Exception):
    """A refusal that a retry will not change."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-CityOps-Signature value of a webhook body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _post_webhook(route: Route, message_id: int, body: dict, now: datetime) -> str:
    data = json.dumps({**body, "message_id": message_id, "sent_at": _iso(now)}, default=str).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(route.webhook_url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "CityOps-notify/1",
        "X-CityOps-Timestamp": timestamp, "X-CityOps-Signature": sign(route.webhook_secret, timestamp, data),
        "X-CityOps-Delivery": str(message_id)})
    try:
        with _opener.open(request, timeout=float(settings.get("notify_timeout_s"))) as response:
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in RETRY_HTTP:
            raise _Permanent(f"HTTP {exc.code}") from None
        raise RuntimeError(f"HTTP {exc.code}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a signed body is not re-sent elsewhere
        return None


_opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def _send_email(route: Route, message_id: int, subject: str, body: dict) -> str:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = str(settings.get("notify_smtp_from"))
    message["To"] = ", ".join(route.email)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(idstring=f"cityops-{message_id}")
    message["X-CityOps-Delivery"] = str(message_id)
    message.set_content(_text(body.get("events", [])))
    host, port = str(settings.get("notify_smtp_host")), int(settings.get("notify_smtp_port"))
    try:
        with smtplib.SMTP(host, port, timeout=float(settings.get("notify_timeout_s"))) as smtp:
            if settings.get("notify_smtp_starttls"):
                smtp.starttls()
            if settings.get("notify_smtp_user"):
                smtp.login(str(settings.get("notify_smtp_user")), str(settings.get("notify_smtp_password")))
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _Permanent(f"recipients refused: {', '.join(exc.recipients)}"[:300]) from None
    if refused:
        return f"sent; refused: {', '.join(refused)}"[:300]
    return "sent"


def backoff(attempt: int) -> timedelta:
    """Wait after failed attempt number `attempt` (1, 2, …): base × 2^(attempt-1), capped."""
    base, cap = float(settings.get("notify_backoff_s")), float(settings.get("notify_backoff_max_s"))
    return timedelta(seconds=min(base * 2 ** (attempt - 1), cap))


def deliver(now: datetime, routes: list[Route], *, budget_s: float = 30.0) -> dict:
    """Step 3: send the due messages (at most `budget_s` of sending per pass)."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    by_name = {r.name: r for r in routes}
    max_attempts = int(settings.get("notify_max_attempts"))
    started = time.monotonic()
    with connect() as con:
        due = con.execute("SELECT id FROM notify_messages WHERE status = 'pending' AND next_at <= ? "
                          "AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT 100",
                          (_iso(now), _iso(now))).fetchall()
    for (message_id,) in due:
        if time.monotonic() - started > budget_s:
            break
        with connect() as con:  # claim it: another notifier skips a leased message
            claimed = con.execute("UPDATE notify_messages SET lease_until = ? WHERE id = ? AND status = 'pending' "
                                  "AND (lease_until IS NULL OR lease_until < ?)",
                                  (_iso(now + timedelta(seconds=LEASE_S)), message_id, _iso(now))).rowcount
            if not claimed:
                continue
            route_name, channel, subject, body_text, attempts = con.execute(
                "SELECT route, channel, subject, body, attempts FROM notify_messages WHERE id = ?",
                (message_id,)).fetchone()
        route = by_name.get(route_name)
        attempt = attempts + 1
        try:
            if route is None or channel not in route.channels():
                raise _Permanent("the route or channel no longer exists")
            body = json.loads(body_text)
            detail = (_post_webhook(route, message_id, body, now) if channel == "webhook"
                      else _send_email(route, message_id, subject, body))
            outcome, status, next_at, error = "sent", "sent", now, None
        except _Permanent as exc:
            detail = error = str(exc)
            outcome, status, next_at = "failed", "failed", now
        except Exception as exc:  # noqa: BLE001 — network, SMTP, timeouts: retry later
            detail = error = f"{type(exc).__name__}: {exc}"[:300]
            if attempt >= max_attempts:
                outcome, status, next_at = "failed", "failed", now
            else:
                outcome, status, next_at = "retry", "pending", now + backoff(attempt)
        with connect() as con:
            con.execute("UPDATE notify_messages SET status = ?, attempts = ?, next_at = ?, lease_until = NULL, "
                        "sent_at = ?, last_error = ? WHERE id = ?",
                        (status, attempt, _iso(next_at), _iso(now) if status == "sent" else None, error, message_id))
            con.execute("INSERT INTO notify_log (message_id, at, attempt, outcome, detail) VALUES (?, ?, ?, ?, ?)",
                        (message_id, _iso(now), attempt, outcome, detail))
        counts[outcome] += 1
        (log.warning if outcome != "sent" else log.info)(
            "notification %s via %s/%s: %s (attempt %d) %s", message_id, route_name, channel, outcome, attempt,
            detail)
    return counts


def run(now: datetime | None = None, routes: list[Route] | None = None) -> dict:
    """One pass: queue, group, deliver. Safe to call from the writer after each detection run:
    an invalid routes file is logged and nothing is sent (events stay in the outbox)."""
    now = (now or datetime.now()).replace(microsecond=0)
    if routes is None:
        try:
            routes = load_routes()
        except RoutesError as exc:
            log.error("notifications off: %s", exc)
            return {"error": str(exc)}
    counts = queue(now, routes)
    counts.update(group(now, routes))
    counts.update(deliver(now, routes))
    return counts


def delivery_log(limit: int = 50) -> list[dict]:
    """The latest delivery attempts, newest first (for the CLI and the ops pages)."""
    with connect() as con:
        rows = con.execute(
            "SELECT l.at, l.message_id, m.route, m.channel, m.destination, m.items, l.attempt, l.outcome, l.detail "
            "FROM notify_log l JOIN notify_messages m ON m.id = l.message_id ORDER BY l.id DESC LIMIT ?",
            (int(limit),)).fetchall()
    keys = ("at", "message_id", "route", "channel", "destination", "items", "attempt", "outcome", "detail")
    return [dict(zip(keys, r, strict=False)) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.notify", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate the routes file and print the routes")
    run_p = sub.add_parser("run", help="queue new alert events, group them, deliver due messages")
    run_p.add_argument("--loop", type=float, default=0, help="repeat every N seconds (0 = once)")
    log_p = sub.add_parser("log", help="the latest delivery attempts")
    log_p.add_argument("--limit", type=int, default=30)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "check":
        try:
            routes = load_routes()
        except RoutesError as exc:
            print(f"invalid: {exc}", file=sys.stderr)
            return 2
        print(f"{routes_path()}: {len(routes)} route(s)")
        for r in routes:
            print(f"  {r.name}: {', '.join(r.channels())}; domains {sorted(r.domains) if r.domains else 'all'}; "
                  f"severities {sorted(r.severities)}; districts {sorted(r.districts) if r.districts else 'all'}; "
                  f"quiet {r.quiet or 'none'}")
        return 0
    if args.command == "log":
        for row in delivery_log(args.limit):
            print(f"{row['at']}  #{row['message_id']} {row['route']}/{row['channel']} ({row['items']} events) "
                  f"attempt {row['attempt']}: {row['outcome']} {row['detail'] or ''}")
        return 0
    while True:
        print(json.dumps(run()))
        if args.loop <= 0:
            return 0
        time.sleep(max(args.loop, 1.0))


if __name__ == "__main__":
    raise SystemExit(main())
