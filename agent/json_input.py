"""JSON from outside the process: free-form fields kept bounded.

A ticket's ``custom_fields`` (and the fields a form or a helpdesk sends into them) may hold any
JSON, but no helpdesk nests its fields more than a few levels or sends thousands of them: past
MAX_DEPTH levels or MAX_ITEMS keys and items the payload is refused, so that storing, hashing and
checkpointing a ticket never meets a nesting limit of its own.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 16  # levels of nesting in custom_fields; the field's own object is the first
# Keys and list items in custom_fields, all levels together; an e-mail's To and Cc count too, and
# some mail services send to 2,000 recipients at once.
MAX_ITEMS = 5_000


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
