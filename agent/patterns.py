"""The policy's regular expressions, run on untrusted ticket text with a time limit.

Error codes are regular expressions a support lead writes; ticket text is anyone's. A pattern
that backtracks without end on some text ('(a|aa)+$' on a line of a's) would hold the worker for
longer than anyone waits, and the standard ``re`` cannot be stopped. Policy patterns are compiled
with the ``regex`` package (``re``'s syntax, VERSION0) and each search of a text stops after
``PATTERN_TIMEOUT_S`` of matching: the pattern gave up on that text, and the caller says so.
"""

from __future__ import annotations

from typing import Any

import regex

# Matching time of one pattern on one text (a well-behaved pattern reads a 200,000-character
# ticket in milliseconds); a runaway one costs this per text it reads, then gives up.
PATTERN_TIMEOUT_S = 0.5

# regex ships no type hints: a compiled pattern is opaque to mypy
CompiledPattern = Any


def compile_pattern(pattern: str) -> CompiledPattern:
    """The pattern compiled as the policy's patterns run (``regex.error`` when it is invalid)."""
    return regex.compile(pattern, regex.VERSION0)


def pattern_problem(pattern: str) -> str | None:
    """Why the pattern cannot be compiled, or None."""
    try:
        compile_pattern(pattern)
    except regex.error as exc:
        return str(exc)
    return None


def find_matches(pattern: CompiledPattern, text: str) -> tuple[list[str], bool]:
    """The non-blank matches of the pattern in the text in order, and whether it gave up past
    its time limit (then the matches are those found before)."""
    found: list[str] = []
    try:
        for match in pattern.finditer(text, timeout=PATTERN_TIMEOUT_S):
            # a zero-width or blank match (r'\b', '(?=ORA)', r'\s') is no code
            code = match.group(0).strip()
            if code:
                found.append(code)
    except TimeoutError:
        return found, True
    return found, False
