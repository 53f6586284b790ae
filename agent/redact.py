"""Replace personal data with stable placeholders before text leaves the process, and put it back.

Kinds: EMAIL (also written out: "anna at example dot com", "anna [at] example [dot] com"), PHONE,
CARD (Luhn-checked; grouped by spaces, dashes or dots), IBAN (mod-97 checked; grouped by spaces or
dashes), ACCOUNT (numbers after a label such as "account no", "Kundennummer", "número de
cliente"), IP (an IPv4 address: ``[IP_1]`` keeps the fact that one was there, a port or prefix
after it stays; four numbers after a version label, "version 1.5.0.1", are a version), NAME (a
person's: given by the ticket's fields, or after a greeting, a closing or "my name is"; see
``agent/redact_names.py``). The same
original value gets the same placeholder (``[EMAIL_1]``) everywhere a ``Redactor`` is used, so
subject, body and precedents of one prompt stay consistent. Dates, times, IP addresses, ticket and
order numbers, amounts and error codes (ORA-12154, 0x80070005) are not phone numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from pydantic import BaseModel, Field

from agent.redact_names import NameFinder

# Domains may be internationalised (müller.de); the top-level domain ends where ASCII letters
# do, so an address inside Japanese or Chinese text with no space around it is found too. A name's
# apostrophe belongs to the address ("sean.o'brien@example.ie"); a quote before it does not.
EMAIL = re.compile(
    r"(?<![\w.+-])(?<![\w.+-]')[\w.+-]+(?:'[\w.+-]+)*@(?:[^\W_]|-)+(?:\.(?:[^\W_]|-)+)*\.[A-Za-z]{2,24}(?![A-Za-z0-9_])"
)
# Written out to fool harvesters: "anna at example dot com", "anna [at] example [dot] com",
# "anna(at)example.com", "ana arroba ejemplo punto es". A bare " at " needs a spelled-out dot too
# ("log in at portal.example.com" is no address), then a common top-level domain ("the team at
# Acme dot Corp"), and no article as the domain ("at the dot com").
_AT = (
    r"(?P<at>[^\S\n]*[\[({<][^\S\n]*(?:at|@|ät)[^\S\n]*[\])}>][^\S\n]*"
    r"|[^\S\n]+(?:at|arroba|arobase|chiocciola)[^\S\n]+|[^\S\n]*@[^\S\n]+)"
)
_DOT = (
    r"(?:[^\S\n]*[\[({<][^\S\n]*(?:dot|punkt|punto|point|ponto|\.)[^\S\n]*[\])}>][^\S\n]*"
    r"|[^\S\n]+(?:dot|punkt|punto|point|ponto)[^\S\n]+|\.)"
)
_LABEL = r"(?!(?:the|a|an|this|that|our|my|your)\b)[^\W_](?:[\w-]{0,61}[^\W_])?"
OBFUSCATED_EMAIL = re.compile(
    r"(?i)(?<![\w.+-])(?<![\w.+-]')[\w.+-]{1,64}(?:'[\w.+-]{1,64})*"
    + _AT
    + rf"(?P<domain>(?:{_LABEL}{_DOT})+)(?P<tld>[a-z]{{2,24}})(?![\w-]|:\d|\.\w)"
)
SPELLED_DOT = re.compile(r"(?i)[\[({<]|[^\S\n](?:dot|punkt|punto|point|ponto)[^\S\n]")
# "dispatch @ jquery.min.js:3" in a browser's stack trace is a script, not an address.
SCRIPT_TLD = re.compile(r"(?i)js|mjs|ts|jsx|tsx|php|html?|css|json|xml|txt|log|exe|dll|java|ya?ml")
COMMON_TLD = re.compile(r"(?i)(?:[a-z]{2}|com|net|org|edu|gov|info|biz|app|dev|online)")

# Either case: an IBAN typed in lower case is as personal; the mod-97 check keeps words out.
# Grouped by spaces or by dashes ("DE89-3704-0044-0532-0130-00"), one or the other throughout.
IBAN = re.compile(
    r"(?i)\b[A-Z]{2}\d{2}(?:(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
    r"|(?:-[A-Z0-9]{4}){2,7}(?:-[A-Z0-9]{1,3})?)\b"
)
# Issuer prefixes of the card networks (Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay).
CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[0478]|35|36|6")
# Printed the way cards are: one block, groups of four, or Amex's 4-6-5.
CARD_SHAPE = re.compile(r"\d{13,19}|\d{4}([ .-])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5}")
IBAN_HEAD = re.compile(r"(?i)\b[A-Z]{2}\d{2} ?$")
IBAN_HEAD_CHARS = 5  # the longest IBAN_HEAD: two letters, two digits, a space
# Not inside a longer dotted number (a version, an OID): "1.4111.1111.1111.1111".
CARD = re.compile(r"(?<![\w-])(?<!\d\.)\d(?:[ .-]?\d){12,18}(?![\w-]|\.\d)")
OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|0?\d?\d)"
# Four octets, not part of a longer dotted number or a word; a port (":8080"), a prefix ("/24")
# or a sentence's full stop may follow.
IPV4 = re.compile(rf"(?<![\w.])(?<!\d\.){OCTET}(?:\.{OCTET}){{3}}(?![\w]|\.\d)")
# "versions 1.4.00 through 1.5.0.1", "build 10.0.19041.1": a version label shortly before, on
# the same line, makes four numbers a version.
VERSION_BEFORE = re.compile(
    r"(?i)\b(?:v|ver|version|versions|versión|release|build|firmware|fw|patch|kb)\b[^\n]{0,30}$"
)
VERSION_CHARS = 48  # the longest label and gap VERSION_BEFORE looks back over
ACCOUNT = re.compile(
    r"(?ix)\b(?:"
    r"(?:account|acct|acc|customer|client|member|contract|subscriber)\.?\s*"
    r"(?:no\.?|nr\.?|number|num\.?|id|\#)\s*[:#.]?"
    r"|(?:account|acct|customer|cuenta|conta|konto|compte)\s*[:#]"
    r"|acct\.?(?=\s*\d)|account(?=\s+\d)"
    r"|kunden-?(?:nummer|nr\.?)|konto-?(?:nummer|nr\.?)|vertrags-?(?:nummer|nr\.?)|kd\.?-?nr\.?"
    r"|n(?:ú|u)mero\s+de\s+(?:cliente|cuenta|contrato|socio|conta)"
    r"|n\.?\s?º\s+(?:d[eao]\s+)?(?:cliente|cuenta|conta)"
    r"|num(?:é|e)ro\s+(?:de\s+)?(?:client|compte|contrat|adh(?:é|e)rent)|n°\s*(?:de\s+)?(?:client|compte)"
    r"|n(?:ú|u)mero\s+d[ao]\s+(?:cliente|conta)"
    r")\s*[:#]?\s*(?:(?:is|was|ist|lautet|es|est|(?:é|e))\s*[:#]?\s+)?"  # "account number is 123"
    r"(?P<value>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{2,24})\b"
)
# A number glued to what precedes it is part of a version, time or path ("1.2.3+4567890",
# "12:30"), except one right after a word's colon or dot ("Tel:+49 30 1234567", "Tél.:+33 1 42 68
# 53 00", a signature's "tel:+1-415-555-0132" link or "m:412-558-3346", a web form's
# "telephone:0649737471"): whether that is a phone is then judged like any other candidate.
# Groups are set off by up to two of space, dot, dash and slash, or by a spaced slash or dash
# ("0221 / 123456", "030 - 1234567", "+49 (0) 9279 - 80 – 220").
PHONE = re.compile(
    r"(?:(?<![\w+\-/.:#])|(?<=[^\W\d_][:.])|(?<=[^\W\d_]\.:))"
    r"(?:\+|00)?\(?\d{1,4}\)?(?:(?: [/\-–] |[ .\-/]{0,2})\(?\d{1,5}\)?){1,6}"
    r"(?![\w\-/:]|\.\d)"
)
# A phone's label, with its own "number" noun ("Phone no.", "Tel.-Nr.", "Telefonnummer") and a verb
# ("my phone is", "mein Handy ist", "mi celular es", "mon portable est le", "meu celular é").
PHONE_LABEL = re.compile(
    r"(?i)(?:(?:phone|t[ée]l|telephone|mobile|cell|fax|whatsapp"
    r"|telefon|handy|mobil|rufnummer|tel[ée]fon[oe]|m[óo]vil|telem[óo]vel|celular"
    r"|t[ée]l[ée]phone|portable)(?:[\s.-]*(?:number|no\.?|nr\.?|nummer|num\.?|\#))?"
    r"|contact[\s.-]*(?:number|no\.?|\#)"
    r"|call\s+(?:me|us)?\s*(?:on|at)?|reach\s+(?:me|us)(?:\s+(?:on|at|under))?|llame"
    r"|appelez|joindre|ll[áa]m(?:ame|enme|e)(?:\s+al)?"
    r"|(?:my|mi|mein|meine|mon|meu|il\s+mio|мой)\s+(?:number|n[úu]mero|nummer|num[ée]ro|номер))"
    r"(?:\s+(?:is|es|ist|lautet|est|[ée]|è)(?:\s+(?:le|el|o))?)?\W{0,12}$"
)
DATE_LIKE = re.compile(r"^\d{1,4}([./-])\d{1,2}\1\d{1,4}$")
NANP = re.compile(r"^(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}$")
# A reference's number ("order 612 345 678", "my order number is ...", "número de pedido es ...").
NON_PHONE_PREFIX = re.compile(
    r"(?i)(?:#|\bno\.?|\bnr\.?|\b(?:ticket|incident|order|inc|ref|id|po|invoice|case|pedido|factura"
    r"|caso|incidencia|bestell\w*|auftrag\w*|rechnung\w*|commande|facture|ordine|fattura|encomenda"
    r"|fatura|заказ\w*|сч[её]т\w*)(?:\W+(?:number|no|nr|n[úu]mero|nummer|num[ée]ro|id|is|was|es|ist"
    r"|lautet|est|[ée]|è))*)\W{0,3}$"
)
# Unlabelled national numbers with no trunk 0, in the groupings they are written in: nine digits in
# Spain, Portugal, Poland, Czechia ("612 345 678", "612 34 56 78", "91 234 56 78"), Italy's mobiles
# ("347 1234567"), Russia's ("912 345-67-89", "8 (912) 345-67-89"), Brazil's with the area code in
# brackets ("(11) 98765-4321", "(21) 3456-7890").
NATIONAL = re.compile(
    r"[5-9]\d{2}([ -])\d{3}\1\d{3}"
    r"|[6-9]\d{2}( )\d{2}\2\d{2}\2\d{2}"
    r"|[89]\d( )\d{3}\3\d{2}\3\d{2}"
    r"|3\d{2}[ /-]\d{6,7}"
    r"|(?:8[ -]?)?\(?9\d{2}\)?[ -]\d{3}[ -]\d{2}[ -]\d{2}"
    r"|\([1-9]{2}\) ?(?:9 ?\d{4}|[2-5]\d{3})-\d{4}"
)
# ...but not an amount or a count written with spaces between the thousands ("612 345 678 EUR").
AMOUNT_BEFORE = re.compile(r"[$€£¥₽]\s?$")
AMOUNT_AFTER = re.compile(
    r"(?i)\s?(?:[,.]\d|[$€£¥₽%]|(?:eur|euros?|usd|gbp|chf|pln|czk|rub|руб\w*|dollars?|bytes?|[kmgt]i?b"
    r"|rows|records|users|filas|registros|usuarios|zeilen|lignes|righe|byte)\b)"
)

# Full-width forms (U+FF01-FF5E, typed in East Asian input modes) read as their ASCII letters,
# digits and '@': '０３０ １２３４ ５６７８' is a phone number. The spaces that word processors and
# French typography put between digit groups (no-break U+00A0, narrow no-break U+202F, thin
# U+2009, figure U+2007 and the other fixed-width ones) read as a space, and the hyphens that do
# not break a line (U+2010, U+2011, the figure dash U+2012) as '-': '4111 1111 1111 1111' with
# no-break spaces is a card number.
ASCII_READING = (
    {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
    | dict.fromkeys([0x00A0, 0x202F, *range(0x2000, 0x200B)], ord(" "))
    | dict.fromkeys(range(0x2010, 0x2013), ord("-"))
)


class Redaction(BaseModel):
    """Text with personal data replaced, and how to put it back."""

    text: str
    mapping: dict[str, str] = Field(default_factory=dict, description="placeholder -> original")
    counts: dict[str, int] = Field(default_factory=dict, description="kind -> values redacted")


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum of payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """True when the compact IBAN passes its ISO 13616 mod-97 check."""
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


class Redactor:
    """Redacts several texts with one shared placeholder numbering.

    ``names``: the people the ticket's fields name (``agent.redact_names.ticket_names``), found
    wherever they are written; ``keep``: texts whose words are never a name (its product);
    ``context``: the ticket's texts, where a word used as a thing ("the printer") is no name."""

    def __init__(
        self, names: Iterable[str] = (), keep: Iterable[str] = (), context: Iterable[str] = ()
    ) -> None:
        self._names = NameFinder(names, keep, context)
        self.mapping: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()
        self._distinct: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        """Text with each personal value replaced by its placeholder."""
        for kind, finder in _FINDERS:
            # Found in the ASCII reading (same length), cut from the text as written.
            text = self._replace(text, kind, finder(text.translate(ASCII_READING)))
        # Last: a name is looked for in text whose addresses are placeholders already.
        return self._replace(text, "NAME", self._names.spans(text.translate(ASCII_READING)))

    def result(self, text: str) -> Redaction:
        """Redact text and return it with this redactor's mapping and counts so far."""
        redacted = self.redact(text)
        return Redaction(text=redacted, mapping=dict(self.mapping), counts=dict(self.counts))

    def _replace(self, text: str, kind: str, spans: Iterator[tuple[int, int]]) -> str:
        out: list[str] = []
        last = 0
        for start, end in spans:
            value = text[start:end]
            key = (kind, value)
            if key not in self._by_value:
                self._distinct[kind] += 1  # counted, not recounted: a pasted list holds thousands
                placeholder = f"[{kind}_{self._distinct[kind]}]"
                self._by_value[key] = placeholder
                self.mapping[placeholder] = value
            self.counts[kind] += 1
            out.append(text[last:start])
            out.append(self._by_value[key])
            last = end
        out.append(text[last:])
        return "".join(out)


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in EMAIL.finditer(text):
        yield m.span()


def _obfuscated_emails(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    while m := OBFUSCATED_EMAIL.search(text, pos):
        at, tld = m.group("at").strip().lower(), m.group("tld")
        if at == "@" and SCRIPT_TLD.fullmatch(tld):
            ok = False
        elif at == "at":
            ok = bool(SPELLED_DOT.search(m.group("domain")) and COMMON_TLD.fullmatch(tld))
        else:
            ok = True
        if ok:
            yield m.span()
            pos = m.end()
        else:  # "the team at Acme dot Corp anna at ...": the next one may start at "Corp"
            pos = m.start("tld")


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in IBAN.finditer(text):
        # The greedy match may run into a following word; take the longest valid prefix.
        raw = m.group()
        for end in range(len(raw), 0, -1):
            if raw[end - 1] not in " -" and iban_ok(re.sub("[ -]", "", raw[:end])):
                yield m.start(), m.start() + end
                break


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        # Only the few characters before the digits can hold the head; searching from the start of
        # the text made a long run of numbers quadratic.
        if IBAN_HEAD.search(text, max(0, m.start() - IBAN_HEAD_CHARS), m.start()):
            continue  # the digits of an IBAN with a wrong checksum, not a card
        shaped = CARD_SHAPE.fullmatch(m.group())
        if shaped and 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn_ok(digits):
            yield m.span()


def _ips(text: str) -> Iterator[tuple[int, int]]:
    for m in IPV4.finditer(text):
        if not VERSION_BEFORE.search(text, max(0, m.start() - VERSION_CHARS), m.start()):
            yield m.span()


def _accounts(text: str) -> Iterator[tuple[int, int]]:
    for m in ACCOUNT.finditer(text):
        yield m.span("value")


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for m in PHONE.finditer(text):
        raw = m.group().rstrip(" .-/")
        end = m.start() + len(raw)
        if _is_phone(raw, text[max(0, m.start() - 30) : m.start()], text[end : end + 12]):
            yield m.start(), end


def _is_phone(raw: str, before: str, after: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15 or DATE_LIKE.match(raw) or re.search(r"\d:\d", raw):
        return False
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", raw):
        return False  # IPv4 address
    if PHONE_LABEL.search(before):
        return True  # before the reference check: "Phone no." and "Tel.-Nr." label a phone
    if NON_PHONE_PREFIX.search(before):
        return False  # a number labelled as a ticket/order reference
    if re.match(r"\+[1-9]|00[1-9]", raw):
        return True
    grouped = re.search(r"[ .\-/()]", raw) is not None
    if NATIONAL.fullmatch(raw):
        figures = re.fullmatch(r"\d*00(?:\D+\d*00)+", raw)  # "600 700 800": a list of round figures
        return not (figures or AMOUNT_BEFORE.search(before) or AMOUNT_AFTER.match(after))
    # Unlabelled: only the shapes phone numbers take (NANP, or a trunk 0 with digit groups).
    return bool(NANP.match(raw)) or (
        grouped and re.match(r"\(?0[1-9]", raw) is not None and len(digits) >= 9
    )


_FINDERS: list[tuple[str, Callable[[str], Iterator[tuple[int, int]]]]] = [
    ("EMAIL", _emails),
    ("EMAIL", _obfuscated_emails),
    ("IBAN", _ibans),
    ("CARD", _cards),
    ("ACCOUNT", _accounts),
    ("IP", _ips),
    ("PHONE", _phones),
]


def redact(text: str, names: Iterable[str] = (), keep: Iterable[str] = ()) -> Redaction:
    """Replace e-mails, phones, cards, IBANs, labelled account numbers, IPv4 addresses and
    people's names (those given, and those a greeting, a sign-off or an introduction holds) with
    placeholders."""
    return Redactor(names, keep).result(text)


def restore(text: str, mapping: dict[str, str]) -> str:
    """Put the original values back in place of their placeholders."""
    if not mapping:
        return text
    pattern = re.compile("|".join(re.escape(p) for p in sorted(mapping, key=len, reverse=True)))
    return pattern.sub(lambda m: mapping[m.group()], text)
