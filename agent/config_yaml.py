"""YAML for files people edit by hand: a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys and drops the first without a word, so a second
``rules:`` pasted at the end of a policy would replace every rule above it. The error names the
line of the repeat and of the first one; ``<<: *anchor`` merges may still be overridden, as YAML
intends.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError

_MERGE = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated within one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base constructor reports an unhashable key
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"{key!r} given again (first on line {seen[key]}); one of them would be "
                    "silently dropped",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config(text: str) -> Any:
    """Parse YAML safely; a repeated key raises yaml.YAMLError with its position."""
    # a SafeLoader subclass: plain data only, never arbitrary Python objects
    return yaml.load(text, Loader=_UniqueKeyLoader)
