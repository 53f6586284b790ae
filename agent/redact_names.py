"""People's names in ticket text, found where they are known or where their place says so.

Without a model a word is taken for a name only when
- the ticket's fields give it: the requester ("Anna Schmidt", "anna.schmidt@example.com" or both),
  the authors of the thread's messages, a form's name field. The whole name is found in any case
  ("ANNA SCHMIDT", "anna.schmidt" in a path), an address's local part as a word ("user aschmidt
  cannot log in"), each part alone only capitalised ("Anna", "Schmidt"), and a part that is also a
  common word ("Mark", "Will", "Price") only within the whole name or in the places below;
- it stands where names stand: after a greeting that starts a line ("Hi Anna,", "Dear Mr. Smith",
  "Hallo Herr Müller"), after a closing on its line or on the next ("Thanks, Anna",
  "Regards,\\nJohn Smith | IT"), after "my name is" ("Je m'appelle Marie Dubois."). There it is one
  to three capitalised words; after a title (Mr, Frau, Mme...) any word;
- it follows a title within a line ("please call Herr Keller", "Mr. John Smith said"): the first
  word in any case, then capitalised ones.
Words of a team or service ("Dear Support Team", "Hi IT,", "Sehr geehrtes Kundenservice-Team"), a
few words that follow a greeting without naming anyone ("Hi all", "Dear Sir"), and the words of the
ticket's product and account are never a name. A text with no capital letter at all (some desks
lower-case everything) says nothing by case: there the capital is not asked for.
A word the ticket uses as a thing ("im Keller", "einen Stein", "the printer", "the dac team") is
no name alone: not as a one-word name of the fields ("keller@", a requester "printer"), not as a
part ("Stein" of "Eva Stein"), not after a greeting or closing in a text of no capitals ("hi
ctoc," beside "the ctoc has received"); the whole name and a word after a title still are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from agent.models import Ticket
from agent.redact_name_words import (
    CLOSING_WORDS,
    COMMON_WORDS,
    NOT_NAMES,
    WORD,
    closing_end,
    is_role,
    things,
)

ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
PLACEHOLDER = re.compile(r"\[[A-Z]+_\d+\]")
# The form fields that hold a person's name (the web form's "name", the usual others).
NAME_FIELDS = ("name", "full_name", "requester_name", "contact_name", "customer_name")

_GREETING = re.compile(
    r"(?im)^[^\S\n]*(?:hi|hello|hey|dear|good[^\S\n]+(?:morning|afternoon|evening|day)|greetings"
    r"|hallo|moin|servus|liebe[rs]?|sehr[^\S\n]+geehrte[rs]?|guten[^\S\n]+(?:morgen|tag|abend)"
    r"|hola|estimad[oa]s?|querid[oa]s?|buen[oa]s[^\S\n]+(?:d[ií]as|tardes|noches)|bonjour|bonsoir"
    r"|salut|ch[eè]re?s?|ol[áa]|oi|prezad[oa]s?|car[oa]|ciao|salve|buongiorno|buonasera"
    r"|gentile|gentilissim[oa]|egregi[oa])[^\S\n]*,?[^\S\n]+"
)
_TITLE = re.compile(
    r"(?i)(?:mr|mrs|ms|miss|mx|dr|prof|herr|frau|sr|sra|srta|señor|señora|señorita|don|doña|mme"
    r"|mlle|monsieur|madame|sig|sig\.ra|signor|signora|dott|ing)\.?[^\S\n]+"
)
# A title within a line ("please call Herr Keller"): "Ms", "Dr" and "Prof" only so written, for
# "ms teams", "500 ms" and "the dr site" name nobody.
_MID_TITLE = re.compile(
    r"(?<![\w.])(?:(?i:mr|mrs|herr|frau|monsieur|madame|mme|señor|señora|sra|signor|signora)"
    r"|Ms|Mx|Dr|Prof)\.?[^\S\n]+"
)
_PUNCTUATION = re.compile(r"[^\S\n]*(?:$|[,!:;.()])", re.M)
_INTRODUCTION = re.compile(
    r"(?i)\b(?:my[^\S\n]+name[^\S\n]+is|mein[^\S\n]+name[^\S\n]+ist|ich[^\S\n]+hei(?:ß|ss)e"
    r"|me[^\S\n]+llamo|mi[^\S\n]+nombre[^\S\n]+es|je[^\S\n]+m['’]appelle|mon[^\S\n]+nom[^\S\n]+est"
    r"|meu[^\S\n]+nome[^\S\n]+[ée]|me[^\S\n]+chamo|mi[^\S\n]+chiamo"
    r"|il[^\S\n]+mio[^\S\n]+nome[^\S\n]+[èe])[^\S\n]+"
)
# After a greeting's or an introduction's name: the line's end, a punctuation mark, or "and ...".
_AFTER_NAME = re.compile(r"[^\S\n]*(?:$|[,!:;.]|[^\S\n]+(?:and|&|und|y|et|e|from|von|de)\b)", re.M)
# After the name on the line under a closing: the line's end or what sets a job title or a
# company apart ("John Smith | IT", "Anna Schmidt - ACME"); "Windows Update failed" is no name.
_AFTER_NAME_LINE = re.compile(r"[^\S\n]*(?:$|[,|/(–—:;-])", re.M)
_LINE = re.compile(r"[^\n]+")
_CLOSING_SAME_LINE = re.compile(r"[^\S\n]*[,!\-–—:][^\S\n]*")
_INITIAL = re.compile(r"[A-Z]\.[^\S\n]*")
MAX_NAME_WORDS = 3


def ticket_names(ticket: Ticket) -> list[str]:
    """The people a ticket's fields name: requester, message authors, a form's name field."""
    found = [ticket.requester, *(m.author for m in ticket.messages)]
    found += [ticket.custom_fields.get(key) for key in NAME_FIELDS]
    return [name for name in found if isinstance(name, str) and name.strip()]


def ticket_words(ticket: Ticket) -> list[str]:
    """Words of the ticket's product and account name: never a person's name."""
    return [x for x in (ticket.product, ticket.account.name, ticket.account.tier) if x]


class NameFinder:
    """Finds the spans of people's names in a text: the names given, and names in known places."""

    def __init__(
        self, names: Iterable[str] = (), keep: Iterable[str] = (), context: Iterable[str] = ()
    ) -> None:
        self.keep = frozenset(w.lower() for text in keep for w in WORD.findall(text))
        # The ticket's texts: a word one of them uses as a thing is no name alone in any.
        self._context = tuple(context)
        self._context_things: frozenset[str] | None = None  # found when first asked: seldom
        wholes: set[str] = set()  # token sequences found in any case
        parts: set[str] = set()  # single tokens, found capitalised
        for name in names:
            for whole, tokens in _known(name):
                if len(tokens) > 1 or len(whole) >= 3:
                    wholes.add(whole)
                parts.update(t for t in tokens if self._may_be_alone(t))
        self._wholes = _alternation(sorted(wholes, key=len, reverse=True))
        self._parts = _alternation(sorted(parts, key=len, reverse=True))

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Non-overlapping (start, end) spans of names in text, in order."""
        caseless = _caseless(text)
        known: list[frozenset[str]] = []

        def thing() -> frozenset[str]:
            """The words this text and the context use as things, found once, when asked."""
            if not known:
                known.append(self._things_in_context() | things(text, caseless))
            return known[0]

        found: list[tuple[int, int]] = []
        if self._wholes is not None:
            # a one-word name ("keller@", "printer") is no name where the text uses it as a thing
            found += [
                m.span()
                for m in self._wholes.finditer(text)
                if re.search(r"[\s._-]", m.group()) or m.group().lower() not in thing()
            ]
        if self._parts is not None:
            found += [
                m.span()
                for m in self._parts.finditer(text)
                if (caseless or (m.group()[0].isupper() and not m.group()[1:].isupper()))
                and m.group().lower() not in thing()
            ]
        found += self._placed(text, caseless, thing)
        found = [span for span in found if not _in_placeholder(text, *span)]
        return iter(_disjoint(found))

    def _may_be_alone(self, token: str) -> bool:
        lowered = token.lower()
        return (
            len(token) >= 3
            and lowered not in COMMON_WORDS
            and lowered not in NOT_NAMES
            and lowered not in self.keep
            and not is_role(token)
        )

    def _things_in_context(self) -> frozenset[str]:
        if self._context_things is None:
            found = (things(text, _caseless(text)) for text in self._context)
            self._context_things = frozenset().union(*found)
        return self._context_things

    def _placed(
        self, text: str, caseless: bool, thing: Callable[[], frozenset[str]]
    ) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for m in _GREETING.finditer(text):
            spans += self._name_at(text, m.end(), caseless, thing, _AFTER_NAME)
        for m in _MID_TITLE.finditer(text):
            spans += self._titled(text, m.end(), caseless)
        for m in _INTRODUCTION.finditer(text):
            # "My name is John Smith I work in ..." ends where the capitals do; in a text of no
            # capitals, only where punctuation or "and" says.
            after = _AFTER_NAME if caseless else None
            spans += self._name_at(text, m.end(), caseless, thing, after, titles=False)
        lines = [line for line in _LINE.finditer(text) if not line.group().isspace()]
        for line, following in zip(lines, [*lines[1:], None], strict=False):
            end = closing_end(line.group())
            if end is None:
                continue
            if not line.group()[end:].strip(" ,!.:"):  # the closing is the whole line
                if following is not None:
                    indent = len(following.group()) - len(following.group().lstrip())
                    spans += self._name_at(
                        text, following.start() + indent, caseless, thing, _AFTER_NAME_LINE
                    )
            elif same := _CLOSING_SAME_LINE.match(text, line.start() + end, line.end()):
                spans += self._name_at(text, same.end(), caseless, thing, _AFTER_NAME, titles=False)
        return spans

    def _name_at(
        self,
        text: str,
        pos: int,
        caseless: bool,
        thing: Callable[[], frozenset[str]],
        after: re.Pattern[str] | None,
        titles: bool = True,
    ) -> list[tuple[int, int]]:
        """The name that starts at pos (after a title: Mr, Frau...): up to three name words,
        initials between them, and then what ``after`` asks for (anything when None). In a text
        of no capitals one word the text also uses as a thing ("hi ctoc," ... "the ctoc has") is
        none; after a title any word is."""
        title = _TITLE.match(text, pos) if titles else None
        any_case = caseless or title is not None
        start = end = pos = title.end() if title else pos
        words = 0
        while words < MAX_NAME_WORDS:
            initial = _INITIAL.match(text, pos) if words else None
            m = WORD.match(text, initial.end() if initial else pos)
            if m is None or not self._is_name_word(m.group(), any_case):
                break
            end, words = m.end(), words + 1
            gap = re.match(r"[^\S\n]+", text[end : end + 4])
            if gap is None:
                break
            pos = end + gap.end()
        if not words or (after is not None and not after.match(text, end)):
            return []
        if caseless and title is None and words == 1 and text[start:end].lower() in thing():
            return []
        return [(start, end)]

    def _titled(self, text: str, pos: int, caseless: bool) -> list[tuple[int, int]]:
        """The name after a title within a line: its first word whatever its case, up to two
        more capitalised ones ("Herr Keller hat", "Mr. John Smith said"); with no capitals in
        the text, more words only up to punctuation ("herr anna stein, ..."), else the first."""
        while title := _TITLE.match(text, pos):  # "Frau Dr. Stein"
            pos = title.end()
        start, ends = pos, list[int]()
        while len(ends) < MAX_NAME_WORDS:
            initial = _INITIAL.match(text, pos) if ends else None
            m = WORD.match(text, initial.end() if initial else pos)
            if m is None or not self._is_name_word(m.group(), caseless or not ends):
                break
            ends.append(m.end())
            gap = re.match(r"[^\S\n]+", text[m.end() : m.end() + 4])
            if gap is None:
                break
            pos = m.end() + gap.end()
        if not ends:
            return []
        end = ends[0] if caseless and not _PUNCTUATION.match(text, ends[-1]) else ends[-1]
        return [(start, end)]

    def _is_name_word(self, word: str, any_case: bool) -> bool:
        lowered = word.lower()
        if len(word) < 2 or word.lower() == word.upper():  # a script without case: CJK
            return False
        if lowered in NOT_NAMES or lowered in CLOSING_WORDS:
            return False  # "Obrigado.\nAtenciosamente," is two closings
        if lowered in self.keep or is_role(word):
            return False
        return any_case or (word[0].isupper() and not word[1:].isupper())


def _known(name: str) -> Iterator[tuple[str, list[str]]]:
    """A field's name as (whole, tokens) pairs: its display name, each address's local part.
    A team's or a function's name or address ("IT Support", "helpdesk@") gives none."""
    for address in ADDRESS.findall(name):
        local = address.split("@")[0].split("+")[0]
        tokens = [t for t in re.split(r"[._'-]+", re.sub(r"\d+", "", local)) if len(t) >= 2]
        if tokens and not any(is_role(t) for t in tokens):
            yield local, tokens
    display = ADDRESS.sub(" ", name)
    tokens = WORD.findall(display)
    if tokens and not any(is_role(t) or t.lower() in NOT_NAMES for t in tokens):
        yield " ".join(tokens), tokens


def _alternation(values: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for the values as words; their parts apart by any of
    space, dot, underscore or dash ("anna.schmidt", "Anna Schmidt")."""
    if not values:
        return None
    options = [
        r"[\s._-]+".join(re.escape(part) for part in re.split(r"[\s._-]+", v)) for v in values
    ]
    return re.compile(r"(?i)(?<![\w.@-])(?:" + "|".join(options) + r")(?![\w@]|[.-]\w)")


def _caseless(text: str) -> bool:
    """True for a text of no capital letter (placeholders aside): case says nothing there."""
    plain = PLACEHOLDER.sub("", text)
    return plain == plain.lower()


def _in_placeholder(text: str, start: int, end: int) -> bool:
    return text[start - 1 : start] == "[" and text[end : end + 1] == "_"


def _disjoint(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans, a span overlapping one kept before it merged into it."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
