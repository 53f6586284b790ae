"""Language of a ticket where the source does not say, offline (py3langid ships its model).

The model (~4.5 MB in the wheel) loads once per process in ~0.5 s; a ~150-character text
classifies in ~0.03 ms. Short or ambiguous texts get no guess rather than a wrong one.
"""

from __future__ import annotations

import threading
from typing import Any

MIN_CHARS = 20
MIN_CONFIDENCE = 0.5

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
    if len(sample) < MIN_CHARS:
        return None
    code, confidence = _get().classify(sample)
    return str(code) if float(confidence) >= MIN_CONFIDENCE else None
