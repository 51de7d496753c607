"""The weekly district briefing (issue 17): one printable page per district and week, and a
PDF of the same content, made on demand (``/district/<id>/briefing?week=YYYY-MM-DD`` and
``/district/<id>/briefing.pdf``) and on a schedule::

    python -m data.briefing show 101 [--week 2026-10-19]   # the briefing as text
    python -m data.briefing send [--week 2026-10-19]       # e-mail every district's briefing
    python -m data.briefing email USER ADDRESS            # where a user's briefings go

What it says, from the published ops snapshot only (``data.facts``, never recomputed here):

* **a complete week only** (Monday to Monday). A metric whose data does not reach the end of
  the week is listed as "not complete for this week (data to …)", never briefed with a part
  week's figure; a week that is complete for no metric is refused.
* **what changed** against the complete week before it, only where the facts support a change
  (enough records on both sides, the data covering the reference week); otherwise the reason,
  e.g. "no comparable data".
* **what is off target**: the week's status against the target (warning / bad), rated only with
  enough records.
* **incidents, annotations and alerts** of the week (annotations and alerts scoped to the caller).

Every number comes with its records (n) and its reference (which week, its value and n).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from data import access, annotations, facts, lookups, ops_store, repository
from data.registry import DOMAIN_LABELS

log = logging.getLogger(__name__)
WEEK = timedelta(days=7)


class NotAWeek(ValueError):
    """The week asked for is not a complete week of the data (message for the reader)."""


@dataclass(frozen=True)
class Line:
    """One metric's line of the briefing."""
    metric_id: str
    domain: str
    label: str
    value_text: str       # '1,234 requests' or '–'
    n: int
    complete: bool        # the metric's data covers the whole week
    change_text: str      # '▲ 12% vs week of 12 Oct (1,100, n = 1,100)' or the reason there is none
    change: float | None
    reference_text: str   # 'week of 12 Oct: 1,100 (n = 1,100)' or why there is none
    status: str           # ok | warning | bad | none | unrated | incomplete
    status_text: str
    target_text: str


@dataclass
class Briefing:
    district_id: str
    district_name: str
    week: datetime
    week_end: datetime
    lines: list[Line] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)   # incidents and annotations
    alerts: list[dict] = field(default_factory=list)
    version: str = ""
    made_at: datetime | None = None

    @property
    def title(self) -> str:
        return f"{self.district_name} — weekly briefing, week of {self.week:%a} {self.week.day} {self.week:%b %Y}"

    @property
    def span(self) -> str:
        last = self.week_end - timedelta(days=1)
        return f"Mon {self.week.day} {self.week:%b} to Sun {last.day} {last:%b %Y} (complete week)"

    @property
    def changed(self) -> list[Line]:
        return [ln for ln in self.lines if ln.change is not None]

    @property
    def off_target(self) -> list[Line]:
        return [ln for ln in self.lines if ln.status in ("warning", "bad")]


def _week_start(value) -> datetime:
    return facts.align(pd.Timestamp(value).to_pydatetime(), "week")


def weekly_metrics() -> list:
    return [m for m in lookups.available_metrics() if "week" in m.grains]


def latest_week(now: datetime | None = None) -> datetime | None:
    """The newest week complete for at least one weekly metric (by its own data time)."""
    times = lookups.table_times()
    weeks = [facts.last_complete_period("week", times.get(m.table, (None, False))[0]) for m in weekly_metrics()]
    weeks = [w for w in weeks if w is not None]
    return max(weeks) if weeks else None


def parse_week(value) -> datetime | None:
    """A week parameter ('YYYY-MM-DD', any day of it) as the Monday it starts on; None: absent.
    ValueError when it is not a date."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 10:
        raise ValueError("week must be a date YYYY-MM-DD")
    return _week_start(datetime.strptime(value, "%Y-%m-%d"))


def _fmt(metric, value) -> str:
    if value is None:
        return "–"
    return f"{metric.format_value(value)} {metric.unit}".strip()


def _line(metric, shown: facts.Facts, complete: bool, through) -> Line:
    label = DOMAIN_LABELS.get(metric.domain, metric.domain)
    target = "" if metric.target is None else f"target {_fmt(metric, metric.target)} " \
        f"({'higher' if metric.direction == 'higher' else 'lower'} is better)"
    if not complete:
        reached = "no data" if through is None else f"data to {through:%a} {through.day} {through:%b %H:%M}"
        why = f"not complete for this week ({reached}): no weekly figure"
        return Line(metric.id, label, metric.label, "–", 0, False, why, None, "", "incomplete", why, target)
    ref = shown.reference
    if ref is None or ref.value is None or not ref.complete:
        ref_text = f"{ref.label[3:] if ref is not None else 'the week before'}: no comparable data"
    else:
        ref_text = f"{ref.label[3:]}: {_fmt(metric, ref.value)} (n = {ref.n:,})"
    if shown.change is not None:
        change_text = f"{facts.arrow(shown.change)} {ref.label} ({_fmt(metric, ref.value)}, n = {ref.n:,})"
    else:
        reason = shown.change_reason or "no comparable data"
        change_text = reason if reason.startswith("no comparable data") else f"no comparable data ({reason})"
    status = shown.shown_status
    status_text = {"ok": "on target", "warning": "off target (warning band)", "bad": "off target",
                   "none": "no target"}.get(status, f"not rated: {shown.status_reason}")
    return Line(metric.id, label, metric.label, _fmt(metric, shown.value), shown.n, True, change_text,
                shown.change, ref_text, status, status_text, target)


def _events(district_id: str, start: datetime, end: datetime) -> list[dict]:
    incidents = repository.run("ops/incidents", start=start, end=end)
    try:
        notes = access.scope_frame(annotations.between(start, end))
    except ops_store.Busy:
        notes = incidents.iloc[0:0]
    frames = [f for f in (incidents.assign(source="incident"), notes.assign(source="annotation")) if not f.empty]
    if not frames:
        return []
    events = pd.concat(frames, ignore_index=True)
    events = events[events["district_id"].isna() | (events["district_id"] == district_id)]
    out = []
    for r in events.sort_values("starts_at").itertuples():
        out.append({"source": r.source, "kind": str(r.kind), "title": str(r.title),
                    "where": "city-wide" if pd.isna(r.district_id) else "this district",
                    "domain": "every domain" if pd.isna(r.domain) else DOMAIN_LABELS.get(r.domain, r.domain),
                    "when": f"{pd.Timestamp(r.starts_at):%a %d %b %H:%M} – {pd.Timestamp(r.ends_at):%a %d %b %H:%M}"})
    return out


def _alerts(district_id: str, start: datetime, end: datetime) -> list[dict]:
    from data import episodes

    try:
        frame = episodes.list_episodes(episodes.STATES, districts=[district_id], limit=5000)
    except ops_store.Busy:
        return []
    if frame.empty:
        return []
    inside = frame[(frame["opened_at"] < end) & (frame["resolved_at"].isna() | (frame["resolved_at"] >= start))]
    out = []
    for r in inside.sort_values("opened_at").itertuples():
        n = "" if pd.isna(r.n) else f"n = {int(r.n):,}"
        out.append({"severity": str(r.severity), "state": str(r.state), "metric_id": str(r.metric_id),
                    "rule": str(r.rule), "opened": f"{r.opened_at:%a %d %b %H:%M}", "n": n,
                    "message": "" if r.message is None or (not isinstance(r.message, str)) else r.message})
    return out


def build(district_id: str, week=None, now: datetime | None = None) -> Briefing:
    """The briefing of `district_id` for the complete week starting on the Monday of `week`
    (None: the latest complete week). NotAWeek when no metric's data covers that whole week;
    KeyError for an unknown district. The caller is authorized before (data.access)."""
    names = lookups.district_names()
    if district_id not in names or district_id == "city":
        raise KeyError(district_id)
    now = now or datetime.now()
    start = _week_start(week) if week is not None else latest_week(now)
    if start is None:
        raise NotAWeek("There is no complete week in the published data yet.")
    end = start + WEEK
    times = lookups.table_times()
    first = facts.first_times()
    metrics = weekly_metrics()
    history = repository.run("ops/metric_history", metrics=[m.id for m in metrics], grain="week",
                             district=district_id, start=start - WEEK, end=end)
    briefing = Briefing(district_id, names[district_id], start, end, version=history.attrs.get("version", ""),
                        made_at=now)
    any_complete = False
    for metric in metrics:
        data_time, simulated = times.get(metric.table, (None, False))
        complete = data_time is not None and data_time >= end
        part = history[history["metric_id"] == metric.id].sort_values("period")
        shown = None
        if complete:
            any_complete = True
            part = facts.filled(metric, part, grain="week", last=start)
            shown = facts.from_series(metric, part, grain="week", district=district_id, period=start,
                                      data_time=data_time, now=now, simulated=simulated,
                                      first_time=first.get(metric.table))
        briefing.lines.append(_line(metric, shown, complete, data_time))
    if not any_complete:
        latest = latest_week(now)
        hint = f" The latest complete week starts on {latest:%Y-%m-%d}." if latest is not None else ""
        raise NotAWeek(f"The week of {start:%Y-%m-%d} is not complete in the published data: a part week is "
                       f"not briefed as a week.{hint}")
    briefing.events = _events(district_id, start, end)
    briefing.alerts = _alerts(district_id, start, end)
    return briefing


# --------------------------------------------------------------------------- the text
def sections(b: Briefing) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the briefing: the one content the page, the PDF and the mail share."""
    def metric_line(ln: Line, what: str) -> str:
        return f"{ln.domain} · {ln.label}: {what}"

    changed = [metric_line(ln, f"{ln.value_text} (n = {ln.n:,}), {ln.change_text}") for ln in b.changed]
    unchanged = [metric_line(ln, f"{ln.value_text} (n = {ln.n:,}), {ln.change_text}")
                 for ln in b.lines if ln.complete and ln.change is None]
    off = [metric_line(ln, f"{ln.value_text} (n = {ln.n:,}), {ln.status_text}; {ln.target_text}")
           for ln in b.off_target]
    incomplete = [metric_line(ln, ln.status_text) for ln in b.lines if not ln.complete]
    events = [f"{e['source']}: {e['title']} ({e['kind']}, {e['domain']}, {e['where']}) {e['when']}" for e in b.events]
    alerts = [f"{a['severity']} {a['rule']} alert on {a['metric_id']}, opened {a['opened']} ({a['state']})"
              + (f", {a['n']}" if a['n'] else "") + (f": {a['message']}" if a['message'] else "") for a in b.alerts]
    return [
        ("What changed against the week before", changed or ["No change the data supports this week."]),
        ("No comparable data", unchanged or ["Every figure had a comparable week before."]),
        ("Off target", off or ["Nothing rated off target this week."]),
        ("Incidents and annotations", events or ["None recorded this week."]),
        ("Alerts", alerts or ["No alert this week."]),
        ("Not complete for this week", incomplete or ["Every weekly metric covers the whole week."]),
    ]


def footer(b: Briefing) -> str:
    made = f"{b.made_at:%Y-%m-%d %H:%M}" if b.made_at else ""
    return (f"District {b.district_id} · data version {b.version or 'unknown'} · made {made} · "
            "n = records behind a figure; a change is shown only against a complete week with enough records.")


def as_text(b: Briefing) -> str:
    out = [b.title, b.span, ""]
    for heading, lines in sections(b):
        out.append(heading)
        out += [f"- {line}" for line in lines]
        out.append("")
    out.append(footer(b))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the page
PRINT_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#111;max-width:60rem;
margin:1.5rem auto;padding:0 1rem;line-height:1.4}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.25rem 0 .4rem;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .4rem;
text-align:left;vertical-align:top}th{background:#eee}.status-bad{font-weight:bold}
.status-bad::before{content:"✖ "}.status-warning::before{content:"▲ "}.status-ok::before{content:"✔ "}
.meta{color:#444;font-size:.85rem}.actions{margin:.5rem 0}
@media print{.actions{display:none}body{margin:0;max-width:none;font-size:10.5pt}a{color:#111;text-decoration:none}
tr,li{break-inside:avoid}h2{break-after:avoid}@page{size:A4;margin:15mm}}
"""


def as_html(b: Briefing) -> str:
    from markupsafe import escape as e

    rows = "".join(
        f"<tr><td>{e(ln.domain)}</td><td>{e(ln.label)}</td><td>{e(ln.value_text)}</td><td>{ln.n:,}</td>"
        f"<td>{e(ln.reference_text)}</td><td>{e(ln.change_text)}</td>"
        f"<td class=\"status-{e(ln.status)}\">{e(ln.status_text)}</td></tr>" for ln in b.lines)
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(b.title)}</title>"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"/_favicon.ico\"><style>{PRINT_CSS}</style>"
             f"</head><body><main><h1>{e(b.title)}</h1><p class=\"meta\">{e(b.span)}</p>",
             f"<p class=\"actions\"><a href=\"/district/{e(b.district_id)}/briefing.pdf?week={b.week:%Y-%m-%d}\">"
             f"PDF</a> · <a href=\"/district/{e(b.district_id)}/briefing?week={(b.week - WEEK):%Y-%m-%d}\">"
             f"week before</a> · <a href=\"/district/{e(b.district_id)}\">district page</a></p>"]
    for heading, lines in sections(b):
        parts.append(f"<h2>{e(heading)}</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in lines) + "</ul>")
    parts.append("<h2>Every weekly figure</h2><table><thead><tr><th>Domain</th><th>Metric</th><th>This week</th>"
                 "<th>n</th><th>Reference</th><th>Change</th><th>Status</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    parts.append(f"<p class=\"meta\">{e(footer(b))}</p></main></body></html>")
    return "".join(parts)


# --------------------------------------------------------------------------- the PDF
_PLAIN = {"▲": "up", "▼": "down", "–": "-", "—": "-", "…": "...", "✖": "x", "✔": "ok", "’": "'", "‘": "'",
          "“": '"', "”": '"', "≥": ">=", "≤": "<=", "→": "->", "€": "EUR", "²": "2", "\u202f": " ", "\u00a0": " ",
          "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "œ": "oe", "Œ": "OE"}


def latin1(text: str) -> str:
    """`text` in the core PDF fonts' alphabet: symbols spelled out, accents kept where Latin-1
    has them, other letters transliterated (NFKD without marks), the rest as '?'."""
    out = []
    for ch in str(text):
        ch = _PLAIN.get(ch, ch)
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(plain if plain and all(ord(c) < 256 for c in plain) else "?")
    return "".join(out)


def as_pdf(b: Briefing) -> bytes:
    """The briefing as an A4 PDF (fpdf2, a core font: no font file, nothing downloaded)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(latin1(b.title))
    pdf.set_creator("CityOps")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, latin1(b.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 6, latin1(b.span), new_x="LMARGIN", new_y="NEXT")
    for heading, lines in sections(b):
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, latin1(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9.5)
        for line in lines:
            pdf.multi_cell(0, 5, latin1("- " + line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(0, 4, latin1(footer(b)), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --------------------------------------------------------------------------- mail
ROUTE = "@briefing"  # the notify_messages route of briefings (no routes-file name has an '@');
# their status is 'queued' until sent (not 'pending': the alert notifier's deliver() leaves them alone)


def set_email(username: str, address: str | None) -> None:
    """The address the user's briefings go to (None: none)."""
    from data import notify, users

    if address is not None and not notify._EMAIL.match(address):
        raise ValueError(f"bad e-mail address {address[:60]!r}")
    if users.get(username) is None:
        raise ValueError(f"no user {username!r}")
    with ops_store.connect() as con:
        con.execute("UPDATE users SET email = ? WHERE username = ?", (address, username))


def recipients(district_id: str) -> list[str]:
    """The e-mail addresses of the enabled officials of `district_id` (each once)."""
    from data import users

    with ops_store.connect() as con:
        rows = con.execute("SELECT username, email FROM users WHERE role = 'official' AND disabled = 0 "
                           "AND email IS NOT NULL ORDER BY username").fetchall()
    out = []
    for username, email in rows:
        user = users.get(username)
        if user is not None and user.principal().sees(district_id) and email not in out:
            out.append(email)
    return out


def mail_configured() -> bool:
    """Briefings are mailed: the briefing_email setting is on and notify_smtp_host names a server."""
    from data import settings

    return bool(settings.get("briefing_email")) and bool(str(settings.get("notify_smtp_host") or "").strip())


def _deliver(message_id: int, b: Briefing, address: str, pdf: bytes, now: datetime) -> str:
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from data import settings

    message = EmailMessage()
    message["Subject"] = f"[CityOps] {b.title}"
    message["From"] = str(settings.get("notify_smtp_from"))
    message["To"] = address
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(idstring=f"cityops-briefing-{message_id}")
    message["X-CityOps-Delivery"] = str(message_id)
    message.set_content(as_text(b))
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=f"cityops-briefing-{b.district_id}-{b.week:%Y-%m-%d}.pdf")
    with smtplib.SMTP(str(settings.get("notify_smtp_host")), int(settings.get("notify_smtp_port")),
                      timeout=float(settings.get("notify_timeout_s"))) as smtp:
        if settings.get("notify_smtp_starttls"):
            smtp.starttls()
        if settings.get("notify_smtp_user"):
            smtp.login(str(settings.get("notify_smtp_user")), str(settings.get("notify_smtp_password")))
        smtp.send_message(message)
    return "sent"


def send(week=None, now: datetime | None = None) -> dict:
    """Make every district's briefing of the week (default: the latest complete week) and mail
    it, PDF attached, to the district's officials. Idempotent per week and address: a briefing
    already sent (notify_messages, route '@briefing') is not sent again; a failed one is tried
    again by the next run. Every attempt is in the notifications' delivery log
    (``python -m data.notify log``)."""
    from data import notify

    now = (now or datetime.now()).replace(microsecond=0)
    counts = {"districts": 0, "sent": 0, "already sent": 0, "failed": 0, "no recipient": 0}
    if not mail_configured():
        counts["mail"] = "not configured"
        return counts
    start = _week_start(week) if week is not None else latest_week(now)
    if start is None:
        raise NotAWeek("There is no complete week in the published data yet.")
    for district_id in sorted(d for d in lookups.district_names() if d != "city"):
        addresses = recipients(district_id)
        if not addresses:
            counts["no recipient"] += 1
            continue
        b = build(district_id, start, now)
        counts["districts"] += 1
        pdf, subject = as_pdf(b), f"[CityOps] {b.title}"
        key = json.dumps({"kind": "briefing", "district_id": district_id, "week": f"{start:%Y-%m-%d}"})
        for address in addresses:
            with ops_store.connect() as con:
                con.begin_immediate()  # two runs never both claim the same briefing
                try:
                    row = con.execute("SELECT id, status FROM notify_messages WHERE route = ? AND channel = 'email' "
                                      "AND destination = ? AND body = ?", (ROUTE, address, key)).fetchone()
                    if row is not None and row[1] == "sent":
                        con.rollback()
                        counts["already sent"] += 1
                        continue
                    if row is None:
                        cur = con.execute(
                            "INSERT INTO notify_messages (route, channel, destination, created_at, items, subject, "
                            "body, status, next_at) VALUES (?, 'email', ?, ?, 1, ?, ?, 'queued', ?)",
                            (ROUTE, address, notify._iso(now), subject[:200], key, notify._iso(now)))
                        message_id = int(cur.lastrowid)
                        attempts = 0
                    else:
                        message_id = int(row[0])
                        attempts = int(con.execute("SELECT attempts FROM notify_messages WHERE id = ?",
                                                   (message_id,)).fetchone()[0])
                    con.commit()
                except BaseException:
                    con.rollback()
                    raise
            try:
                detail = _deliver(message_id, b, address, pdf, now)
                outcome = "sent"
            except Exception as exc:  # noqa: BLE001 — SMTP, network: the next run tries again
                detail, outcome = f"{type(exc).__name__}: {exc}"[:300], "failed"
            with ops_store.connect() as con:
                con.execute("UPDATE notify_messages SET status = ?, attempts = ?, sent_at = ?, last_error = ? "
                            "WHERE id = ?", ("sent" if outcome == "sent" else "queued", attempts + 1,
                                             notify._iso(now) if outcome == "sent" else None,
                                             None if outcome == "sent" else detail, message_id))
                con.execute("INSERT INTO notify_log (message_id, at, attempt, outcome, detail) VALUES (?, ?, ?, ?, ?)",
                            (message_id, notify._iso(now), attempts + 1, outcome, detail))
            counts[outcome] += 1
    return counts


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.briefing", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print one district's briefing as text")
    show.add_argument("district")
    show.add_argument("--week", default=None, help="any day of the week (YYYY-MM-DD); default: the latest complete")
    send_p = sub.add_parser("send", help="mail every district's briefing to its officials (once per week)")
    send_p.add_argument("--week", default=None, help="any day of the week (YYYY-MM-DD); default: the latest complete")
    email_p = sub.add_parser("email", help="set the address a user's briefings go to ('' removes it)")
    email_p.add_argument("username")
    email_p.add_argument("address")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "email":
        try:
            set_email(args.username, args.address or None)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        return 0
    with access.system():
        if args.command == "send":
            try:
                print(json.dumps(send(parse_week(args.week))))
            except (NotAWeek, ValueError) as exc:
                print(str(exc), file=sys.stderr)
                return 2
            return 0
        try:
            b = build(args.district, parse_week(args.week))
        except (NotAWeek, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 2
        except KeyError:
            print(f"unknown district {args.district!r}", file=sys.stderr)
            return 2
        print(as_text(b))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
