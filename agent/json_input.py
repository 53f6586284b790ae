"""JSON from outside the process: parsed with one clear error, free-form fields kept bounded.

A ticket's ``custom_fields`` (and the fields a form or a helpdesk sends into them) may hold any
JSON, but no helpdesk nests its fields more than a few levels or sends thousands of them: past
MAX_DEPTH levels or MAX_ITEMS keys and items the payload is refused, so that storing, hashing and
checkpointing a ticket never meets a nesting limit of its own. JSON nested deeper than the parser
itself can go (about a thousand levels) is refused the same way, naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.errors import InputError

MAX_DEPTH = 16  # levels of nesting in custom_fields; the field's own object is the first
# Keys and list items in custom_fields, all levels together; an e-mail's To and Cc count too, and
# some mail services send to 2,000 recipients at once.
MAX_ITEMS = 5_000
# A document the parser gave up on is far deeper than any valid payload; the first place it
# passes this many levels is where it went wrong.
_SCAN_DEPTH = 2 * MAX_DEPTH
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def bounded(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as they are, or ValueError if they nest past MAX_DEPTH or hold over MAX_ITEMS."""
    items = 0
    # (container, its level, the top-level key it sits under); a stack, not recursion.
    stack: list[tuple[Any, int, str]] = [(fields, 1, "")]
    while stack:
        node, level, top = stack.pop()
        if level > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep under {top!r}")
        items += len(node)
        if items > MAX_ITEMS:
            raise ValueError(f"more than {MAX_ITEMS:,} keys and items")
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in pairs:
            if isinstance(value, dict | list):
                stack.append((value, level + 1, top or str(key)))
    return fields


def nests_deeper(value: Any, levels: int) -> bool:
    """Whether ``value`` has containers more than ``levels`` deep (a list or object is one)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            if level == levels:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return False


def load_json(data: bytes | str, where: str) -> Any:
    """Parse untrusted JSON; InputError starting with ``where`` if it is not UTF-8 JSON."""
    try:
        # Strictly UTF-8 (RFC 8259), not guessed: UTF-16 junk would only say "Expecting value".
        return json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except json.JSONDecodeError as exc:
        place = f"line {exc.lineno}, column {exc.colno}"
        raise InputError(f"{where}: not valid JSON: {exc.msg} ({place})") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise body_error(exc, data, where) from None


def body_error(
    exc: UnicodeDecodeError | RecursionError, data: bytes | str, where: str
) -> InputError:
    """The InputError for a body the JSON parser could not decode or nest that deep."""
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1].hex()
        return InputError(
            f"{where}: not valid UTF-8 JSON: byte 0x{byte} at position {exc.start} is not UTF-8"
        )
    path = _deep_path(data)
    return InputError(
        f"{where}: {path + ': ' if path else ''}nested more than {MAX_DEPTH} levels deep"
    )


def _deep_path(data: bytes | str) -> str:
    """The object keys (at most three) down to where ``data`` first passes _SCAN_DEPTH levels."""
    text = data if isinstance(data, str) else data.decode(json.detect_encoding(data), "replace")
    keys: list[str | None] = []  # per open container, the key it is the value of
    key: str | None = None
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            keys.append(key)
            key = None
            if len(keys) > _SCAN_DEPTH:
                break
        elif token in ("]", "}"):
            if keys:
                keys.pop()
            key = None
        elif token == ",":
            key = None
        else:
            key = token[1:-1]  # a string: the key of the next container if one opens now
    return ".".join([k for k in keys if k is not None][:3])
