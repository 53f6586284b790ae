"""Read an RFC 5322/MIME message: headers, the best text body, attachments, forwarded mails.

Uses the stdlib ``email`` package with ``policy.default``: it decodes transfer encodings and
headers; text parts (and a Subject: it garbled) are decoded here under their charset (ISO-8859-x,
Windows-125x, Shift_JIS ...) when the bytes fit it, else as UTF-8 or Windows-1252, so a missing,
unknown or wrong label still reads (decode_text). A header the stdlib's parser cannot read (it
crashes on some malformed values) is kept as plain text: an unreadable To:, Cc: or Message-ID
costs that detail only; an unreadable From: is refused, it names the requester. A signed mail
(multipart/signed) is read from its signed part; an opaque S/MIME one (pkcs7-mime) is refused.
"""

from __future__ import annotations

import codecs
import email
import json
import re
from dataclasses import dataclass, field
from email.errors import HeaderParseError, MessageError
from email.header import decode_header
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from email.policy import default
from email.utils import getaddresses, parseaddr

from agent.errors import InputError
from agent.models import Attachment
from api.intake.html_text import html_to_text
from api.intake.smime import refuse_sealed, signed_content

MSG_ID = re.compile(r"<[^<>\s]+>")
FORM_UPLOAD = re.compile(rb"--[^\r\n]*\r?\ncontent-disposition:\s*form-data", re.IGNORECASE)
"""The start of a multipart/form-data body: a mail uploaded as a form field."""
BOM = b"\xef\xbb\xbf"
WESTERN = {"ascii", "iso8859-1", "iso8859-15", "cp1252"}
"""Labels that UTF-8 bytes are often sent under by mistake (codecs' names)."""
UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
"""A multi-byte UTF-8 character: a part labelled UTF-8 with some is UTF-8, if damaged."""
# What the stdlib's header and content parsers raise on malformed input besides MessageError
# (IndexError, AttributeError ... are bugs of its header parser on values like `To: "`).
PARSER_CRASHES = (MessageError, LookupError, AttributeError, ValueError, TypeError)


class UnreadableHeader(UnstructuredHeader):
    """A header whose structured parser failed on its value: kept as plain text."""


class _LenientHeaders(HeaderRegistry):
    """The default header classes; a value their parser cannot read becomes an UnreadableHeader."""

    def __call__(self, name: str, value: str) -> BaseHeader:
        try:
            return super().__call__(name, value)
        except PARSER_CRASHES:
            unreadable = type("_UnreadableHeader", (UnreadableHeader, self.base_class), {})
            return unreadable(name, value)


LENIENT = default.clone(header_factory=_LenientHeaders())


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
    unreadable_headers: list[str] = field(default_factory=list)


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse raw message bytes; InputError when they do not read as a mail with a sender."""
    raw = raw.removeprefix(BOM)  # a .eml saved by a Windows editor: it hid the first header
    wrong = _not_a_message(raw)
    if wrong is not None:
        raise InputError(f"not an e-mail message: {wrong}")
    try:
        # Both the stdlib parser and _parse recurse once per nested part or forward.
        message = email.message_from_bytes(raw, policy=LENIENT)
        if not isinstance(message, EmailMessage) or not message.keys():
            raise InputError("not an e-mail message: no headers found")
        if isinstance(message.get("from"), UnreadableHeader):
            # The requester: who is answered, and whose account decides the quality gate.
            value = str(message["from"])[:200]
            raise InputError(f"e-mail: the From: header cannot be read: {value!r}")
        return _parse(message)
    except RecursionError:
        raise InputError("e-mail parts nested too deep to read") from None
    except PARSER_CRASHES as exc:
        # A malformed mail is the sender's fault: refused (and kept) with the reason, not a 500.
        raise InputError(f"e-mail cannot be read: {type(exc).__name__}: {exc}") from None


def _not_a_message(raw: bytes) -> str | None:
    """What else a body is that the parser would misread as headers (JSON, a form upload)."""
    head = raw.lstrip()
    if head[:1] in (b"{", b"["):
        try:
            json.loads(raw)
        except (ValueError, RecursionError):
            return None
        # '{"subject": ...' reads as a header named '{"subject"': the mail had "no subject".
        return (
            "the body is JSON; send the raw message as message/rfc822 "
            "(a JSON ticket goes to /v1/intake/api)"
        )
    if FORM_UPLOAD.match(head):
        return (
            "the body is a form upload (curl -F); send the message itself as message/rfc822 "
            "(curl --data-binary @mail.eml)"
        )
    return None


def _readable(message: EmailMessage, name: str) -> list[str]:
    """The values of a header its parser could read (an unreadable one is left out)."""
    values = message.get_all(name, [])
    return [str(v) for v in values if not isinstance(v, UnreadableHeader)]


def _unreadable(message: EmailMessage) -> list[str]:
    """Names of the headers the stdlib parser could not read."""
    return [name for name, value in message.items() if isinstance(value, UnreadableHeader)]


def _parse(message: EmailMessage) -> ParsedEmail:
    name, address = parseaddr(next(iter(_readable(message, "from")), ""))
    content = signed_content(message)
    text, html_only = _body_text(content)
    attachments, forwarded = [], []
    for part in content.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
                forwarded.append(_parse(inner[0]))
                continue
        attachments.append(_attachment(part))
    if not text.strip():
        refuse_sealed([a.content_type or "" for a in attachments])
    return ParsedEmail(
        subject=_subject(message),
        sender=address or None,
        sender_name=name or None,
        to=[a for _, a in getaddresses(_readable(message, "to")) if a],
        cc=[a for _, a in getaddresses(_readable(message, "cc")) if a],
        date=str(message["date"]) if message["date"] else None,
        message_id=next(iter(_ids(message.get("message-id"))), None),
        in_reply_to=_ids(message.get("in-reply-to")),
        references=_ids(message.get("references")),
        text=text,
        html_only=html_only,
        attachments=attachments,
        forwarded=forwarded,
        auto_reply=_auto_reply(message),
        unreadable_headers=_unreadable(message),
    )


def _subject(message: EmailMessage) -> str:
    """The Subject: as the stdlib decodes it, or, where that lost letters, decoded like a body.

    The stdlib replaces what its charset label (or ASCII, for raw 8-bit bytes) does not fit
    with U+FFFD: "Störung" sent in Latin-1 read "St�rung", and rules on the subject missed it.
    """
    subject = str(message.get("subject", "") or "")
    if "\ufffd" in subject:
        subject = _redecoded(message, "subject") or subject
    return subject.strip()


def _redecoded(message: EmailMessage, name: str) -> str | None:
    """A header's raw value decoded with decode_text: its bytes, then each encoded word."""
    raw = next((str(v) for k, v in message.raw_items() if k.lower() == name), None)
    if raw is None:
        return None
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", raw)
    # The parser kept 8-bit bytes as surrogate escapes: back to the bytes as sent.
    text = decode_text(unfolded.encode("ascii", "surrogateescape"), None)
    try:
        words = decode_header(text)
    except HeaderParseError:
        return None
    return "".join(
        decode_text(word, charset) if isinstance(word, bytes) else word for word, charset in words
    )


def _ids(value: object) -> list[str]:
    return MSG_ID.findall(str(value)) if value else []


def _body_text(message: EmailMessage) -> tuple[str, bool]:
    """The plain body, or the HTML one rendered as text; (text, came from HTML only).

    A blank plain part gives way to the HTML one: some senders fill only the HTML half of
    multipart/alternative.
    """
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        text = _content(plain)
        if text.strip():
            return text, False
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_content(html)), True
    return "", False


def _content(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        declared = part.get_content_charset()
    except (LookupError, ValueError):
        declared = None
    return decode_text(payload, declared)


def decode_text(payload: bytes, declared: str | None) -> str:
    """A text part's bytes as text, under its charset label when the bytes bear it out.

    The stdlib decodes with the label and replaces what does not fit (an unlabelled part is
    US-ASCII), so a UTF-8 mail sent without a charset, or a Windows-1252 one labelled UTF-8,
    came out with U+FFFD for every accented letter. A label the bytes do not fit gives way to
    UTF-8 when they are UTF-8, else to Windows-1252 (Latin-1 for its five unused bytes), unless
    they are damaged text of that charset (a cut-off UTF-8 part keeps its other letters). UTF-8
    also wins over an ASCII or Western single-byte label: Latin-1 text is almost never valid
    UTF-8 by chance, and read as Latin-1, UTF-8 turns "é" into "Ã©".
    """
    codec = _codec(declared)
    utf8 = _utf8(payload)
    if codec is not None and not (codec in WESTERN and utf8 is not None):
        try:
            return payload.decode(codec)
        except UnicodeDecodeError:
            pass
    if utf8 is not None:
        return utf8
    damaged = codec not in WESTERN and (codec != "utf-8" or UTF8_SEQUENCE.search(payload))
    if codec is not None and damaged:
        return payload.decode(codec, errors="replace")  # damaged text of its own charset
    try:
        return payload.decode("cp1252")
    except UnicodeDecodeError:
        return payload.decode("latin-1")  # maps every byte: nothing is lost


def _codec(declared: str | None) -> str | None:
    """The text codec a charset label names, or None (no label, unknown or unusable)."""
    if not declared:
        return None
    try:
        name = codecs.lookup(declared).name
        b"".decode(name)  # "base64" and the like are codecs but not text encodings
    except (LookupError, ValueError):
        return None
    return name


def _utf8(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


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
