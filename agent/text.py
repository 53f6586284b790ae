"""Text helpers for policy matching: accent- and case-folding, and word-bounded phrase patterns.

Keywords are matched on *folded* text (casefold plus accents stripped), so "Fehler"/"FEHLER",
"contraseña"/"contrasena" and "système"/"systeme" are the same word. A phrase list compiles once
into one trie-shaped regular expression; matching a ticket is a single scan of its folded text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_SPACE = re.compile(r"\s+")
# Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) and
# Korean, whose particles join the noun ("서버가"): a word there has no word boundary to look for.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff\u3130-\u318f"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0002fa1f"
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
# A term is bounded by a character that is not a word character of a spaced script; a term's
# edge in an unspaced script needs no boundary ("障害" in "システム障害が", "VPN" in "VPNが").
_BEFORE = rf"(?:(?<![^\W{_UNSPACED}])|(?=[{_UNSPACED}]))"
_AFTER = rf"(?:(?![^\W{_UNSPACED}])|(?<=[{_UNSPACED}]))"
_Trie = dict[str, "_Trie"]

# Folded key -> the term as first written in the policy, per compiled pattern source.
_ORIGINALS: dict[str, dict[str, str]] = {}


# Typed apostrophes and hyphens: mail clients and word processors turn "can't" into "can’t" and
# some keyboards type "wi‑fi" with a non-breaking hyphen; a policy written with the plain ones
# must still match them (NFKD leaves all of these as they are).
_TYPOGRAPHIC = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4", "'"),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        "\u00ad": None,  # a soft hyphen is invisible: "pass\u00adword" is "password"
    }
)


# Marks that spell the word rather than accent it, kept when folding: Indic viramas and nuktas,
# Thai and Lao tone marks, Tibetan, Myanmar and Khmer signs, the kana voicing marks ("ล่ม", down,
# is not "ลม", wind; "バグ", bug, is not "ハク").
_SPELLING_MARK = re.compile(
    "[\u0900-\u0dff\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3099\u309a]"
)


def fold(text: str) -> str:
    """Casefold, strip accents (NFKD, combining marks dropped), plain apostrophes and hyphens."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_TYPOGRAPHIC))
    return "".join(
        ch for ch in decomposed if not unicodedata.combining(ch) or _SPELLING_MARK.match(ch)
    )


def term_key(term: str) -> str:
    """The folded, whitespace-collapsed form a term is matched and reported under."""
    return _SPACE.sub(" ", fold(term)).strip()


def compile_terms(terms: Iterable[str]) -> re.Pattern[str]:
    """One word-bounded pattern matching any of the terms in folded text (cached)."""
    return _compile(tuple(terms))


@lru_cache(maxsize=512)
def _compile(terms: tuple[str, ...]) -> re.Pattern[str]:
    originals: dict[str, str] = {}
    for term in terms:
        key = term_key(term)
        if key:
            originals.setdefault(key, term)
    if not originals:
        pattern = re.compile(r"(?!x)x")  # matches nothing
    else:
        # A lookahead at every position finds phrases that overlap or share a start
        # ("outage" inside "major outage"); _BEFORE/_AFTER bound words in spaced scripts,
        # also for terms that begin or end with punctuation ("c++", "sap/4").
        body = _trie_regex(sorted(originals))
        pattern = re.compile(rf"{_BEFORE}(?=({body}){_AFTER})")
    _ORIGINALS[pattern.pattern] = originals
    return pattern


def match_keys(pattern: re.Pattern[str], folded: str) -> set[str]:
    """The folded keys of every term of the pattern found in already-folded text."""
    found: set[str] = set()
    for m in pattern.finditer(folded):
        found.add(_SPACE.sub(" ", m.group(1)))
    if not found:
        return found
    # The trie takes the longest alternative at a start; shorter terms that are word-bounded
    # prefixes of a match ("sap" of "sap gui", "障害" of "障害対応") were also mentioned.
    known = _ORIGINALS.get(pattern.pattern, {})
    for key in list(found):
        for i in range(1, len(key)):
            if key[:i] in known and _bounded(key[i - 1], key[i]):
                found.add(key[:i])
    return found


def _bounded(last: str, following: str) -> bool:
    """Whether a term ending in ``last`` ends where ``following`` comes (as _AFTER decides)."""
    spaced_word = not _UNSPACED_CHAR.match(following) and (following.isalnum() or following == "_")
    return not spaced_word or bool(_UNSPACED_CHAR.match(last))


def find_terms(pattern: re.Pattern[str], text: str) -> list[str]:
    """The terms (as written in the policy) found in the text, in policy order, each once."""
    found = match_keys(pattern, fold(text))
    originals = _ORIGINALS.get(pattern.pattern, {})
    return [original for key, original in originals.items() if key in found]


def _trie_regex(keys: list[str]) -> str:
    """A regex alternation shaped like a trie, so the engine branches on one character at a time."""
    trie: _Trie = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _node_regex(trie)


def _node_regex(node: _Trie) -> str:
    ends = "" in node
    branches = []
    for ch in sorted(k for k in node if k):
        piece = r"\s+" if ch == " " else re.escape(ch)
        branches.append(piece + _node_regex(node[ch]))
    if not branches:
        return ""
    inner = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        # Longest first: try to continue, else stop here.
        return f"(?:{inner})?"
    return inner
