"""E-mail to the canonical ticket: the new text is the body, earlier mail becomes messages.

The ticket's external id is the Message-ID (a hash of the raw bytes when there is none), so a
re-delivered mail is the same ticket; In-Reply-To/References let the flow thread replies.
A live mail arrives now; a mail read from a mailbox (``dated``) arrived when its Date: says, so
an imported backlog's SLA clocks start when the mails were sent (sent_time).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ValidationError

from agent.errors import InputError
from agent.language import detect_language
from agent.models import Account, Message, Ticket
from api.intake.email_audit import raw_bytes, raw_record
from api.intake.email_parse import ParsedEmail, parse_email
from api.intake.email_quotes import QuotedPart, split_mail
from api.intake.models import Adapted

MAX_SUBJECT = 2_000
MAX_BODY = 100_000
__all__ = ["adapt_email", "raw_bytes", "raw_record", "sent_time"]

MAX_DATE_AGE = timedelta(days=365)
"""An imported mail's Date: further back than this is a wrong clock, not a backlog."""


def _role(part: QuotedPart, mail: ParsedEmail) -> str:
    """Who wrote a quoted part: the sender, or (in a reply thread) most likely support."""
    author = (part.author or "").lower()
    if mail.sender and mail.sender.lower() in author:
        return "customer"
    return "agent" if part.kind == "reply" and mail.in_reply_to else "customer"


def sent_time(date: str | None, now: datetime) -> tuple[datetime | None, str | None]:
    """When a mail read from a mailbox arrived, from its Date: header; or None and why not.

    A Date: that does not parse, is ahead of ``now`` or is over MAX_DATE_AGE old (a sender's
    wrong clock) leaves the arrival time as it is: the reason says so.
    """
    if not date:
        return None, "no Date: header; the import time is the arrival time"
    try:
        sent = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None, f"Date: {date[:80]!r} cannot be read; the import time is the arrival time"
    sent = sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)  # "-0000": UTC
    if sent > now:
        return None, f"Date: {date[:80]!r} is in the future; the import time is the arrival time"
    if now - sent > MAX_DATE_AGE:
        return None, (
            f"Date: {date[:80]!r} is more than {MAX_DATE_AGE.days} days old; "
            "the import time is the arrival time"
        )
    return sent.astimezone(UTC), None


def adapt_email(raw: bytes, account: Account | None = None, dated: bool = False) -> Adapted:
    """Raw RFC 5322 bytes to an Adapted ticket; InputError when nothing usable is in it.

    ``dated``: the mail comes from a mailbox, not live; its Date: is its arrival (sent_time).
    """
    mail = parse_email(raw)
    split = split_mail(mail.text)
    parts = list(split.parts)
    for inner in mail.forwarded:  # attached message/rfc822: a forwarded mail
        inner_split = split_mail(inner.text)
        inner_body = inner_split.new_text or inner.subject
        parts.append(QuotedPart("forward", inner.sender, inner_body))
        parts.extend(inner_split.parts)
    body = split.new_text
    if not body and parts:
        # A bare forward: the forwarded message is the request.
        body = parts[0].body
    messages = [
        Message(role=_role(p, mail), author=p.author, body=p.body)  # type: ignore[arg-type]
        for p in reversed(parts)  # oldest first
        if p.body
    ]
    external_id = (mail.message_id or "").strip("<>") or (
        "sha256:" + hashlib.sha256(raw).hexdigest()
    )
    fields: dict[str, Any] = {
        "email": {
            "to": mail.to,
            "cc": mail.cc,
            "date": mail.date,
            "message_id": mail.message_id,
            "in_reply_to": mail.in_reply_to,
            "html_only": mail.html_only,
            # Headers read as plain text: why To:, Cc: or the threading ids may be missing.
            **({"unreadable_headers": mail.unreadable_headers} if mail.unreadable_headers else {}),
        },
        # The sender's display name, where a web form keeps its "name": a name the ticket gives,
        # left out of what goes to an LLM (agent.redact_names.ticket_names).
        **({"name": mail.sender_name} if mail.sender_name else {}),
    }
    arrival: dict[str, Any] = {}
    notes: list[str] = []
    if dated:
        sent, note = sent_time(mail.date, datetime.now(UTC))
        if sent is not None:
            arrival["received_at"] = sent
            fields["email"]["received_at_from"] = "Date header"
        if note is not None:
            fields["email"]["date_not_used"] = note
            notes.append(note)
    try:
        ticket = Ticket(
            channel="email",
            external_id=external_id[:200],
            subject=mail.subject[:MAX_SUBJECT],
            body=body[:MAX_BODY],
            requester=mail.sender,
            account=account or Account(),
            language=detect_language(f"{mail.subject}\n{body}"),
            attachments=mail.attachments,
            messages=messages,
            custom_fields=fields,
            **arrival,
        )
    except ValidationError as exc:
        raise InputError(f"e-mail: {exc.errors()[0]['msg']}") from None
    return Adapted(
        ticket=ticket,
        raw=raw_record(raw),
        thread_refs=[*mail.in_reply_to, *reversed(mail.references)],
        thread_id=mail.message_id,
        auto_reply=mail.auto_reply,
        notes=notes,
    )
