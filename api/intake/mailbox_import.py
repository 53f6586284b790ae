"""Read e-mails from an mbox file or a Maildir directory, as raw bytes, in file order."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from agent.errors import InputError


def read_mailbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every message; a directory is a Maildir, a file an mbox.

    ``where`` names the message for a person: "message 3" (counted from 1) in an mbox, the file
    name in a Maildir.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    box: mailbox.Mailbox[mailbox.Message]
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise InputError(f"{path}: a directory must be a Maildir (with cur/ and new/)")
        box = mailbox.Maildir(str(path), factory=None, create=False)
    else:
        box = mailbox.mbox(str(path), factory=None, create=False)
    try:
        for key in sorted(box.keys()):
            where = f"message {key + 1}" if isinstance(key, int) else str(key)
            yield where, box.get_bytes(key)
    finally:
        box.close()
