"""E-mail to the canonical ticket: the new text is the body, earlier mail becomes messages.

The ticket's external id is the Message-ID (a hash of the raw bytes when there is none), so a
re-delivered mail is the same ticket; In-Reply-To/References let the flow thread replies.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from pydantic import ValidationError

from agent.errors import InputError
from agent.language import detect_language
from agent.models import Account, Message, Ticket
from api.intake.email_parse import ParsedEmail, parse_email
from api.intake.email_quotes import QuotedPart, split_mail
from api.intake.models import Adapted

MAX_SUBJECT = 2_000
MAX_BODY = 100_000


def raw_record(raw: bytes) -> dict[str, Any]:
    """The original message as kept for audit (bytes as base64: charsets stay untouched)."""
    return {"format": "rfc822", "size": len(raw), "base64": base64.b64encode(raw).decode()}


def raw_bytes(record: dict[str, Any]) -> bytes:
    """The original bytes back from raw_record()."""
    return base64.b64decode(str(record.get("base64", "")))


def _role(part: QuotedPart, mail: ParsedEmail) -> str:
    """Who wrote a quoted part: the sender, or (in a reply thread) most likely support."""
    author = (part.author or "").lower()
    if mail.sender and mail.sender.lower() in author:
        return "customer"
    return "agent" if part.kind == "reply" and mail.in_reply_to else "customer"


def adapt_email(raw: bytes, account: Account | None = None) -> Adapted:
    """Raw RFC 5322 bytes to an Adapted ticket; InputError when nothing usable is in it."""
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
    fields = {
        "email": {
            "to": mail.to,
            "cc": mail.cc,
            "date": mail.date,
            "message_id": mail.message_id,
            "in_reply_to": mail.in_reply_to,
            "html_only": mail.html_only,
            # Headers read as plain text: why To:, Cc: or the threading ids may be missing.
            **({"unreadable_headers": mail.unreadable_headers} if mail.unreadable_headers else {}),
        }
    }
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
        )
    except ValidationError as exc:
        raise InputError(f"e-mail: {exc.errors()[0]['msg']}") from None
    return Adapted(
        ticket=ticket,
        raw=raw_record(raw),
        thread_refs=[*mail.in_reply_to, *reversed(mail.references)],
        thread_id=mail.message_id,
        auto_reply=mail.auto_reply,
    )
