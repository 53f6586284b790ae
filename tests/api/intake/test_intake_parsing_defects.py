"""Malformed input at the door: headers the stdlib cannot parse, mixed chat times, odd mailboxes."""

from __future__ import annotations

import argparse
import mailbox
import re
from pathlib import Path

import pytest
from intake_samples import plain_mail, sample
from intake_support import IntakeFactory

from agent.errors import InputError
from agent.settings import Settings
from api.intake.adapters import adapt_chat
from api.intake.cli import add_intake_parser
from api.intake.email_adapter import adapt_email
from api.intake.mailbox_import import read_mailbox

HEAD = (
    b"From: ann@customer.example\r\nSubject: VPN drops\r\nMessage-ID: <bad-1@customer.example>\r\n"
)
BODY = b"\r\nThe VPN drops every five minutes.\r\n"


@pytest.mark.parametrize("to", [b'"', b"<", b"a@["])
def test_an_unreadable_to_header_is_left_out_and_said_so(to: bytes) -> None:
    ticket = adapt_email(HEAD + b"To: " + to + b"\r\nCc: bob@customer.example\r\n" + BODY).ticket
    assert ticket.body == "The VPN drops every five minutes."
    assert ticket.requester == "ann@customer.example"
    email = ticket.custom_fields["email"]
    assert email["to"] == [] and email["cc"] == ["bob@customer.example"]
    assert email["unreadable_headers"] == ["To"]


def test_an_unusable_charset_falls_back_to_latin1() -> None:
    raw = HEAD + b'Content-Type: text/plain; charset="utf-8\x00"\r\n\r\nCaf\xe9 wifi is down\r\n'
    assert adapt_email(raw).ticket.body == "Café wifi is down"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        # No Content-Type (or no charset) means US-ASCII, yet scripts send UTF-8 that way.
        (b"", b"Caf\xc3\xa9 wifi is down \xe2\x80\x94 help", "Café wifi is down — help"),
        (b"Content-Type: text/plain\r\n", b"Caf\xc3\xa9 wifi is down", "Café wifi is down"),
        # Labelled ASCII or UTF-8, written in Windows-1252 (Outlook's quotes and dashes).
        (
            b"Content-Type: text/plain; charset=us-ascii\r\n",
            b"Caf\xe9 wifi \x93down\x94 \x96 help",
            "Café wifi “down” – help",
        ),
        (
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"Caf\xe9 wifi is down",
            "Café wifi is down",
        ),
        # Labelled Latin-1, written in UTF-8: read as Latin-1 it would be "CafÃ©".
        (
            b"Content-Type: text/html; charset=iso-8859-1\r\n",
            b"<p>Caf\xc3\xa9 wifi is down</p>",
            "Café wifi is down",
        ),
        # Labelled UTF-8 and damaged: the rest is still read as UTF-8.
        (
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"Caf\xc3\xa9 wifi is down \xe2\x80",
            "Café wifi is down \ufffd",
        ),
        # A right label still wins.
        (b"Content-Type: text/plain; charset=iso-8859-1\r\n", b"Caf\xe9 \xb1", "Café ±"),
        (b"Content-Type: text/plain; charset=koi8-r\r\n", b"\xf3\xc5\xd4\xd8", "Сеть"),
    ],
)
def test_a_mislabelled_charset_is_read_without_replacement_characters(
    content_type: bytes, body: bytes, expected: str
) -> None:
    raw = HEAD + content_type + b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"
    assert adapt_email(raw).ticket.body == expected


@pytest.mark.parametrize("sender", [b'"', b"<", b"a@["])
def test_an_unreadable_from_header_is_refused_naming_it(sender: bytes) -> None:
    raw = b"From: " + sender + b"\r\nSubject: VPN drops\r\n" + BODY
    with pytest.raises(InputError, match="the From: header cannot be read"):
        adapt_email(raw)


def test_malformed_headers_over_http_are_queued_or_rejected_and_kept(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    headers = {**api.auth("helpdesk"), "Content-Type": "message/rfc822"}
    cases = [
        (b'From: a@b.org\r\nSubject: x\r\nTo: "\r\n\r\nbody\r\n', 202),
        (b"From: a@b.org\r\nSubject: y\r\nTo: <\r\n\r\nbody\r\n", 202),
        (b"From: a@b.org\r\nSubject: z\r\nTo: a@[\r\n\r\nbody\r\n", 202),
        (
            b'From: a@b.org\r\nSubject: w\r\nContent-Type: text/plain; charset="\x00"\r\n\r\nbody',
            202,
        ),
        (b"From: a@[\r\nSubject: x\r\n\r\nbody\r\n", 422),
    ]
    for raw, status in cases:
        answer = api.client.post("/v1/intake/email", content=raw, headers=headers)
        assert answer.status_code == status, (raw, answer.text)
    kept = api.client.get("/v1/intake/rejects", headers=api.auth("reviewer")).json()
    assert len(kept) == 1 and "From: header cannot be read" in kept[0]["reasons"][0]
    assert api.app.state.intake.queue.depth() == 4


def test_chat_with_naive_and_aware_times_is_ordered_taking_naive_as_utc() -> None:
    lines = [
        {"text": "vpn drops", "sent_at": "2026-01-01T10:00:00Z"},
        {"text": "again", "sent_at": "2026-01-01T10:01:00"},
        {"text": "first", "sent_at": "2026-01-01T09:59:00"},
        {"text": "at 10:00:30 UTC", "sent_at": "2026-01-01T12:00:30+02:00"},
    ]
    adapted = adapt_chat({"conversation_id": "c2", "messages": lines})
    ticket = adapted.ticket
    assert [m.body for m in ticket.messages] == ["first", "vpn drops", "at 10:00:30 UTC", "again"]
    assert all(m.sent_at is not None and m.sent_at.utcoffset() is not None for m in ticket.messages)
    assert adapted.raw["messages"][1]["sent_at"] == "2026-01-01T10:01:00"  # audit: as it came


def test_chat_with_mixed_times_over_http_is_queued(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    lines = [
        {"text": "vpn drops", "sent_at": "2026-01-01T10:00:00Z"},
        {"text": "again", "sent_at": "2026-01-01T10:01:00"},
    ]
    payload = {"conversation_id": "c2", "messages": lines}
    answer = api.client.post("/v1/intake/chat", json=payload, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"


def _import(settings: Settings, path: Path) -> int:
    parser = argparse.ArgumentParser(prog="triage")
    add_intake_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["intake", "import", str(path)])
    return int(args.handler(args, settings))


def test_import_reports_a_malformed_message_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = mailbox.mbox(str(tmp_path / "in.mbox"))
    box.add(plain_mail("Printer jammed", "Floor 3 printer is jammed.", msg_id="<p1@x>"))
    box.add(HEAD + b"To: <\r\n" + BODY)
    box.add(b"From: a@[\r\nSubject: Disk full\r\nMessage-ID: <d1@x>\r\n" + BODY)
    box.add(plain_mail("Screen flickers", "The screen flickers since Monday.", msg_id="<s1@x>"))
    box.close()
    assert _import(Settings(data_dir=tmp_path / "data"), tmp_path / "in.mbox") == 0
    out = capsys.readouterr()
    assert "imported 4 messages: 3 queued, 1 rejected" in out.out
    assert "message 3: rejected: e-mail: the From: header cannot be read: 'a@['" in out.err


MBOX = (
    b"From ann@customer.example Thu Jan  1 10:00:00 2026\n"
    b"From: Ann <ann@customer.example>\nSubject: Locked out\nMessage-ID: <lock-1@x>\n\n"
    b"My account is locked.\n>From now on I cannot work.\n>>From the log: error 42\n\n"
)


def test_mbox_from_escapes_are_undone_but_not_in_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "in.mbox").write_bytes(MBOX)
    [(where, raw)] = list(read_mailbox(tmp_path / "in.mbox"))
    assert where == "message 1"
    ticket = adapt_email(raw).ticket
    assert ticket.body.startswith("My account is locked.\nFrom now on I cannot work.")
    assert b"\n>From the log: error 42\n" in raw and b">>" not in raw  # mboxrd: one > less
    assert not [m for m in ticket.messages if "From now on" in m.body]
    # Maildir files hold the message as it was: nothing is escaped there.
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    (tmp_path / "md" / "new" / "1.x").write_bytes(MBOX.split(b"\n", 1)[1])
    assert b"\n>From now on" in next(read_mailbox(tmp_path / "md"))[1]


def test_import_one_eml_file_and_refuse_what_is_no_mailbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    (tmp_path / "one.eml").write_bytes(sample("multipart_alternative.eml"))
    assert _import(settings, tmp_path / "one.eml") == 0
    assert "imported 1 messages: 1 queued" in capsys.readouterr().out
    (tmp_path / "hostname").write_text("build-host-7\n")
    with pytest.raises(InputError, match="hostname: not an mbox file"):
        _import(settings, tmp_path / "hostname")
    (tmp_path / "empty.mbox").write_bytes(b"")
    assert _import(settings, tmp_path / "empty.mbox") == 0
    assert "imported 0 messages: none" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content",
    [
        b'{"subject": "VPN drops", "body": "every five minutes"}\n',
        b'\xef\xbb\xbf  [{"subject": "VPN drops"}, {"subject": "Printer"}]',
        b'{"subject": "VPN drops"}\n{"subject": "Printer"}\n',
    ],
    ids=["json-object", "json-list-with-bom", "json-lines"],
)
def test_import_of_a_json_file_is_refused_before_anything_is_kept(
    tmp_path: Path, content: bytes
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    (tmp_path / "tickets.json").write_bytes(content)
    with pytest.raises(InputError, match=r"tickets.json: a JSON file, not e-mail.*/v1/intake/api"):
        _import(settings, tmp_path / "tickets.json")
    assert not (tmp_path / "data").exists()  # refused before the database was opened


def test_maildir_with_new_only_is_read_and_one_with_neither_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    (tmp_path / "md" / "new").mkdir(parents=True)
    (tmp_path / "md" / "new" / "1700000000.M1P1.host").write_bytes(sample("attachments.eml"))
    (tmp_path / "md" / "new" / ".hidden").write_bytes(b"not a message")
    assert _import(settings, tmp_path / "md") == 0
    assert "imported 1 messages: 1 queued" in capsys.readouterr().out
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="a directory must be a Maildir"):
        _import(settings, tmp_path / "plain")


def test_a_blank_plain_part_gives_way_to_the_html_one() -> None:
    # Some senders fill only the HTML half of multipart/alternative.
    raw = (
        HEAD + b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n\r\n"
        b"--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>The VPN drops every five minutes.</p></body></html>\r\n--B--\r\n"
    )
    ticket = adapt_email(raw).ticket
    assert ticket.body == "The VPN drops every five minutes."
    assert ticket.custom_fields["email"]["html_only"] is True


def test_json_or_a_form_upload_sent_as_an_email_is_refused_saying_what_to_send(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    upload = (
        b"--------------------------d74496d66958873e\r\n"
        b'Content-Disposition: form-data; name="file"; filename="mail.eml"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + HEAD + BODY + b"\r\n"
        b"--------------------------d74496d66958873e--\r\n"
    )
    cases = [
        # The e-mail channel reads a raw message: its own JSON shape is the api channel's.
        (b'{"subject": "VPN drops", "body": "Tunnel drops", "requester": "a@b.org"}', "JSON"),
        (b'  [{"subject": "VPN drops"}]', "JSON"),
        (upload, "form upload"),  # curl -F file=@mail.eml
    ]
    for raw, kind in cases:
        answer = api.client.post("/v1/intake/email", content=raw, headers=api.auth("helpdesk"))
        assert answer.status_code == 422
        [reason] = answer.json()["reasons"]
        assert kind in reason and "message/rfc822" in reason, reason
    assert "/v1/intake/api" in api.app.state.intake.rejects.list(None, 10, None)[-1].reasons[0]
    # A mail that merely starts with a brace-free header still reads.
    assert adapt_email(HEAD + BODY).ticket.body == "The VPN drops every five minutes."


def test_html_table_cells_and_definition_lists_keep_their_words_apart() -> None:
    # Monitoring alerts and form mailers send HTML tables: cells run together, the policy's
    # word-bounded rules and error-code patterns found nothing ("ErrorORA-01652").
    html = (
        b"<table><tr><th>Error</th><td>ORA-01652</td></tr>"
        b"<tr><td>Product</td><td>billing-db</td></tr></table>"
        b"<dl><dt>Host</dt><dd>db-01</dd></dl>"
    )
    raw = HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"
    body = adapt_email(raw).ticket.body
    lines = [line for line in body.splitlines() if line]
    assert lines == ["Error ORA-01652", "Product billing-db", "Host", "db-01"]
    assert re.search(r"\bORA-\d{5}\b", body)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"St\xf6rung im Caf\xe9", "Störung im Café"),  # raw Latin-1, no encoded word
        (b"=?utf-8?B?U3T2cnVuZyBpbSBDYWbp?=", "Störung im Café"),  # Latin-1 labelled UTF-8
        (b"=?utf-8?Q?St=F6rung?=\r\n =?utf-8?Q?_im_Caf=E9?=", "Störung im Café"),  # folded
        (b"St\xc3\xb6rung im Caf\xc3\xa9", "Störung im Café"),  # raw UTF-8 read right already
        (b"=?iso-8859-1?Q?St=F6rung_im_Caf=E9?=", "Störung im Café"),
    ],
)
def test_a_mislabelled_subject_is_read_without_replacement_characters(
    subject: bytes, expected: str
) -> None:
    raw = b"From: ann@customer.example\r\nSubject: " + subject + b"\r\n" + BODY
    assert adapt_email(raw).ticket.subject == expected


def test_an_email_saved_with_a_byte_order_mark_still_reads(tmp_path: Path) -> None:
    # Windows editors save a .eml as "UTF-8 with BOM": the BOM hid the first header.
    raw = b"\xef\xbb\xbf" + HEAD + BODY
    ticket = adapt_email(raw).ticket
    assert (ticket.requester, ticket.subject) == ("ann@customer.example", "VPN drops")
    (tmp_path / "saved.eml").write_bytes(raw)
    [(where, read)] = list(read_mailbox(tmp_path / "saved.eml"))
    assert where == "saved.eml" and adapt_email(read).ticket.subject == "VPN drops"
