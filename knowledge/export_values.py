"""An export's values as case fields: names (ids, labels, tags) from whatever JSON held, and text
that is no text."""

from __future__ import annotations

import json
import re
from typing import Any

# how a CSV cell, or a JSONL string, lists several tags
TAG_SPLIT = re.compile(r"[;,|]")


def lone_surrogate(record: Any) -> str | None:
    """A \\ud800-style escape JSON decodes to half a UTF-16 pair, which is no text: stored, it
    stopped the ingest at the embedding cache and the store. The first one, escaped, or None."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"\\u{ord(exc.object[exc.start]):04x}"
    return None


def tag_names(value: Any) -> list[str] | None:
    """``labels.tags`` as names: a list of strings or numbers (nulls and blanks left out), or one
    string split as a CSV cell is; None when absent. ValueError naming any other value."""
    if value is None:
        return None
    items = TAG_SPLIT.split(value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"labels.tags must be a list of names, got {json_kind(items)}")
    try:
        names = [json_name(item) for item in items]
    except ValueError as exc:
        raise ValueError(f"labels.tags must be a list of names, got {exc} in it") from None
    return [name.strip() for name in names if name and name.strip()]


def digits_as_text(value: Any) -> Any:
    """A whole number as its digits (a numeric user id); anything else as it is, for validation."""
    try:
        return json_name(value)
    except ValueError:
        return value


def json_name(value: Any) -> str | None:
    """A JSON name as text: a string, or a whole number's digits; None for null. ValueError
    naming the kind of any other value (true, 1.5, an object, a list), which names nothing."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a float column's 102.0 is ticket 102
    if isinstance(value, bool) or not isinstance(value, str | int | None):
        raise ValueError(json_kind(value))
    return None if value is None else str(value)


def json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)
