"""How ticket text is read before its injection cues are looked for.

``fold`` keeps the text's length, so a match's position is the same in the text as written and the
passage removed is the one written: it lower-cases Latin, Greek and Cyrillic letters, reads
full-width letters and digits as ASCII, and Cyrillic or Greek letters drawn like Latin ones as Latin
inside a word that has Latin letters too ("Ignоre" with a Cyrillic "о"). ``readings`` adds the
readings that are only asked whether they hold a cue: every look-alike read as Latin ("ignore аӏӏ
previous instructions", whose "аӏӏ" has no Latin letter), letters drawn in another style read as
the plain ones (Unicode's compatibility forms: "𝐢𝐠𝐧𝐨𝐫𝐞", "ⓘⓖⓝⓞⓡⓔ", "ｉｇｎｏｒｅ" with a full-width
"＜｜"), marks laid over a letter left out ("ign̶ore"), words hyphenated within or across a line
break joined ("in-structions", "instruc-⏎tions", "instruc- tions"), and words spaced out letter
by letter closed up ("i g n o r e   p r e v i o u s", "i.g.n.o.r.e"). ``unaccented`` reads the
text with every accent left out ("ignöre", "Ïgnore"): only English cues are looked for in it, as
in the other languages an accent can tell an order from a statement.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Lower-case one character to one character, so match positions stay valid in the original text.
_LOWER = {
    c: ord(chr(c).lower())
    for c in [*range(0x41, 0x250), *range(0x370, 0x530)]  # Latin, then Greek and Cyrillic
    if len(chr(c).lower()) == 1
}
# Typed in East Asian input modes, or to hide a word.
_FULLWIDTH = {
    c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_LOOKALIKE = str.maketrans(
    "АВЕКМНОРСТУХІЈЅаеорсухіјѕԁһӏԛԝΑΒΕΖΗΙΚΜΝΟΡΤΥΧοαικνρυχ",
    "ABEKMHOPCTYXIJSaeopcyxijsdhlqwABEZHIKMNOPTYXoaikvpux",
)
# The same after lower-casing: a lowered capital (В, Н, Η) reads as the Latin capital it mimics;
# then the dotless i and the small capitals ("ɪɢɴᴏʀᴇ"), which no compatibility form maps.
_LOOKALIKE_LOWER = str.maketrans(
    "аеорсухіјѕԁһӏԛԝвкмнтοαικνρυχβεζημτıɪᴀʙᴄᴅᴇꜰɢʜᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ",
    "aeopcyxijsdhlqwbkmhtoaikvpuxbezhmtiiabcdefghjklmnoprstuvwyz",
)
LOOKALIKE_LETTER = re.compile("[" + "".join(map(chr, _LOOKALIKE)) + "]")
LOOKALIKE_LOWER = re.compile("[" + "".join(map(chr, _LOOKALIKE_LOWER)) + "]")
WORD_LETTERS = re.compile(r"[^\W\d_]+")
# Five or more single letters in a row, one space (up to three) or one of . - _ * · apart.
SPACED = re.compile(r"(?<![^\W_])[^\W\d_](?:(?:[^\S\n]{1,3}|[.\-_*·])[^\W\d_]){4,}(?![^\W_])")
COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# A hyphen (or soft hyphen) between letters, with blank space or one line break after it: a word
# hyphenated where it was wrapped, or one split to hide it ("in-structions"). Joining ordinary
# compounds ("e-mail", "follow-up") only makes words no cue is written with.
# The hyphen first, then the letter before it: a pattern that starts with a look-behind is tried
# at every position, ten times slower on a text with no hyphen.
HYPHENATION = re.compile(r"[-\u00ad\u2010\u2011](?<=[^\W\d_].)[^\S\n]*(?:\n[^\S\n]*)?(?=[^\W\d_])")
# Lower-case Latin letters with an accent, as the plain letter (one character each: "ö" is "o"),
# and those with a stroke, which no decomposition takes apart.
_PLAIN = {
    c: ord(plain[0])
    for c in range(0xDF, 0x250)
    if len(plain := unicodedata.normalize("NFKD", chr(c))) > 1
    and plain[0].isascii()
    and all(unicodedata.combining(mark) for mark in plain[1:])
} | str.maketrans("øłđħŧƀɨʉ", "oldhtbiu")
LETTER_GAP = re.compile(r"(?<=\S) (?=\S)")  # a wider gap stays a word break
PUNCT_GAP = re.compile(r"(?<=[^\W\d_])[.\-_*·](?=[^\W\d_])")  # then a space is the word break


def lower(text: str) -> str:
    """Lower-case Latin, Greek and Cyrillic letters without changing the text's length."""
    return text.translate(_LOWER)


def fold(text: str) -> str:
    """``lower`` after reading full-width and mixed-word look-alikes as Latin; same length."""
    text = text.translate(_FULLWIDTH)
    if LOOKALIKE_LETTER.search(text):
        text = WORD_LETTERS.sub(_latin_if_mixed, text)
    return lower(text)


def readings(folded: str) -> Iterator[str]:
    """The folded text, then where they differ: compatibility forms as plain letters, all
    look-alikes as Latin, spaced words closed up."""
    yield folded
    if not folded.isascii():
        # NFKC composes an accent with its letter first ("ignore" + U+0301 is "ignoré" still):
        # only a mark no letter takes is left out.
        plain = COMBINING.sub("", lower(unicodedata.normalize("NFKC", folded)))
        if plain != folded:
            folded = plain
            yield folded
    if LOOKALIKE_LOWER.search(folded):
        folded = folded.translate(_LOOKALIKE_LOWER)
        yield folded
    if HYPHENATION.search(folded):
        folded = HYPHENATION.sub("", folded)
        yield folded
    if SPACED.search(folded):  # rare in any text
        yield SPACED.sub(_close_up, folded)


@lru_cache(maxsize=8)  # a scan asks for it twice: cues, then role lines
def unaccented(folded: str) -> str:
    """The folded text with every accent and stroke left out ("ignöre" reads "ignore")."""
    if folded.isascii():
        return folded
    return COMBINING.sub("", folded.translate(_PLAIN))


def _latin_if_mixed(word: re.Match[str]) -> str:
    letters = word.group()
    if LOOKALIKE_LETTER.search(letters) and re.search("[A-Za-z]", letters):
        return letters.translate(_LOOKALIKE)
    return letters


def _close_up(run: re.Match[str]) -> str:
    letters = run.group()
    if PUNCT_GAP.search(letters):
        return PUNCT_GAP.sub("", letters)
    return LETTER_GAP.sub("", letters)
