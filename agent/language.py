"""Language of a ticket where the source does not say, offline (py3langid ships its model).

The model (~4.5 MB in the wheel) loads once per process in ~0.5 s; a ~150-character text
classifies in ~0.03 ms. Short or ambiguous texts get no guess rather than a wrong one.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from agent.models import Ticket

MIN_CHARS = 20  # as counted by _weight: a character of a Latin or Cyrillic word counts one
MIN_CONFIDENCE = 0.5
# A character of these scripts says as much as a few letters of an alphabet: 'プリンター故障'
# (printer broken) is a whole ticket. Kana and Hangul name one language each; a Han character,
# shared by Chinese and Japanese, counts less ('会議室予約不可' in kanji alone reads as Chinese).
WIDE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_lock = threading.Lock()
_identifier: Any = None


def _get() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text, or None when too short or not confident enough."""
    sample = text.strip()[:2000]
    if _weight(sample) < MIN_CHARS:
        return None
    code, confidence = _get().classify(sample)
    return str(code) if float(confidence) >= MIN_CONFIDENCE else None


def _weight(sample: str) -> int:
    """The sample's length, a kana or Hangul character counted four times, a Han one twice."""
    if len(sample) >= MIN_CHARS:
        return len(sample)
    return len(sample) + 3 * len(WIDE.findall(sample)) + len(HAN.findall(sample))


def with_language(ticket: Ticket) -> Ticket:
    """The ticket with its text's language where it names none, as intake fills it in: a
    policy's language conditions read the ticket's language before its account's."""
    if ticket.language is not None:
        return ticket
    detected = detect_language(ticket.text)
    return ticket if detected is None else ticket.model_copy(update={"language": detected})
