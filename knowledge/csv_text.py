"""How a CSV export's bytes become text: its encoding, and the separator of its header row."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from agent.errors import InputError

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# a UTF-8 encoded letter: a file that has them is UTF-8 with a bad byte, not Windows-1252
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")  # bytes Windows-1252 leaves unused


def decode_csv(path: Path, raw: bytes) -> tuple[str, str]:
    """A CSV export's text and encoding: UTF-16 after its BOM (Excel's "Unicode text"), else
    UTF-8 (with or without a BOM), else Windows-1252, Excel's "CSV" on a Western Windows."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(f"cannot read {path}: not UTF-16 ({exc.reason})") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        not_utf8 = exc
    if not _UTF8_SEQUENCE.search(raw) and not _CP1252_UNDEFINED.search(raw):
        return raw.decode("cp1252"), "cp1252"
    line = raw[: not_utf8.start].count(b"\n") + 1
    raise InputError(
        f"cannot read {path}: not UTF-8 ({not_utf8.reason} at line {line}) nor Windows-1252 "
        "text; save it as 'CSV UTF-8'"
    ) from not_utf8


def csv_delimiter(text: str) -> str:
    """The separator of a CSV's header row: the candidate it holds most of, a comma by default
    (a spreadsheet saves with ';' where the decimal mark is a comma, and Unicode text with tabs)."""
    header = text.split("\n", 1)[0]
    counts = {candidate: header.count(candidate) for candidate in DELIMITER_NAMES}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] > counts[","] else ","
