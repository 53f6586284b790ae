"""Large e-mails: the e-mail route's own body limit, and attachments kept out of the ticket."""

from __future__ import annotations

import os
from email.message import EmailMessage

import pytest
from api_support import Api
from intake_support import IntakeFactory

from api.intake.email_audit import AUDIT_WHOLE_BYTES, raw_bytes, raw_record

EMAIL_LIMIT = 4_000_000


def _mail_with_screenshot(png_bytes: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@customer.example>"
    msg["To"] = "support@help.example"
    msg["Subject"] = "Dashboard error"
    msg["Message-ID"] = f"<shot-{png_bytes}@customer.example>"
    msg.set_content("The dashboard shows error 500, screenshot attached.")
    msg.add_attachment(
        os.urandom(png_bytes), maintype="image", subtype="png", filename="screen.png"
    )
    return msg.as_bytes()


@pytest.fixture
def big_mail_api(make_intake_api: IntakeFactory, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv("TRIAGE_EMAIL_MAX_BODY_BYTES", str(EMAIL_LIMIT))
    return make_intake_api(start=False)


def test_a_mail_over_the_general_limit_is_accepted_on_the_email_route(big_mail_api: Api) -> None:
    api = big_mail_api
    assert api.services.settings.max_body_bytes == 1_000_000
    raw = _mail_with_screenshot(2_500_000)
    assert 3_000_000 < len(raw) < EMAIL_LIMIT
    headers = {**api.auth("helpdesk"), "Content-Type": "message/rfc822"}
    answer = api.client.post("/v1/intake/email", content=raw, headers=headers)
    assert answer.status_code == 202, answer.text
    ticket_id = answer.json()["ticket_id"]
    ticket = api.services.store.ticket(ticket_id)
    assert ticket.body == "The dashboard shows error 500, screenshot attached."
    assert [(a.filename, a.size_bytes) for a in ticket.attachments] == [("screen.png", 2_500_000)]
    # The audit copy keeps the mail's headers and text, not the screenshot's bytes.
    kept = api.app.state.intake.records.get(ticket_id).raw
    assert kept["size"] == len(raw)
    assert [(a["filename"], a["size"]) for a in kept["attachments_removed"]] == [
        ("screen.png", 2_500_000)
    ]
    copy = raw_bytes(kept)
    assert len(copy) < 10_000
    assert b"error 500, screenshot attached" in copy and b"Message-ID: <shot-" in copy


def test_the_email_route_has_its_own_limit_and_other_routes_keep_theirs(big_mail_api: Api) -> None:
    api = big_mail_api
    headers = {**api.auth("helpdesk"), "Content-Type": "message/rfc822"}
    too_big = _mail_with_screenshot(EMAIL_LIMIT)
    answer = api.client.post("/v1/intake/email", content=too_big, headers=headers)
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"request body over {EMAIL_LIMIT} bytes"
    json_headers = {**api.auth("helpdesk"), "Content-Type": "application/json"}
    body = b'{"subject": "x", "body": "' + b"y" * 1_500_000 + b'"}'
    for route in ("/v1/intake/api", "/v1/tickets", "/v1/triage"):
        answer = api.client.post(route, content=body, headers=json_headers)
        assert answer.status_code == 413, route
        assert answer.json()["detail"] == "request body over 1000000 bytes"


def test_a_small_mail_is_kept_for_audit_byte_for_byte() -> None:
    raw = _mail_with_screenshot(AUDIT_WHOLE_BYTES // 2)
    record = raw_record(raw)
    assert raw_bytes(record) == raw and "attachments_removed" not in record
