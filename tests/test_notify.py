"""Notifications (data/notify.py) delivered to a real local SMTP server (aiosmtpd) and a real
local HTTP receiver (http.server on 127.0.0.1 in a thread): signed webhooks, retries with
back-off against a receiver that fails (or is down) and then recovers, permanent refusals,
de-duplication, a burst grouped into one message, quiet hours, routing by domain, severity
and district, and the validated routes file. Each test has its own ops store (var dir)."""
from __future__ import annotations

import email
import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data import notify, ops_store
from tests.live import free_port

SECRET = "a-webhook-secret-of-32-characters"
pytestmark = pytest.mark.ops_store  # every test here runs on SQLite and on PostgreSQL

T0 = datetime(2026, 11, 3, 14, 0)
# the alert_events outbox as in EPISODES-CONTRACT.md (data.ops_store creates it; here too, for
# a fresh store that never ran detection)
EVENTS = ("CREATE TABLE IF NOT EXISTS alert_events (id INTEGER PRIMARY KEY, episode_id INTEGER, at TEXT, "
          "kind TEXT, payload TEXT)")


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_NOTIFY_GROUP_S", "0")
    monkeypatch.setenv("CITYOPS_NOTIFY_BACKOFF_S", "30")
    with ops_store.connect() as con:
        con.execute(EVENTS)
    return tmp_path


def event(episode_id=1, kind="opened", *, severity="critical", domain="waste", district="101",
          metric="bin_fill_pct", at=T0, message="Bins over 90 % full: 41 % (expected 12–20 %), 230 readings"):
    payload = {"metric_id": metric, "district_id": district, "rule": "anomaly", "severity": severity,
               "message": message, "value": 41.0, "n": 230, "domain": domain}
    with ops_store.connect() as con:
        con.execute("INSERT INTO alert_events (episode_id, at, kind, payload) VALUES (?, ?, ?, ?)",
                    (episode_id, at.isoformat(sep=" "), kind, json.dumps(payload)))


class Receiver:
    """An HTTP receiver on 127.0.0.1 answering each POST with the next status of `script`
    (then 200), recording headers and raw bodies."""

    def __init__(self, script=(), port=None):
        self.script = list(script)
        self.requests: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.headers, body))  # case-insensitive
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    made = []

    def make(script=(), port=None):
        r = Receiver(script, port)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


class Mailbox:
    """aiosmtpd handler: answers DATA with the next code of `script` (then 250)."""

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.script: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.script:
            return self.script.pop(0)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture()
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CITYOPS_NOTIFY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CITYOPS_NOTIFY_SMTP_PORT", str(port))
    monkeypatch.setenv("CITYOPS_NOTIFY_SMTP_FROM", "cityops@ops.test")
    yield box
    controller.stop()


def routes(**route) -> list[notify.Route]:
    return notify.parse_routes({"routes": [{"name": "desk", **route}]})


def hook(url):
    return {"url": url, "secret": SECRET}


def log_outcomes():
    return [row["outcome"] for row in reversed(notify.delivery_log(100))]


def test_a_webhook_gets_one_signed_json_message(receiver):
    r = receiver()
    event()
    counts = notify.run(T0, routes(webhook=hook(r.url)))
    assert counts["sent"] == 1 and len(r.requests) == 1
    headers, body = r.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), headers["X-CityOps-Timestamp"].encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-CityOps-Signature"], expected)
    assert headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["count"] == 1 and data["events"][0]["metric_id"] == "bin_fill_pct"
    assert data["events"][0]["kind"] == "opened" and data["events"][0]["district_id"] == "101"
    # a body changed in transit no longer matches its signature
    tampered = body.replace(b"101", b"102")
    assert notify.sign(SECRET, headers["X-CityOps-Timestamp"], tampered) != headers["X-CityOps-Signature"]
    # nothing is sent twice: the next pass finds no new event
    assert notify.run(T0 + timedelta(minutes=1), routes(webhook=hook(r.url)))["sent"] == 0
    assert len(r.requests) == 1 and log_outcomes() == ["sent"]


def test_a_failing_receiver_is_retried_with_back_off_until_it_recovers(receiver):
    r = receiver(script=[503, 500])
    rs = routes(webhook=hook(r.url))
    event()
    assert notify.run(T0, rs)["retry"] == 1                              # attempt 1: 503
    assert notify.run(T0 + timedelta(seconds=29), rs)["retry"] == 0      # waits 30 s
    assert len(r.requests) == 1
    assert notify.run(T0 + timedelta(seconds=30), rs)["retry"] == 1      # attempt 2: 500
    assert notify.run(T0 + timedelta(seconds=89), rs)["sent"] == 0       # then 60 s
    assert len(r.requests) == 2
    assert notify.run(T0 + timedelta(seconds=90), rs)["sent"] == 1       # attempt 3: recovered
    assert len(r.requests) == 3
    # the same message each time (a receiver can drop a repeat by its delivery id)
    assert len({h["X-CityOps-Delivery"] for h, _b in r.requests}) == 1
    assert len({json.loads(b)["message_id"] for _h, b in r.requests}) == 1
    assert log_outcomes() == ["retry", "retry", "sent"]
    assert notify.run(T0 + timedelta(hours=1), rs)["sent"] == 0 and len(r.requests) == 3


def test_a_receiver_that_is_down_gets_the_message_when_it_comes_back(receiver):
    port = free_port()  # nothing listens here yet: connection refused
    rs = routes(webhook=hook(f"http://127.0.0.1:{port}/hook"))
    event()
    assert notify.run(T0, rs)["retry"] == 1
    r = receiver(port=port)
    assert notify.run(T0 + timedelta(seconds=30), rs)["sent"] == 1
    assert len(r.requests) == 1 and log_outcomes() == ["retry", "sent"]
    assert "Connection refused" in notify.delivery_log(10)[-1]["detail"] or \
        "URLError" in notify.delivery_log(10)[-1]["detail"]


def test_a_permanent_refusal_is_not_retried_and_attempts_are_bounded(receiver, monkeypatch):
    refusing = receiver(script=[400])
    event()
    assert notify.run(T0, routes(webhook=hook(refusing.url)))["failed"] == 1
    assert notify.run(T0 + timedelta(hours=2), routes(webhook=hook(refusing.url)))["failed"] == 0
    assert len(refusing.requests) == 1
    monkeypatch.setenv("CITYOPS_NOTIFY_MAX_ATTEMPTS", "3")
    broken = receiver(script=[500] * 10)
    rs = notify.parse_routes({"routes": [{"name": "other", "webhook": hook(broken.url)}]})
    event(2)
    outcomes = [notify.run(T0 + timedelta(hours=h), rs) for h in range(5)]
    assert len(broken.requests) == 3  # then given up
    assert [o["retry"] for o in outcomes[:2]] == [1, 1] and outcomes[2]["failed"] == 1


def test_the_same_event_of_an_alert_is_sent_once_but_its_resolution_is_sent(receiver):
    r = receiver()
    rs = routes(webhook=hook(r.url))
    event(7, "opened")
    event(7, "opened")  # the detector wrote the same event twice
    counts = notify.run(T0, rs)
    assert counts["queued"] == 1 and counts["duplicate"] == 1 and counts["sent"] == 1
    event(7, "opened", at=T0 + timedelta(hours=1))
    assert notify.run(T0 + timedelta(hours=1), rs)["duplicate"] == 1
    event(7, "resolved", at=T0 + timedelta(hours=2))
    assert notify.run(T0 + timedelta(hours=2), rs)["sent"] == 1
    kinds = [[e["kind"] for e in json.loads(b)["events"]] for _h, b in r.requests]
    assert kinds == [["opened"], ["resolved"]]
    # after the de-duplication window the same kind is news again
    event(7, "opened", at=T0 + timedelta(hours=9))
    assert notify.run(T0 + timedelta(hours=9), rs)["sent"] == 1


def test_a_burst_of_alerts_goes_out_as_one_email_through_real_smtp(smtp, monkeypatch):
    monkeypatch.setenv("CITYOPS_NOTIFY_GROUP_S", "30")
    monkeypatch.setenv("CITYOPS_NOTIFY_BASE_URL", "https://ops.city.test")
    rs = routes(email=["waste-desk@city.test", "duty@city.test"])
    for i, district in enumerate(("101", "102", "103", "104", "105")):
        event(10 + i, district=district, severity="critical" if i < 2 else "warning")
    assert notify.run(T0, rs)["messages"] == 0             # waiting for the rest of the burst
    event(20, district="106", severity="warning", at=T0 + timedelta(seconds=10))
    assert notify.run(T0 + timedelta(seconds=10), rs)["messages"] == 0
    counts = notify.run(T0 + timedelta(seconds=31), rs)
    assert counts["messages"] == 1 and counts["sent"] == 1
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["To"] == "waste-desk@city.test, duty@city.test" and mail["From"] == "cityops@ops.test"
    assert mail["Subject"] == "[CityOps] 6 alert events: 2 critical, 4 warning"
    text = mail.get_payload(decode=True).decode()
    assert all(f"district {d}" in text for d in ("101", "102", "103", "104", "105", "106"))
    assert "https://ops.city.test/alerts/10" in text


def test_an_smtp_server_that_defers_gets_the_mail_on_a_later_attempt(smtp):
    smtp.script = ["451 4.3.0 try again later"]
    rs = routes(email="duty@city.test")
    event()
    assert notify.run(T0, rs)["retry"] == 1 and smtp.messages == []
    assert notify.run(T0 + timedelta(seconds=30), rs)["sent"] == 1
    assert len(smtp.messages) == 1 and log_outcomes() == ["retry", "sent"]


def test_quiet_hours_hold_warnings_for_a_morning_digest_and_let_criticals_through(receiver):
    r = receiver()
    rs = routes(webhook=hook(r.url), quiet_hours="22:00-07:00")
    night = datetime(2026, 11, 3, 23, 15)
    event(1, severity="warning", at=night)
    event(2, severity="critical", at=night)
    event(3, severity="warning", at=night, district="102")
    counts = notify.run(night, rs)
    assert counts["sent"] == 1 and counts["held"] == 2
    assert [e["episode_id"] for e in json.loads(r.requests[0][1])["events"]] == [2]
    assert notify.run(datetime(2026, 11, 4, 3, 0), rs)["sent"] == 0  # still night
    assert notify.run(datetime(2026, 11, 4, 7, 0), rs)["sent"] == 1  # the quiet hours are over
    assert [e["episode_id"] for e in json.loads(r.requests[1][1])["events"]] == [1, 3]
    held = routes(webhook=hook(r.url), quiet_hours="22:00-07:00", quiet_critical="hold")[0]
    assert held.quiet_until(night) == datetime(2026, 11, 4, 7, 0)
    assert held.quiet_until(datetime(2026, 11, 4, 12, 0)) is None


def test_routes_choose_by_domain_severity_district_and_event(receiver):
    waste, parking = receiver(), receiver()
    rs = notify.parse_routes({"routes": [
        {"name": "waste-critical-101", "domains": ["waste"], "severities": ["critical"], "districts": ["101"],
         "webhook": hook(waste.url)},
        {"name": "parking-all", "domains": ["parking"], "events": ["opened"], "webhook": hook(parking.url)},
    ]})
    event(1)                                           # waste, critical, 101 → waste
    event(2, district="102")                           # waste, 102 → nobody
    event(3, severity="warning")                       # warning → nobody
    event(4, domain="parking", metric="parking_occupancy_pct", district="city")  # → parking
    event(4, "resolved", domain="parking", metric="parking_occupancy_pct", district="city")  # not routed
    notify.run(T0, rs)
    got = {name: [e["episode_id"] for _h, b in rec.requests for e in json.loads(b)["events"]]
           for name, rec in (("waste", waste), ("parking", parking))}
    assert got == {"waste": [1], "parking": [4]}


def test_events_older_than_the_max_age_are_not_replayed(receiver):
    r = receiver()
    event(1, at=T0 - timedelta(days=3))
    event(2, at=T0)
    counts = notify.run(T0, routes(webhook=hook(r.url)))
    assert counts["expired"] == 1 and counts["sent"] == 1
    assert [e["episode_id"] for e in json.loads(r.requests[0][1])["events"]] == [2]


@pytest.mark.parametrize("text,field", [
    ("routes: [{name: a}]", "needs a webhook or an email"),
    ("routes: [{name: a, email: [not-an-address]}]", "bad e-mail address"),
    ("routes: [{name: a, webhook: {url: 'ftp://x', secret: '0123456789abcdef'}}]", "webhook url"),
    ("routes: [{name: a, webhook: {url: 'http://x/h', secret: short}}]", "secret must be at least 16"),
    ("routes: [{name: a, email: a@b.c, domains: [weather]}]", "unknown domain 'weather'"),
    ("routes: [{name: a, email: a@b.c, severities: [info]}]", "unknown severitie"),
    ("routes: [{name: a, email: a@b.c, quiet_hours: '22-7'}]", "quiet_hours"),
    ("routes: [{name: a, email: a@b.c, colour: red}]", "unknown field 'colour'"),
    ("routes: [{name: a, email: a@b.c}, {name: a, email: b@b.c}]", "used twice"),
    ("routes: [{name: a, email: a@b.c, districts: ['1; DROP']}]", "bad district id"),
    ("[1, 2]", "one key, 'routes'"),
    ("routes: [{name: a, email: a@b.c", "cannot read it"),
])
def test_a_bad_routes_file_is_refused_with_the_route_and_field_named(store, monkeypatch, capsys, text, field):
    path = store / "notify.yaml"
    path.write_text(text)
    with pytest.raises(notify.RoutesError, match=field):
        notify.load_routes()
    assert notify.main(["check"]) == 2
    assert field.split("'")[0] in capsys.readouterr().err
    event()
    assert "error" in notify.run(T0)  # the writer logs it and sends nothing; events stay queued


def test_the_cli_checks_the_file_and_runs_a_pass(store, receiver, capsys):
    r = receiver()
    (store / "notify.yaml").write_text(f"routes:\n  - name: desk\n    webhook: {{url: '{r.url}', secret: '{SECRET}'}}\n")
    assert notify.main(["check"]) == 0
    assert "1 route(s)" in capsys.readouterr().out
    event(at=datetime.now())
    assert notify.main(["run"]) == 0
    assert len(r.requests) == 1
    assert notify.main(["log"]) == 0 and "sent" in capsys.readouterr().out


def test_the_writer_sends_what_the_detector_recorded(store, receiver):
    """End to end in the writer: episodes.record (the detector's output) writes the outbox in
    the same transaction, and the live feed's notification pass delivers it."""
    from data import access, episodes, livefeed

    r = receiver()
    (store / "notify.yaml").write_text(
        f"routes:\n  - name: desk\n    districts: ['101']\n    webhook: {{url: '{r.url}', secret: '{SECRET}'}}\n")
    with access.system():
        for district in ("101", "102"):
            episodes.record([{"metric_id": "bins_over_90_pct", "district_id": district, "rule": "anomaly",
                              "status": "firing", "severity": "critical", "grain": "day",
                              "period": "2026-11-01 00:00:00", "value": 41.0, "n": 230,
                              "message": "Bins over 90 % full: 41 % on 230 readings"}],
                            now=datetime.now(), version="v1")
    livefeed._notify()
    assert len(r.requests) == 1
    sent = json.loads(r.requests[0][1])["events"]
    assert [(e["kind"], e["district_id"], e["metric_id"]) for e in sent] == [("opened", "101", "bins_over_90_pct")]
    assert sent[0]["message"] == "Bins over 90 % full: 41 % on 230 readings"
