"""Whether folded ticket text holds an injection cue, in each of its readings.

The English cues are looked for once more with every accent left out ("Ignöre all previous
instructions"); the other languages' only as written, where an accent may be all that tells an
order from a statement ("ignore las instrucciones", "ignoré las instrucciones": "I ignored").

Each pattern of ``agent/injection_patterns.py`` that ``_cue`` runs is run only on a reading that
holds one of its anchors (``agent/injection_anchors.py``): most tickets hold none, and the cues'
alternatives, tried one by one at every position, were most of the scan's cost. A pattern the
prefilter does not know is run on every text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from agent.injection_anchors import Prefilter, Reading
from agent.injection_patterns import (
    ANSWER_NEAR,
    ANSWER_NEAR_CHARS,
    CONFIDENCE,
    CUE,
    CUE_EN,
    IGNORE_ORDER,
    IGNORE_THEIRS,
    IMPERATIVE,
    IMPERATIVE_EN,
    ROLE_LINE,
    ROLE_TALK,
    START_ORDERS,
)
from agent.injection_position import IMPERATIVE_BEFORE, START_BEFORE, after, unconditional
from agent.injection_reading import readings, unaccented


@dataclass(frozen=True)
class _Cues:
    """The patterns one reading is asked about."""

    cues: frozenset[re.Pattern[str]]
    imperative: re.Pattern[str]
    start_orders: re.Pattern[str] | None  # es/pt only

    @property
    def all(self) -> frozenset[re.Pattern[str]]:
        extra = [self.start_orders] if self.start_orders is not None else []
        return frozenset(
            [*self.cues, CONFIDENCE, self.imperative, IGNORE_ORDER, IGNORE_THEIRS, *extra]
        )


_EVERY_LANGUAGE = _Cues(frozenset(CUE), IMPERATIVE, START_ORDERS)
_ENGLISH = _Cues(frozenset(CUE_EN), IMPERATIVE_EN, None)
PREFILTER = Prefilter([*_EVERY_LANGUAGE.all, IMPERATIVE_EN])
_ALL = {cues: cues.all for cues in (_EVERY_LANGUAGE, _ENGLISH)}


def find_cue(lowered: str) -> bool:
    """True when folded text holds an injection cue (role-prefixed lines not included)."""
    return any(
        _cue(PREFILTER.read(reading), _EVERY_LANGUAGE) for reading in readings(lowered)
    ) or any(_cue(PREFILTER.read(reading), _ENGLISH) for reading in _unaccented_readings(lowered))


def _unaccented_readings(lowered: str) -> Iterator[str]:
    plain = unaccented(lowered)
    return readings(plain) if plain != lowered else iter(())


def _cue(reading: Reading, asked: _Cues) -> bool:
    if reading.rules_out(_ALL[asked]):  # a sentence of none of their words: most sentences
        return False
    lowered = reading.text
    if reading.search_any(asked.cues) or any(
        ANSWER_NEAR.search(
            lowered, max(0, m.start() - ANSWER_NEAR_CHARS), m.end() + ANSWER_NEAR_CHARS
        )
        for m in reading.finditer(CONFIDENCE)
    ):
        return True
    return (
        after(IMPERATIVE_BEFORE, reading.finditer(asked.imperative), lowered)
        or (
            asked.start_orders is not None
            and after(START_BEFORE, reading.finditer(asked.start_orders), lowered)
        )
        or unconditional(reading.finditer(IGNORE_ORDER), lowered)
        or bool(reading.search(IGNORE_THEIRS))
    )


def role_line(lowered: str) -> bool:
    """True when a line starts with a chat role ("system:") and goes on to address a model."""
    return any(_role_line(reading) for reading in readings(lowered)) or any(
        _role_line(reading) for reading in _unaccented_readings(lowered)
    )


def _role_line(lowered: str) -> bool:
    for m in ROLE_LINE.finditer(lowered):
        end = lowered.find("\n", m.end())
        if ROLE_TALK.search(lowered, m.end(), len(lowered) if end == -1 else end):
            return True
    return False
