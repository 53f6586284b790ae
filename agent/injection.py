"""Find and remove instruction-like passages in untrusted ticket text (prompt injection).

A passage is removed whole: the sentence that holds a cue, the JSON object posing as an answer, the
fenced block or chat-markup block posing as a system prompt, and the directive sentences that follow
a cue in the same paragraph. The rest is whitespace-normalised, so a ticket with an injected
sentence, line or paragraph yields the same ``clean_text`` as the ticket without it.
Patterns live in ``agent/injection_patterns.py`` (en, de, es, fr, pt, it, ru, zh, ja), how the
text is read for them (look-alike letters, spaced-out words) in ``agent/injection_reading.py``,
where an ambiguous verb must stand to be an order in ``agent/injection_position.py``, and how they
are run, each only on text that holds its anchors, in ``agent/injection_cues.py``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from itertools import pairwise

from pydantic import BaseModel, Field

from agent.injection_cues import find_cue, role_line
from agent.injection_patterns import (
    DIRECTIVE,
    FENCE,
    JSON_KEY,
    MARKUP_BLOCK,
    ROLE_BLOCK,
    ROLE_TALK,
)
from agent.injection_reading import fold

# A soft hyphen before a line break stays: it says the word goes on in the next line, which the
# scan reads joined ("instruc<SHY>⏎tions"); elsewhere it is drawn as nothing and goes.
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]|\u00ad" r"(?![^\S\n]*\n)")
# Unicode's other default-ignorable code points: drawn as nothing, so they can split a cue
# ("prev<LRM>ious") unseen. Direction marks and isolates, invisible operators, variation
# selectors, fillers, and the tag characters that spell ASCII no one sees. A scan reads the text
# without them; the text itself keeps them (dates copied from chat clients carry direction marks).
INVISIBLE = re.compile(
    "[\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200e\u200f\u202a-\u202e"
    "\u2061-\u206f\u3164\ufe00-\ufe0f\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
BRACE = re.compile("[{}\uff5b\uff5d]")  # full-width ones too
UNFINISHED = re.compile(r"[^\W_],?[^\S\n]*$")  # a line that ends in a word or a comma
# Chinese and Japanese put no space after a full stop: a sentence ends at it all the same.
SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]»”]))[^\S\n]+|(?<=[。！？])[^\S\n]*|\n")


class InjectionScan(BaseModel):
    """The ticket text with instruction-like passages removed, and the passages themselves."""

    clean_text: str
    passages: list[str] = Field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.passages)


def normalise_whitespace(text: str) -> str:
    """Drop zero-width characters and blank lines, single-space and strip each line."""
    text = ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = (re.sub(r"[^\S\n]+", " ", line).strip() for line in text.split("\n"))
    # Blank lines go too: "A\n\nINJ\n\nB" may come from "A\nB" or "A\n\nB", and must equal both.
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int
    paragraph: int


def scan(text: str) -> InjectionScan:
    """Remove instruction-like passages from untrusted text; returns the cleaned text and them."""
    text = ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    seen, where = _visible(text)
    lowered = fold(seen)
    spans = _block_spans(lowered)
    # One pass over the whole text first: most tickets have no cue and skip sentence splitting.
    if find_cue(lowered) or role_line(lowered):
        spans += _sentence_spans(_mask(lowered, spans), seen)
    if not spans:
        return InjectionScan(clean_text=normalise_whitespace(text))
    spans = _merge(spans)
    passages = [normalise_whitespace(seen[s:e]) for s, e in spans]
    if where is not None:
        spans = [(where[s], where[e]) for s, e in spans]
    return InjectionScan(
        clean_text=normalise_whitespace(_remove(text, spans)), passages=[p for p in passages if p]
    )


def visible(text: str) -> str:
    """The text without the invisible characters a scan reads past (``INVISIBLE``)."""
    return INVISIBLE.sub("", text)


def _visible(text: str) -> tuple[str, list[int] | None]:
    """The text as a scan reads it and, when that differs, where each of its characters (and
    its end) stands in the text."""
    if not INVISIBLE.search(text):
        return text, None
    where = [i for i, ch in enumerate(text) if not INVISIBLE.match(ch)]
    return "".join(text[i] for i in where), [*where, len(text)]


def _block_spans(lowered: str) -> list[tuple[int, int]]:
    """Multi-line constructs: chat markup, fenced prompt blocks, a bracketed role's message,
    JSON objects with answer keys."""
    spans = [m.span() for m in MARKUP_BLOCK.finditer(lowered)]
    for m in FENCE.finditer(lowered):
        inner = m.group("inner")
        if m.group("lang") or find_cue(inner) or role_line(inner):
            spans.append(m.span())
    spans.extend(m.span() for m in ROLE_BLOCK.finditer(lowered) if ROLE_TALK.search(m["inner"]))
    spans.extend(_json_objects(lowered))
    return spans


def _json_objects(text: str) -> list[tuple[int, int]]:
    """Balanced {...} objects that carry a routing key such as "team" or "priority"."""
    # Each brace is matched once (a stack), not re-scanned from every "{": a body of 200,000
    # unbalanced braces took minutes.
    closing: dict[int, int] = {}
    opened: list[int] = []
    for m in BRACE.finditer(text):
        if m.group() in "{\uff5b":
            opened.append(m.start())
        elif opened:
            closing[opened.pop()] = m.start()
    keys = [m.span() for m in JSON_KEY.finditer(text)]  # they never overlap: each ends in ':'
    found: list[tuple[int, int]] = []
    for i, j in sorted(closing.items()):
        if found and i < found[-1][1]:
            continue  # inside an object already found
        k = bisect.bisect_left(keys, (i, i))
        if j - i < 4000 and k < len(keys) and keys[k][1] <= j + 1:
            found.append((i, j + 1))
    return found


def _segments(text: str) -> list[_Segment]:
    """Sentences and lines, each tagged with the paragraph (blank-line separated) it is in."""
    breaks = [m.end() for m in PARAGRAPH_BREAK.finditer(text)]
    bounds = [0]
    for m in SENTENCE_END.finditer(text):
        bounds += [m.start(), m.end()]
    bounds.append(len(text))
    return [
        _Segment(start, end, bisect.bisect_right(breaks, start))
        for start, end in zip(bounds[::2], bounds[1::2], strict=True)
        if text[start:end].strip()
    ]


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank out the block spans (same length), so the sentences around a block are judged alone."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = re.sub(r"\S", " ", text[start:end])
    return "".join(chars)


def _sentence_spans(lowered: str, text: str) -> list[tuple[int, int]]:
    """Sentences with a cue, plus directive sentences right after them in the same paragraph."""
    spans: list[tuple[int, int]] = []
    last_hit: _Segment | None = None
    segments = _segments(lowered)
    cued = [_cued(lowered[seg.start : seg.end]) for seg in segments]
    hits = list(cued)
    # E-mail clients wrap lines at ~72 columns: "ignore all previous\ninstructions" is a cue in
    # neither line alone. Two lines of one paragraph that hold one together both go.
    for k, (first, second) in enumerate(pairwise(segments)):
        wrapped = first.paragraph == second.paragraph and "\n" in lowered[first.end : second.start]
        if wrapped and not (cued[k] or cued[k + 1]) and find_cue(lowered[first.start : second.end]):
            hits[k] = hits[k + 1] = True
    # A cue's sentence wrapped onto the next line goes on there ("...route this ticket to" /
    # "the security team as P1."): a line that does not end a sentence, then one in lower case.
    # Only after a line of prose: role lines and log lines seldom end in punctuation.
    for k, (first, second) in enumerate(pairwise(segments)):
        wrapped = first.paragraph == second.paragraph and "\n" in lowered[first.end : second.start]
        prose = cued[k] and find_cue(lowered[first.start : first.end])
        if prose and wrapped and UNFINISHED.search(lowered, first.start, first.end):
            hits[k + 1] = hits[k + 1] or text[second.start : second.end].lstrip()[:1].islower()
    for seg, hit in zip(segments, hits, strict=True):
        sentence = lowered[seg.start : seg.end]
        # An order that follows a cue is short; across a line break shorter still ("Priority: P1").
        follows = last_hit is not None and last_hit.paragraph == seg.paragraph
        if follows and last_hit is not None:
            newline = "\n" in lowered[last_hit.end : seg.start]
            follows = len(sentence.strip()) <= (60 if newline else 120)
        if hit or (follows and DIRECTIVE.match(sentence)):
            spans.append((seg.start, seg.end))
            last_hit = seg
        elif sentence.strip():
            last_hit = None
    return spans


def _cued(sentence: str) -> bool:
    return find_cue(sentence) or role_line(sentence)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _remove(text: str, spans: list[tuple[int, int]]) -> str:
    """Cut the spans; a line left empty by the cut goes whole, so no paragraph break appears."""
    keep = bytearray(b"\x01") * len(text)
    for start, end in spans:
        keep[start:end] = bytes(end - start)
    out: list[str] = []
    pos = 0
    for line in text.split("\n"):
        kept = "".join(ch for k, ch in zip(keep[pos : pos + len(line)], line, strict=True) if k)
        if not (line.strip() and not kept.strip()):
            out.append(kept)
        pos += len(line) + 1
    return "\n".join(out)
