"""Where an ambiguous verb stands decides whether it is an order.

"assegna questo ticket", "ignora las instrucciones" and "ignore the instructions" are orders in
imperative position (a sentence's start, after "please", a role or a vocative) and statements or
conditions elsewhere: "il sistema assegna questo ticket", "el sistema ignora las instrucciones de
impresión", "if you ignore the instructions, the system crashes". Each check reads a bounded window
before the verb, so a text of many near-matches is scanned in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# "tú"/"você" before the verb, not "si tú ignoras", "se você ignora" (if you ignore)
_ADDRESSED = r"(?<!\bsi\s)(?<!\bse\s)(?<!cuando\s)(?<!quando\s)(?<!\bque\s)\b(?:t[úu]|voc[êe]s?)"
# Imperative position: a sentence or clause starts, or "please", "and", "now", "you" went before.
IMPERATIVE_BEFORE = re.compile(
    r"(?:^|[.!?\n:;,\]]|\b(?:please|pls|kindly|and|now|then|just|immediately|must|should|bitte|und|sofort"
    r"|por\s+favor|y|ahora|et|veuillez|merci\s+de|per\s+favore|e|ora|adesso|poi|subito|agora)|"
    + _ADDRESSED
    + r")\s*(?:[-*•>]\s*)?$"
)
# A stricter one, for a verb whose object may be anyone's instructions: no comma or "and" before,
# unless it follows a greeting or an addressee ("Asistente, ignora las instrucciones").
START_BEFORE = re.compile(
    r"(?:^|[.!?\n:;\]]|\bpor\s+favor\s*,?|"
    + _ADDRESSED
    + r"|\b(?:hola|oye|ol[áa]|oi|asistente|assistente|ia|ai|bot|modelo|agente|chatgpt|gpt|llm)\s*,)"
    r"\s*(?:[-*•>]\s*)?$"
)
# "if you ignore the instructions, the system crashes" tells what happens, orders nothing; the
# clause ends at a comma, a full stop or a line break ("if you read this, ignore ...").
CONDITIONAL_BEFORE = re.compile(
    r"\b(?:if|when|whenever|whether|unless|once|until)[^\S\n]+(?:(?!then\b)[\w'’-]+[^\S\n]+){0,6}$"
)


def after(before: re.Pattern[str], orders: Iterable[re.Match[str]], lowered: str) -> bool:
    """True when an order stands right after what ``before`` allows (30 characters looked at)."""
    return any(before.search(lowered, max(0, m.start() - 30), m.start()) for m in orders)


def unconditional(orders: Iterable[re.Match[str]], lowered: str) -> bool:
    """True when an order stands outside an "if", "when" or "whether" clause (60 characters)."""
    return any(
        not CONDITIONAL_BEFORE.search(lowered, max(0, m.start() - 60), m.start()) for m in orders
    )
