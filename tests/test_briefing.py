"""The weekly district briefing (issue 17): a complete week only, a change only against a
comparable week, the printable page and its PDF authorized like the district's exports, the
PDF parses (non-Latin-1 text included), and `send` mails each district's officials once."""
from __future__ import annotations

import io
from datetime import datetime

import pytest

from data import briefing
from tests.conftest import ADMIN, signed_in

# the fixture's data ends Sun 1 Nov 2026 12:00: the week of 26 Oct is a part week, the week of
# 19 Oct the latest complete one; the data begins 2 Sep, so the week of 7 Sep has no complete
# week before it (the week of 31 Aug starts before the data)
PART_WEEK, LATEST, FIRST = datetime(2026, 10, 26), datetime(2026, 10, 19), datetime(2026, 9, 7)


def test_a_part_week_is_not_briefed_as_a_week(published):
    with pytest.raises(briefing.NotAWeek, match="not complete"):
        briefing.build("101", PART_WEEK)
    assert briefing.latest_week() == LATEST
    b = briefing.build("101")  # the default is the latest complete week, not the running one
    assert b.week == LATEST and b.week_end == datetime(2026, 10, 26)
    assert "complete week" in b.span


def test_a_change_needs_a_comparable_week(published):
    first = briefing.build("101", FIRST)
    complete = [ln for ln in first.lines if ln.complete]
    assert complete, "the week is complete for the metrics"
    assert all(ln.change is None and "no comparable data" in ln.change_text for ln in complete)
    assert "%" not in " ".join(ln.change_text for ln in complete)
    later = briefing.build("101", LATEST)
    shown = [ln for ln in later.lines if ln.change is not None]
    assert shown, "a week with a complete week before it shows changes"
    for ln in shown:  # every change names its reference week, value and n
        assert "vs week of 12 Oct" in ln.change_text and "n = " in ln.change_text
    assert all("n = " in line for line in briefing.sections(later)[0][1])


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    assert data[:5] == b"%PDF-"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_page_and_pdf_hold_the_same_content_and_non_latin_text_does_not_break_the_pdf(published, accounts):
    from data import annotations, lookups

    title = "Забастовка — 清掃 strike Łódź"
    annotations.add(created_by="test-admin", title=title, kind="event", starts_at=datetime(2026, 10, 20),
                    ends_at=datetime(2026, 10, 21), district_id="101", known_districts=frozenset(lookups.district_names()))
    b = briefing.build("101", LATEST)
    assert any(e["title"] == title for e in b.events)
    html = briefing.as_html(b)
    assert title in html and "@media print" in html
    text = _pdf_text(briefing.as_pdf(b))
    assert "weekly briefing" in text and "Off target" in text and "strike Lódz" in text
    assert b.lines[0].label in text


def test_official_gets_their_district_and_403_for_another_on_page_and_pdf(dash_app, accounts):
    official = signed_in(dash_app, "test-official", accounts["test-official"])  # district 101 only
    page = official.get("/district/101/briefing?week=2026-10-21")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    assert "week of Mon 19 Oct 2026" in page.get_data(as_text=True)
    pdf = official.get("/district/101/briefing.pdf?week=2026-10-19")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "weekly briefing" in _pdf_text(pdf.get_data())
    for path in ("/district/102/briefing", "/district/102/briefing.pdf"):
        response = official.get(path)
        assert response.status_code == 403 and b"weekly" not in response.get_data()
        assert dash_app.server.test_client().get(path).headers["Location"].startswith("/login?next=")
    wall = dash_app.server.test_client()
    wall.get("/wall?token=" + accounts["wall-token"])
    assert wall.get("/district/101/briefing.pdf").status_code == 403
    admin = signed_in(dash_app, *ADMIN)
    assert admin.get("/district/102/briefing.pdf").status_code == 200
    assert admin.get("/district/101/briefing?week=2026-10-26").status_code == 404  # a part week
    assert admin.get("/district/101/briefing?week=x'--").status_code == 400
    assert admin.get("/district/nope/briefing").status_code == 404


def test_send_mails_each_district_its_briefing_with_the_pdf_once_per_week(published, accounts, monkeypatch):
    import email

    from aiosmtpd.controller import Controller

    from data import notify, users
    from tests.live import free_port

    class Mailbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
            return "250 OK"

    for name, district, address in (("brief-101", "101", "one@district.test"), ("brief-102", "102", "two@district.test")):
        if users.get(name) is None:
            users.add(name, "briefing-password-1", "official", district)
        briefing.set_email(name, address)
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CITYOPS_NOTIFY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CITYOPS_NOTIFY_SMTP_PORT", str(port))
    monkeypatch.setenv("CITYOPS_BRIEFING_EMAIL", "true")
    try:
        first = briefing.send(LATEST)
        assert first["sent"] == 2 and first["failed"] == 0, first
        assert len(box.messages) == 2
        by_rcpt = {tuple(r): m for r, m in box.messages}
        mail = by_rcpt[("one@district.test",)]
        assert "Manhattan CD 1" in mail["Subject"] and "weekly briefing" in mail["Subject"]
        parts = {p.get_content_type(): p for p in mail.walk()}
        pdf = parts["application/pdf"].get_payload(decode=True)
        assert "Manhattan CD 1" in _pdf_text(pdf) and "2026-10-19" in parts["application/pdf"].get_filename()
        assert "Manhattan CD 2" in by_rcpt[("two@district.test",)]["Subject"]  # each district its own
        second = briefing.send(LATEST)
        assert second["sent"] == 0 and second["already sent"] == 2 and len(box.messages) == 2
    finally:
        controller.stop()
    logged = [r for r in notify.delivery_log(20) if r["route"] == briefing.ROUTE]
    assert [r["outcome"] for r in logged].count("sent") == 2


def test_send_without_a_mail_server_sends_nothing(published, monkeypatch):
    monkeypatch.setenv("CITYOPS_BRIEFING_EMAIL", "false")
    assert briefing.send(LATEST)["mail"] == "not configured"


def test_any_week_or_district_value_gets_an_answer_not_a_500(dash_app, accounts):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    official = signed_in(dash_app, "test-official", accounts["test-official"])

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(week=st.one_of(st.text(max_size=30), st.dates().map(str)), district=st.sampled_from(["101", "102", "city", "x"]))
    def probe(week, district):
        for suffix in ("briefing", "briefing.pdf"):
            response = official.get(f"/district/{district}/{suffix}", query_string={"week": week})
            assert response.status_code in (200, 400, 403, 404), (district, week, response.status_code)
            if district != "101":
                assert response.status_code in (403, 404)

    probe()
