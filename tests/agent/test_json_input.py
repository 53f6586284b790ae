"""Untrusted JSON: the bounds on custom fields and the one clear error of every parser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.errors import InputError
from agent.json_input import MAX_DEPTH, MAX_ITEMS, bounded, load_json, nests_deeper


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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "body: not valid JSON: Expecting property name enclosed in double quotes"),
        (b'{"a": "caf\xe9"}', "body: not valid UTF-8 JSON: byte 0xe9 at position 10 is not UTF-8"),
        # Not guessed as UTF-16: that turned this into "Expecting value".
        ("{}".encode("utf-16"), "body: not valid UTF-8 JSON: byte 0xff at position 0"),
    ],
)
def test_bad_bodies_are_one_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_json(data, "body")
    assert str(caught.value).startswith(message)


def test_a_utf8_byte_order_mark_is_allowed() -> None:
    assert load_json(b'\xef\xbb\xbf{"a": 1}', "body") == {"a": 1}


def test_json_deeper_than_the_parser_goes_names_where() -> None:
    deep = "[" * 3_000 + "]" * 3_000
    # Brackets inside strings are text, not nesting.
    text = f'{{"note": "[[[{{", "custom_fields": {{"x": 1, "a": {{"b": {deep}}}}}}}'
    with pytest.raises(InputError) as caught:
        load_json(text.encode(), "api: body")
    assert str(caught.value) == "api: body: custom_fields.a.b: nested more than 16 levels deep"
    with pytest.raises(InputError) as caught:
        load_json(deep, "-")
    assert str(caught.value) == "-: nested more than 16 levels deep"
