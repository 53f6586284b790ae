"""Untrusted JSON: the bounds on custom fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.json_input import MAX_DEPTH, MAX_ITEMS, bounded, nests_deeper


def _list(levels: int) -> Any:
    return json.loads("[" * levels + "]" * levels)


def test_custom_fields_up_to_the_limits_pass_as_they_are() -> None:
    deepest = {"a": _list(MAX_DEPTH - 1)}  # the fields' own object is the first level
    assert bounded(deepest) is deepest
    fullest = {f"f{i}": [i] for i in range(MAX_ITEMS // 2)}
    assert bounded(fullest) is fullest


def test_one_level_or_one_item_more_names_the_limit() -> None:
    with pytest.raises(ValueError, match=r"^nested more than 16 levels deep under 'b'$"):
        bounded({"a": 1, "b": {"c": _list(MAX_DEPTH - 1)}})
    with pytest.raises(ValueError, match=r"^more than 5,000 keys and items$"):
        bounded({f"f{i}": [i] for i in range(MAX_ITEMS // 2 + 1)})


def test_a_cycle_is_refused_instead_of_walked_forever() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="nested more than 16 levels deep under 'self'"):
        bounded(looped)


def test_nests_deeper_counts_every_list_and_object() -> None:
    assert not nests_deeper({"a": [1, {"b": 2}]}, 3)
    assert nests_deeper({"a": [1, {"b": []}]}, 3)
    assert not nests_deeper("text", 0)
