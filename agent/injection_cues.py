"""Whether folded ticket text holds an injection cue, in each of its readings.

Each pattern of ``agent/injection_patterns.py`` that ``_cue`` runs is run only on a reading that
holds one of its anchors (``agent/injection_anchors.py``): most tickets hold none, and the cues'
alternatives, tried one by one at every position, were most of the scan's cost. A pattern the
prefilter does not know is run on every text.
"""

from __future__ import annotations

from agent.injection_anchors import Prefilter, Reading
from agent.injection_patterns import (
    ANSWER_NEAR,
    ANSWER_NEAR_CHARS,
    CONFIDENCE,
    CUE,
    IGNORE_ORDER,
    IGNORE_THEIRS,
    IMPERATIVE,
    ROLE_LINE,
    ROLE_TALK,
    START_ORDERS,
)
from agent.injection_position import IMPERATIVE_BEFORE, START_BEFORE, after, unconditional
from agent.injection_reading import readings

_PATTERNS = [*CUE, CONFIDENCE, IMPERATIVE, START_ORDERS, IGNORE_ORDER, IGNORE_THEIRS]
PREFILTER = Prefilter(_PATTERNS)
_CUES = frozenset(CUE)
_ALL = frozenset(_PATTERNS)


def find_cue(lowered: str) -> bool:
    """True when folded text holds an injection cue (role-prefixed lines not included)."""
    return any(_cue(PREFILTER.read(reading)) for reading in readings(lowered))


def _cue(reading: Reading) -> bool:
    if reading.rules_out(_ALL):  # a sentence of none of their words: most sentences
        return False
    lowered = reading.text
    if reading.search_any(_CUES) or any(
        ANSWER_NEAR.search(
            lowered, max(0, m.start() - ANSWER_NEAR_CHARS), m.end() + ANSWER_NEAR_CHARS
        )
        for m in reading.finditer(CONFIDENCE)
    ):
        return True
    return (
        after(IMPERATIVE_BEFORE, reading.finditer(IMPERATIVE), lowered)
        or after(START_BEFORE, reading.finditer(START_ORDERS), lowered)
        or unconditional(reading.finditer(IGNORE_ORDER), lowered)
        or bool(reading.search(IGNORE_THEIRS))
    )


def role_line(lowered: str) -> bool:
    """True when a line starts with a chat role ("system:") and goes on to address a model."""
    return any(_role_line(reading) for reading in readings(lowered))


def _role_line(lowered: str) -> bool:
    for m in ROLE_LINE.finditer(lowered):
        end = lowered.find("\n", m.end())
        if ROLE_TALK.search(lowered, m.end(), len(lowered) if end == -1 else end):
            return True
    return False
