"""`triage intake import` (mbox, Maildir) and `triage dlq list|show|replay|discard`."""

from __future__ import annotations

import argparse
import json
import mailbox
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from intake_samples import plain_mail, sample
from intake_support import IntakeFactory
from sqlalchemy import select

from agent.errors import ConflictError, InputError
from agent.settings import Settings
from api.db import Database
from api.intake.cli import add_dlq_parser, add_intake_parser
from api.intake.dlq import DeadLetters
from api.intake.sqlqueue import SqlQueue
from api.store import TicketStore
from api.tables import TicketRow


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="triage")
    sub = parser.add_subparsers(dest="command", required=True)
    add_dlq_parser(sub)
    add_intake_parser(sub)
    args = parser.parse_args(argv)
    return int(args.handler(args, settings))


NAMES = (
    "multipart_alternative.eml",
    "html_only.eml",
    "auto_reply.eml",
    "thread_root.eml",
    "quoted_reply.eml",
)


def test_import_mbox_and_maildir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    box = mailbox.mbox(str(tmp_path / "in.mbox"))
    for name in NAMES:
        box.add(sample(name))
    box.close()
    assert _run(settings, "intake", "import", str(tmp_path / "in.mbox")) == 0
    out = capsys.readouterr()
    assert "imported 5 messages: 3 queued, 1 rejected, 1 threaded" in out.out
    assert "automatic reply" in out.err
    assert "message 3: rejected" in out.err  # auto_reply.eml, counted from 1 as a person counts
    maildir = mailbox.Maildir(str(tmp_path / "md"))
    maildir.add(sample("attachments.eml"))
    maildir.add(sample("multipart_alternative.eml"))  # already imported: the same ticket
    maildir.close()
    assert _run(settings, "intake", "import", str(tmp_path / "md")) == 0
    assert "imported 2 messages: 1 duplicate, 1 queued" in capsys.readouterr().out


def test_dlq_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    box = mailbox.mbox(str(tmp_path / "in.mbox"))
    box.add(sample("attachments.eml"))
    box.close()
    _run(settings, "intake", "import", str(tmp_path / "in.mbox"))
    db = Database(settings.sqlalchemy_url)
    queue = SqlQueue(db, 10, 10)
    delivery = queue.get(0.1)
    assert delivery is not None
    queue.ack(delivery)  # as the runner does when it dead-letters
    ticket_id = delivery.item.ticket_id
    ticket = TicketStore(db).ticket(ticket_id)
    letter = DeadLetters(db).add(
        ticket_id,
        "email",
        "email",
        "standard",
        23,
        "RuntimeError: x",
        5,
        {"format": "rfc822"},
        ticket.model_dump(mode="json"),
    )
    TicketStore(db).set_status(ticket_id, "failed", "dead-lettered: x")  # as the runner does
    capsys.readouterr()
    assert _run(settings, "dlq", "list", "--state", "discarded") == 0
    assert capsys.readouterr().err == "no discarded dead letters\n"
    assert _run(settings, "dlq", "list") == 0
    assert f"{letter}\tstandard\tprio 23" in capsys.readouterr().out
    assert _run(settings, "dlq", "show", str(letter)) == 0
    assert json.loads(capsys.readouterr().out)["ticket"]["subject"] == "Blue screen on my laptop"
    deep = tmp_path / "deep.json"
    deep.write_text('{"subject": "x", "custom_fields": {"a": ' + "[" * 3_000 + "]" * 3_000 + "}}")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"subject": "Écran bleu"}'.encode("latin-1"))
    listed = tmp_path / "list.json"
    listed.write_text('[{"subject": "Blue screen when docking"}]')
    for broken, reason in [
        (deep, "custom_fields.a: nested more than 16 levels deep"),
        (latin1, "not valid UTF-8 JSON: byte 0xc9 at position 13"),
        (listed, "the fixed ticket must be a JSON object"),
    ]:
        with pytest.raises(InputError, match=re.escape(f"{broken}: {reason}")):
            _run(settings, "dlq", "replay", str(letter), "--by", "ops", "--ticket", str(broken))
    assert DeadLetters(db).get(letter).state == "open"
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"subject": "Blue screen when docking", "body": "stop 0x7E"}))
    assert _run(settings, "dlq", "replay", str(letter), "--by", "ops", "--ticket", str(fixed)) == 0
    assert TicketStore(db).ticket(ticket_id).subject == "Blue screen when docking"
    assert queue.depth() == 1
    assert DeadLetters(db).get(letter).state == "replayed"
    with pytest.raises(Exception, match="already replayed"):
        _run(settings, "dlq", "discard", str(letter), "--by", "ops", "--reason", "dup")
    db.close()


def test_intake_release_sends_a_kept_payload_on_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    box = mailbox.mbox(str(tmp_path / "in.mbox"))
    box.add(sample("auto_reply.eml"))  # rejected: an automatic reply
    box.close()
    assert _run(settings, "intake", "import", str(tmp_path / "in.mbox")) == 0
    assert "1 rejected" in capsys.readouterr().out
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"subject": "VPN", "body": "The VPN drops."}), encoding="utf-8")
    assert _run(settings, "intake", "release", "1", "--by", "ana", "--ticket", str(fixed)) == 0
    assert "payload 1: queued as ticket" in capsys.readouterr().err
    with pytest.raises(ConflictError, match="released already"):
        _run(settings, "intake", "release", "1", "--by", "ana")
    db = Database(settings.sqlalchemy_url)
    try:
        assert len(TicketStore(db).unfinished()) == 1
    finally:
        db.close()


def _dated(n: int, date: str | None) -> bytes:
    raw = plain_mail(f"Backlog {n}", f"Mail number {n} of the backlog.", msg_id=f"<b{n}@x>")
    head, body = raw.split(b"\n\n", 1)
    lines = [line for line in head.split(b"\n") if not line.startswith(b"Date:")]
    if date is not None:
        lines.append(b"Date: " + date.encode())
    return b"\n".join(lines) + b"\n\n" + body


def test_an_imported_backlog_arrives_when_its_mails_were_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    now = datetime.now(UTC).replace(microsecond=0)
    sent = now - timedelta(days=3, hours=2)
    dates = {
        1: format_datetime(sent),
        2: format_datetime(now - timedelta(days=400)),  # a wrong clock, not a backlog
        3: format_datetime(now + timedelta(days=2)),
        4: "yesterday afternoon",
        5: None,
    }
    box = mailbox.mbox(str(tmp_path / "backlog.mbox"))
    for n, date in dates.items():
        box.add(_dated(n, date))
    box.close()
    assert _run(settings, "intake", "import", str(tmp_path / "backlog.mbox")) == 0
    out = capsys.readouterr()
    assert "imported 5 messages: 5 queued" in out.out
    db = Database(settings.sqlalchemy_url)
    with db.session() as session:
        ids = list(session.scalars(select(TicketRow.id)))
    tickets = {t.subject: t for t in (TicketStore(db).ticket(i) for i in ids)}
    db.close()
    first = tickets["Backlog 1"]
    assert first.received_at == sent
    assert first.custom_fields["email"]["received_at_from"] == "Date header"
    for n, said in [(2, "more than 365 days old"), (3, "in the future"), (4, "cannot be read")]:
        ticket = tickets[f"Backlog {n}"]
        assert now - timedelta(minutes=5) < ticket.received_at <= datetime.now(UTC)
        assert said in ticket.custom_fields["email"]["date_not_used"]
        assert f"message {n}: Date: " in out.err and said in out.err
    assert "message 5: no Date: header" in out.err


def test_an_import_told_so_arrives_at_import_time(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    sent = datetime.now(UTC) - timedelta(days=3)
    (tmp_path / "one.eml").write_bytes(_dated(1, format_datetime(sent)))
    assert _run(settings, "intake", "import", "--arrived-now", str(tmp_path / "one.eml")) == 0
    db = Database(settings.sqlalchemy_url)
    with db.session() as session:
        (ticket_id,) = session.scalars(select(TicketRow.id))
    ticket = TicketStore(db).ticket(ticket_id)
    db.close()
    assert ticket.received_at > datetime.now(UTC) - timedelta(minutes=5)
    assert "received_at_from" not in ticket.custom_fields["email"]


def test_a_live_mail_arrives_now_whatever_its_date_says(make_intake_api: IntakeFactory) -> None:
    api = make_intake_api(start=False)
    sent = datetime.now(UTC) - timedelta(days=3)
    headers = {**api.auth("helpdesk"), "Content-Type": "message/rfc822"}
    raw = _dated(1, format_datetime(sent))
    answer = api.client.post("/v1/intake/email", content=raw, headers=headers)
    assert answer.status_code == 202, answer.text
    ticket = api.services.store.ticket(answer.json()["ticket_id"])
    assert ticket.received_at > datetime.now(UTC) - timedelta(minutes=5)
    assert "received_at_from" not in ticket.custom_fields["email"]
