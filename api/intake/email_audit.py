"""The copy of a raw e-mail kept for audit: whole, or without its attachments' bytes when large.

A mail up to AUDIT_WHOLE_BYTES (the request limit of the other routes) is kept byte for byte. A
larger one (a screenshot or a log attached) is kept with the content of each attachment and
non-text part replaced by a line naming its size and SHA-256: its headers, text and structure
stay, the ticket already has the attachments as metadata, and the database is spared megabytes
of base64 per mail. The record names what was removed and the SHA-256 of the mail as received.
"""

from __future__ import annotations

import base64
import email
import hashlib
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from io import BytesIO
from typing import Any

AUDIT_WHOLE_BYTES = 1_000_000


def raw_record(raw: bytes) -> dict[str, Any]:
    """The original message as kept for audit (bytes as base64: charsets stay untouched)."""
    record: dict[str, Any] = {"format": "rfc822", "size": len(raw)}
    if len(raw) <= AUDIT_WHOLE_BYTES:
        return {**record, "base64": base64.b64encode(raw).decode()}
    kept, removed = _without_attachment_bytes(raw)
    return {
        **record,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "attachments_removed": removed,
        "base64": base64.b64encode(kept).decode(),
    }


def raw_bytes(record: dict[str, Any]) -> bytes:
    """The kept bytes back from raw_record() (without large attachments' content, if removed)."""
    return base64.b64decode(str(record.get("base64", "")))


def _without_attachment_bytes(raw: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """The message with its attachments' and non-text parts' content replaced, and what was."""
    # compat32 writes untouched headers and text parts back as they were read.
    message = email.message_from_bytes(raw, policy=compat32)
    removed: list[dict[str, Any]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        attached = part.get_content_disposition() == "attachment"
        if part.get_content_maintype() in ("text", "message") and not attached:
            continue  # the mail's own text
        content = part.get_payload(decode=True)
        data = content if isinstance(content, bytes) else b""
        digest = hashlib.sha256(data).hexdigest()
        removed.append(
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(data),
                "sha256": digest,
            }
        )
        _replace_content(part, f"[{len(data)} bytes removed from the audit copy; sha256 {digest}]")
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=compat32).flatten(message)
    return out.getvalue(), removed


def _replace_content(part: Message, note: str) -> None:
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "7bit"
    part.set_payload(note + "\n")
