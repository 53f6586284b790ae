"""The literals every match of a pattern holds, so that a pattern runs only where one is written.

Python's ``re`` tries an alternation alternative by alternative at every position: the cue patterns
cost ~0.7 ms a ticket, nearly all of it on tickets that hold none of their words. Each
alternative's anchors are read from the pattern as ``re`` itself parses it, not written by hand, so
an alternative added later brings its own; one with none (nothing but ``\\w+`` and the like) runs
on every text, never skipped, and fails ``tests/agent/test_injection_anchors.py``.

An anchor set is sound: any text that an alternative matches holds one of its anchors as written.
Only literals the pattern must consume count (a look-around's or an optional part's do not); a
case-insensitive group counts for nothing and a case-insensitive pattern is refused, as their
literals would not be the text's. ``re._parser`` is private, but it is the parser ``re.compile``
runs, so the literals are those of the pattern that runs; the tests fail if it changes its ways.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from re import _constants as sre  # type: ignore[attr-defined]  # the parser's own names
from re import _parser  # type: ignore[attr-defined]  # how re reads a pattern; no public API
from typing import Any

# Beyond this many strings an exact set is kept only as a need (its product would grow fast).
_MAX_EXACT = 64
_MAX_CLASS = 16  # a class of more characters ([a-z]) is no literal
_ZERO_WIDTH = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}

Anchors = frozenset[str]
_Node = tuple[Any, Any]  # (opcode, argument) as re's parser gives it


@dataclass(frozen=True)
class _Info:
    """What a piece of pattern matches: ``exact`` all its strings (None: too many or unknown),
    ``needs`` sets of which each match holds one member (each set an "any of")."""

    exact: frozenset[str] | None
    needs: list[frozenset[str]] = field(default_factory=list)

    def candidates(self) -> list[frozenset[str]]:
        found = [*self.needs, *([self.exact] if self.exact is not None else [])]
        return [need for need in found if need and "" not in need]


_NOTHING = _Info(exact=None)
_EMPTY = _Info(exact=frozenset({""}))


def anchors(pattern: str, flags: int = 0) -> Anchors:
    """Literals one of which every match of ``pattern`` holds; empty when none is known."""
    parsed = _parser.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        raise ValueError(f"anchors are read case-sensitively: {pattern[:60]!r}")
    return _best(_sequence(parsed).candidates())


def _weight(literal: str) -> int:
    """How rare a literal is: its length, a CJK character (a word or most of one) counted thrice."""
    return sum(1 if ord(ch) < 0x2E80 else 3 for ch in literal)  # CJK starts at U+2E80


def _best(candidates: list[frozenset[str]]) -> Anchors:
    """The rarest set: the heaviest lightest member first, then the fewest members."""
    if not candidates:
        return frozenset()
    return max(candidates, key=lambda need: (min(map(_weight, need)), -len(need)))


def _sequence(nodes: Iterable[_Node]) -> _Info:
    """Items one after the other: adjacent exact items join into longer literals."""
    needs: list[frozenset[str]] = []
    run: list[frozenset[str]] = []  # the exact items since the last inexact one
    whole = True
    for op, av in nodes:
        info = _node(op, av)
        needs.extend(info.needs)
        if info.exact is None:
            needs.append(_join(run))
            run, whole = [], False
            continue
        run.append(info.exact)
        if _size(run) > _MAX_EXACT:
            # Too many strings: the run so far is a need, and its tail that fits goes on.
            needs.append(_join(run[:-1]))
            while _size(run) > _MAX_EXACT:
                run.pop(0)
            whole = False
    if whole:
        return _Info(exact=_join(run), needs=needs)
    return _Info(exact=None, needs=[*needs, _join(run)])


def _size(run: list[frozenset[str]]) -> int:
    size = 1
    for strings in run:
        size *= len(strings)
    return size


def _join(run: list[frozenset[str]]) -> frozenset[str]:
    joined = frozenset({""})
    for strings in run:
        joined = frozenset(a + b for a in joined for b in strings)
    return joined


def _node(op: Any, av: Any) -> _Info:
    if op is sre.LITERAL:
        return _Info(exact=frozenset({chr(av)}))
    if op is sre.IN:
        return _Info(exact=_class(av))
    if op in _ZERO_WIDTH:
        return _EMPTY  # it consumes nothing: what it looks at is not in the match
    if op is sre.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        if (add_flags | del_flags) & re.IGNORECASE:
            return _NOTHING  # its literals are any case of the text's
        return _sequence(sub)
    if op is sre.ATOMIC_GROUP:
        return _sequence(av)
    if op is sre.BRANCH:
        _none, options = av
        return _branch([_sequence(option) for option in options])
    if op in _REPEATS:
        low, high, sub = av
        return _repeat(low, high, _sequence(sub))
    return _NOTHING  # any character, a back-reference, a conditional: no literal known


def _class(items: list[_Node]) -> frozenset[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE:
            low, high = av
            if high - low >= _MAX_CLASS:
                return None
            chars.update(map(chr, range(low, high + 1)))
        else:
            return None  # a category (\w, \s) or a negated class
    return frozenset(chars) if len(chars) <= _MAX_CLASS else None


def _branch(options: list[_Info]) -> _Info:
    exact: frozenset[str] | None = None
    if all(o.exact is not None for o in options):
        union = frozenset().union(*(o.exact or () for o in options))
        exact = union if len(union) <= _MAX_EXACT else None
    picks = [_best(option.candidates()) for option in options]
    if all(picks):  # every option's match holds one of its pick, so each match one of them all
        return _Info(exact=exact, needs=[frozenset().union(*picks)])
    return _Info(exact=exact)


def _repeat(low: int, high: int, sub: _Info) -> _Info:
    if low == 0:  # "s?" adds its letter or nothing; "\s*" anything or nothing
        return _Info(exact=frozenset({""}) | sub.exact) if high == 1 and sub.exact else _NOTHING
    if low == high == 1:
        return sub
    return _Info(exact=None, needs=sub.candidates())


class Prefilter:
    """Rules out, for a text, the patterns none of whose anchors it holds, in one pass over it.

    A pattern with no anchors, or one it was not given, is never ruled out."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        self.anchors = {p: anchors(p.pattern, p.flags) for p in patterns}
        self._by_literal: dict[str, set[re.Pattern[str]]] = {}
        for pattern, literals in self.anchors.items():
            for literal in literals:
                self._by_literal.setdefault(literal, set()).add(pattern)
        self._anchored = frozenset(p for p, literals in self.anchors.items() if literals)
        # Only when every pattern given has anchors can a text with none of them match nothing.
        self._admits_all = len(self._anchored) < len(self.anchors)
        # At one position only literals that are prefixes of one another start: the longest
        # found there stands for them all.
        self._admits = {
            literal: frozenset().union(
                *(self._by_literal.get(literal[:k], ()) for k in range(1, len(literal) + 1))
            )
            for literal in self._by_literal
        }
        self._literals = re.compile(_trie(self._by_literal)) if self._by_literal else None

    def read(self, text: str) -> Reading:
        """``text`` with the patterns it cannot match set aside."""
        admitted: set[re.Pattern[str]] = set()
        pos = 0
        while self._literals and (m := self._literals.search(text, pos)):
            admitted |= self._admits[m.group()]
            pos = m.start() + 1  # a literal may start inside the one just found
        return Reading(text, self._anchored - admitted, admits_all=self._admits_all)


@dataclass(frozen=True)
class Reading:
    """A text and the patterns ruled out for it; any other pattern is run as usual."""

    text: str
    ruled_out: frozenset[re.Pattern[str]]
    admits_all: bool = True  # False: only what ruled_out does not hold is known to be run

    def rules_out(self, patterns: frozenset[re.Pattern[str]]) -> bool:
        """True when none of ``patterns`` can match: each is known and ruled out.

        One set comparison for a whole text of no anchor, the common case: a pattern in a set is
        looked up by a hash of its compiled code, several microseconds for each of ours."""
        return not self.admits_all and self.ruled_out >= patterns

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        return None if pattern in self.ruled_out else pattern.search(self.text)

    def finditer(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        return iter(()) if pattern in self.ruled_out else pattern.finditer(self.text)

    def search_any(self, patterns: frozenset[re.Pattern[str]]) -> bool:
        """Whether one of ``patterns`` matches; a set, so the ruled out go in one C-level step."""
        return any(pattern.search(self.text) for pattern in patterns - self.ruled_out)


def _trie(literals: Iterable[str]) -> str:
    """One regex for the literals that, at a position, matches the longest of them there."""
    root: dict[str, Any] = {}
    for literal in literals:
        node = root
        for ch in literal:
            node = node.setdefault(ch, {})
        node[""] = {}  # a literal ends here

    def emit(node: dict[str, Any]) -> str:
        # a longer literal before the one ending here: the longest matches
        options = [re.escape(ch) + emit(node[ch]) for ch in sorted(node) if ch]
        options += [""] if "" in node else []
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return emit(root)
