"""S/MIME and PGP/MIME mail: where a signed mail's text is, and what cannot be read at all.

A clear-signed mail (multipart/signed) carries the message as its first part and the signature
as its second. An opaque S/MIME mail (application/pkcs7-mime) is signed-data or encrypted-data
in one binary blob; reading it needs a CMS parser and, encrypted, the recipient's key.
"""

from __future__ import annotations

from email.message import EmailMessage

from agent.errors import InputError

PKCS7_MIME = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
"""Opaque S/MIME: the message is inside signed-data or encrypted-data."""


def signed_content(message: EmailMessage) -> EmailMessage:
    """The part that holds the mail's text and attachments: a signed mail's first part.

    S/MIME and PGP/MIME signed mail (multipart/signed) carries the message as its first part
    and the signature as the second; read whole, the message part was one 'unnamed.mixed'
    attachment and what it held was lost. An opaque (application/pkcs7-mime) mail is
    signed-data or encrypted-data in one binary blob: refused, since its text cannot be read
    here and a ticket made of its subject alone would be triaged without its request.
    """
    kind = message.get_content_type()
    if kind in PKCS7_MIME:
        smime = message.get_param("smime-type") or "unknown"
        raise InputError(
            f"e-mail is S/MIME {kind} (smime-type={smime}): its text is inside a signed or "
            "encrypted blob the intake cannot read; ask the sender to send it unencrypted "
            "(a clear-signed multipart/signed mail is read)"
        )
    if kind == "multipart/signed":
        parts = message.get_payload()
        if isinstance(parts, list) and parts and isinstance(parts[0], EmailMessage):
            return parts[0]
    return message


def refuse_sealed(content_types: list[str]) -> None:
    """InputError when a mail without text carries an opaque S/MIME part: its text is in there."""
    sealed = [kind for kind in content_types if kind in PKCS7_MIME]
    if sealed:
        raise InputError(
            f"e-mail has no text besides an S/MIME {sealed[0]} part, which is signed or "
            "encrypted and cannot be read here; ask the sender to send it unencrypted"
        )
