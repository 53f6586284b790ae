"""Read e-mails from an mbox file, a Maildir directory or one .eml file, as raw bytes, in order.

An mbox escapes a body line starting with "From " as ">From " (and mboxrd one starting with
">From " as ">>From "); the escape is undone here, so the line reads as written, not as a quote.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

from agent.errors import InputError
from api.intake.email_parse import BOM

ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  # an RFC 5322 field name and its colon
SNIFF_BYTES = 4_096


def read_mailbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every message: a directory is a Maildir, a file starting with a
    "From " line an mbox, a file starting with a header one e-mail; InputError for anything else
    (JSON or JSON Lines included).

    ``where`` names the message for a person: "message 3" (counted from 1) in an mbox, the file
    name in a Maildir or for one e-mail.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        return _maildir(path)
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES).removeprefix(BOM).lstrip()
    if head[:1] in (b"{", b"["):
        # '{"subject": ...' would read as one e-mail with a header named '{"subject"', and be
        # kept as a reject: refused here, before anything is imported.
        raise InputError(
            f"{path}: a JSON file, not e-mail; import reads an mbox file, a Maildir directory "
            "or one .eml file. Send JSON tickets to POST /v1/intake/api (chat and web-form "
            "payloads to /v1/intake/chat and /v1/intake/web), one per request"
        )
    if not head or head.startswith(b"From "):
        return _mbox(path)
    if HEADER_LINE.match(head):
        return iter([(path.name, path.read_bytes())])
    raise InputError(
        f"{path}: not an mbox file (no 'From ' line first), a Maildir directory or an e-mail"
    )


def _maildir(path: Path) -> Iterator[tuple[str, bytes]]:
    """The messages in new/ and cur/ (either may be missing), by unique name (arrival order)."""
    folders = [path / sub for sub in ("new", "cur") if (path / sub).is_dir()]
    if not folders:
        raise InputError(f"{path}: a directory must be a Maildir (with cur/ or new/)")
    # Names starting with a dot are not messages (Maildir spec); the name's ":2,..." is flags.
    files = [f for d in folders for f in d.iterdir() if f.is_file() and f.name[:1] != "."]
    return ((f.name.split(":")[0], f.read_bytes()) for f in sorted(files, key=lambda f: f.name))


def _mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(str(path), factory=None, create=False)
    try:
        for number, key in enumerate(sorted(box.keys()), 1):
            yield f"message {number}", unescape_from(box.get_bytes(key))
    finally:
        box.close()


def unescape_from(raw: bytes) -> bytes:
    """Undo the mbox ">From " escape at the start of lines (mboxo and mboxrd alike)."""
    return ESCAPED_FROM.sub(rb"\1", raw)
