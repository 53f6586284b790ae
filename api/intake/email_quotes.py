"""Separate the new text of an e-mail from the quoted replies and forwarded chains below it.

Top-posted replies, Outlook header blocks (``From:``/``Sent:``, ``Von:``/``Gesendet:`` ...),
forward markers and ``>``-quoted blocks are recognised in en/de/fr/es/pt; inline replies keep
their unquoted lines as new text. Everything recognised as earlier mail becomes a QuotedPart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PartKind = Literal["reply", "forward"]

ATTRIBUTION = re.compile(
    r"^\s*(on\b.{3,300}\bwrote|am\b.{3,300}\bschrieb.{0,200}|le\b.{3,300}\ba écrit"
    r"|el\b.{3,300}\bescribió|em\b.{3,300}\bescreveu)\s*:\s*$",
    re.IGNORECASE,
)
FORWARD = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré|"
    r"mensaje reenviado|mensagem encaminhada)\s*-{2,}|begin forwarded message:)",
    re.IGNORECASE,
)
ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|original-nachricht|"
    r"message d'origine|mensaje original|mensagem original)\s*-{2,}",
    re.IGNORECASE,
)
HEADER_FROM = re.compile(r"^\s*\*?(from|von|de|van|da)\s*:\*?\s*(.+)$", re.IGNORECASE)
HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|date|gesendet|datum|envoyé|enviado|to|an|à|para|subject|betreff|objet|"
    r"asunto|assunto|cc)\s*:",
    re.IGNORECASE,
)
SIGNATURE = re.compile(r"^--[ \t]+$")
"""The standard delimiter, "-- " (trailing space kept): everything after it is the signature."""
BARE_DELIMITER = re.compile(r"^--$")
""""--" alone: a delimiter whose space was trimmed, or a separator between steps of the text."""
CLOSING = re.compile(
    r"(?i)^\W*(?:(?:best|kind|warm)(?:est)?\s+regards|regards|cheers|thanks|many thanks|best"
    r"|(?:mit\s+)?(?:freundlichen|besten|viele)\s+gr(?:ü|ue)(?:ß|ss)en|gr(?:ü|ue)(?:ß|ss)e|cordialement"
    r"|bien\s+(?:à|a)\s+vous|(?:un\s+)?saludo|saludos|atentamente|atenciosamente|abra(?:ç|c)os)"
    r"\s*[,.!]?\s*(?:/.*)?$"
)
"""A closing formula alone on its line, the first of many signatures ("Best regards,",
"mit freundlichen grüßen / kind regards"); "Thanks for looking" is a sentence."""
NAME_LINE = re.compile(r"^\s*[^\W\d_][^:.!?]{0,60}$")
"""A name (or name and title) line: short, no colon and no sentence end."""
CONTACT_LINES = 4
"""A bare "--" before a name starts a signature when one of the next lines ..."""
CONTACT = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://|\bwww\.|\+\d[\d ()/.-]{6,}"
    r"|(?i:\b(?:tel|phone|mobile|mob|cell|fax|handy|telefon|t[ée]l[ée]phone)\b\.?\s*:?\s*[+(\d])"
)
"""... says how to reach the sender: an address, a web site, a phone number."""
WROTE_AUTHOR = re.compile(r"[,\s]([^,]{2,120}?)\s+(wrote|schrieb|a écrit|escribió|escreveu)")
SCHRIEB_AUTHOR = re.compile(r"\bschrieb\s+(.{2,120}?)\s*:\s*$", re.IGNORECASE)
"""German clients name the author after the verb: "Am ... um 10:00 Uhr schrieb Ann <a@b>:"."""
TIME_PREFIX = re.compile(r"^.*\b\d{1,2}:\d{2}(?::\d{2})?(\s*[ap]\.?m\.?)?\s+", re.IGNORECASE)
"""The date and time before the author after the last comma ("2026 at 10:00 AM Ann <a@b>")."""


@dataclass(frozen=True)
class QuotedPart:
    """An earlier message found in the mail: who wrote it (when known) and its text."""

    kind: PartKind
    author: str | None
    body: str


@dataclass(frozen=True)
class SplitMail:
    """The text the sender wrote now, and the earlier messages it carried."""

    new_text: str
    parts: list[QuotedPart]


def _boundary(lines: list[str], i: int) -> PartKind | None:
    """Does an earlier message start at line i (reply attribution, forward, header block)?"""
    line = lines[i]
    if FORWARD.match(line):
        return "forward"
    if ORIGINAL.match(line):
        return "reply"
    if HEADER_FROM.match(line) and any(HEADER_NEXT.match(n) for n in lines[i + 1 : i + 5]):
        return "reply"
    return None


def _unquote(lines: list[str]) -> str:
    stripped = [re.sub(r"^\s*> ?", "", line) for line in lines]
    return "\n".join(stripped).strip()


def _author(lines: list[str]) -> str | None:
    for line in lines[:6]:
        found = HEADER_FROM.match(line)
        if found:
            return found.group(2).strip().strip("*").strip() or None
        if ATTRIBUTION.match(line):
            after = SCHRIEB_AUTHOR.search(line)
            if after:
                return after.group(1).strip()
            wrote = WROTE_AUTHOR.search(line)
            if wrote:
                return TIME_PREFIX.sub("", wrote.group(1).strip()) or None
    return None


def _history(lines: list[str], kind: PartKind) -> list[QuotedPart]:
    """Split everything after the first boundary into one part per earlier message."""
    starts = [0] + [
        i
        for i in range(1, len(lines))
        if (_boundary(lines, i) or _is_wrote(lines, i)) and not _is_marker(lines[i - 1])
    ]
    parts = []
    for n, start in enumerate(starts):
        chunk = lines[start : starts[n + 1] if n + 1 < len(starts) else len(lines)]
        this_kind: PartKind = "forward" if FORWARD.match(chunk[0]) else kind if n == 0 else "reply"
        body = [
            line
            for line in chunk
            if not (FORWARD.match(line) or ORIGINAL.match(line) or _is_header(line))
        ]
        text = _unquote(body)
        if text:
            parts.append(QuotedPart(kind=this_kind, author=_author(chunk), body=text))
    return parts


def _is_marker(line: str) -> bool:
    return bool(FORWARD.match(line) or ORIGINAL.match(line))


def _is_header(line: str) -> bool:
    return bool(HEADER_FROM.match(line) or HEADER_NEXT.match(line) or ATTRIBUTION.match(line))


def _is_wrote(lines: list[str], i: int) -> bool:
    return bool(ATTRIBUTION.match(lines[i]))


def _signature_after(lines: list[str], i: int) -> bool:
    """Whether the lines after a bare "--" at i, up to the quoted mail, read as a signature.

    A signature opens with a closing formula, or with a name followed closely by a way to reach
    its sender; "step 1 / -- / step 2" is text, and so is a block with another delimiter in it.
    """
    block: list[str] = []
    for n in range(i + 1, len(lines)):
        if _boundary(lines, n) or _is_wrote(lines, n) or lines[n].lstrip().startswith(">"):
            break
        if BARE_DELIMITER.match(lines[n]) or SIGNATURE.match(lines[n]):
            return False  # "--" between sections of the text, not one signature at its end
        if lines[n].strip():
            block.append(lines[n])
    if not block:
        return False
    if CLOSING.match(block[0]):
        return True
    head = block[: CONTACT_LINES + 1]
    return bool(NAME_LINE.match(block[0])) and any(CONTACT.search(line) for line in head)


def split_mail(text: str) -> SplitMail:
    """The new text and the quoted/forwarded earlier messages of a plain-text mail body."""
    lines = text.replace("\r\n", "\n").split("\n")
    new: list[str] = []
    parts: list[QuotedPart] = []
    quoted: list[str] = []
    author: str | None = None
    in_signature = separated = False
    i = 0
    while i < len(lines):
        line = lines[i]
        kind = _boundary(lines, i)
        if kind is not None:
            if quoted:
                parts.append(QuotedPart("reply", author, _unquote(quoted)))
            parts.extend(_history(lines[i:], kind))
            return SplitMail(_clean(new), parts)
        if line.lstrip().startswith(">"):
            quoted.append(line)
        elif _is_wrote(lines, i):
            author = _author([line])
        elif quoted and not line.strip():
            quoted.append(line)
        else:
            if quoted:
                parts.append(QuotedPart("reply", author, _unquote(quoted)))
                quoted, author = [], None
            if BARE_DELIMITER.match(line):
                # The text's own separator once it has used one; else maybe a trimmed "-- ".
                in_signature = in_signature or (not separated and _signature_after(lines, i))
                separated = True
                if not in_signature:
                    new.append(line)
            elif SIGNATURE.match(line):
                in_signature = True
            elif not in_signature:
                new.append(line)
        i += 1
    if quoted:
        parts.append(QuotedPart("reply", author, _unquote(quoted)))
    return SplitMail(_clean(new), [p for p in parts if p.body])


def _clean(lines: list[str]) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
