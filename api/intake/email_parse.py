"""Read an RFC 5322/MIME message: headers, the best text body, attachments, forwarded mails.

Uses the stdlib ``email`` package with ``policy.default``: charsets (ISO-8859-x, Windows-125x,
Shift_JIS ...) and transfer encodings are decoded by it; an unknown charset falls back to
Latin-1 so a mislabelled mail still reads instead of failing.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.policy import default
from email.utils import getaddresses, parseaddr

from agent.errors import InputError
from agent.models import Attachment
from api.intake.html_text import html_to_text

MSG_ID = re.compile(r"<[^<>\s]+>")


@dataclass
class ParsedEmail:
    """What the adapter needs from one message."""

    subject: str
    sender: str | None
    sender_name: str | None
    to: list[str]
    cc: list[str]
    date: str | None
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    text: str
    html_only: bool
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[ParsedEmail] = field(default_factory=list)
    auto_reply: str | None = None


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse raw message bytes; InputError when it has no headers or nests beyond reading."""
    try:
        # Both the stdlib parser and _parse recurse once per nested part or forward.
        message = email.message_from_bytes(raw, policy=default)
        if not isinstance(message, EmailMessage) or not message.keys():
            raise InputError("not an e-mail message: no headers found")
        return _parse(message)
    except RecursionError:
        raise InputError("e-mail parts nested too deep to read") from None


def _parse(message: EmailMessage) -> ParsedEmail:
    name, address = parseaddr(str(message.get("from", "")))
    text, html_only = _body_text(message)
    attachments, forwarded = [], []
    for part in message.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
                forwarded.append(_parse(inner[0]))
                continue
        attachments.append(_attachment(part))
    return ParsedEmail(
        subject=str(message.get("subject", "") or "").strip(),
        sender=address or None,
        sender_name=name or None,
        to=[a for _, a in getaddresses([str(v) for v in message.get_all("to", [])]) if a],
        cc=[a for _, a in getaddresses([str(v) for v in message.get_all("cc", [])]) if a],
        date=str(message["date"]) if message["date"] else None,
        message_id=next(iter(_ids(message.get("message-id"))), None),
        in_reply_to=_ids(message.get("in-reply-to")),
        references=_ids(message.get("references")),
        text=text,
        html_only=html_only,
        attachments=attachments,
        forwarded=forwarded,
        auto_reply=_auto_reply(message),
    )


def _ids(value: object) -> list[str]:
    return MSG_ID.findall(str(value)) if value else []


def _body_text(message: EmailMessage) -> tuple[str, bool]:
    """The plain body, or the HTML one rendered as text; (text, came from HTML only)."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _content(plain), False
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_content(html)), True
    return "", False


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeDecodeError):
        # Unknown or wrong charset label: Latin-1 maps every byte, nothing is lost.
        payload = part.get_payload(decode=True)
        content = payload.decode("latin-1") if isinstance(payload, bytes) else str(payload)
    return content if isinstance(content, str) else ""


def _attachment(part: EmailMessage) -> Attachment:
    payload = part.get_payload(decode=True)
    size = len(payload) if isinstance(payload, bytes) else None
    filename = part.get_filename() or f"unnamed.{part.get_content_subtype()}"
    return Attachment(filename=filename, content_type=part.get_content_type(), size_bytes=size)


def _auto_reply(message: EmailMessage) -> str | None:
    """Why the mail is machine-made noise (out-of-office, bounce), or None."""
    submitted = str(message.get("auto-submitted", "")).lower()
    if submitted.startswith("auto-replied"):
        return f"Auto-Submitted: {submitted}"
    if message.get("x-autoreply") or message.get("x-autorespond"):
        return "X-Autoreply header"
    if message.get_content_type() == "multipart/report":
        return "delivery status report (bounce)"
    sender = str(message.get("from", "")).lower()
    if "mailer-daemon@" in sender:
        return "sent by MAILER-DAEMON (bounce)"
    return None
