"""YAML for files people edit by hand: a key given twice in one mapping is an error, and 9:00 is
the text '9:00', not YAML 1.1's base-60 number 540.

PyYAML keeps the last of two equal keys and drops the first without a word, so a second
``rules:`` pasted at the end of a policy would replace every rule above it. The error names the
line of the repeat and of the first one; ``<<: *anchor`` merges may still be overridden, as YAML
intends.

``read_config`` is how every file a support lead edits is read (intake profiles, accounts, scenario
suites): an unreadable or invalid file is one line naming the file and the line in it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from agent.errors import InputError

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

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # 2026-02-30 has a date's shape but no day: the library's ValueError carries no position
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise ConstructorError(
                None, None, f"{node.value!r} is not a date ({exc})", node.start_mark
            ) from None


_UniqueKeyLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_yaml_timestamp
)


# YAML 1.1 reads 9:00 as the base-60 number 540 (and 1:30.5 as 90.5); in a file of working
# hours a person means the time. Such scalars stay text, as in YAML 1.2, and the schema reads them.
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
for _first in "+-0123456789":
    _UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:str", _SEXAGESIMAL, [_first])
    # checked before the number resolvers, which were registered first
    _resolvers = _UniqueKeyLoader.yaml_implicit_resolvers[_first]
    _resolvers.insert(0, _resolvers.pop())


def load_config(text: str) -> Any:
    """Parse YAML safely; a repeated key raises yaml.YAMLError with its position."""
    # a SafeLoader subclass: plain data only, never arbitrary Python objects
    return yaml.load(text, Loader=_UniqueKeyLoader)


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """The line (from 1) where a path into the YAML text is written, e.g. ('rules', 2, 'match'):
    the deepest key or list item of the path found there; None when even the first is not."""
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next((kv for kv in node.value if _names(kv[0], part)), None)
            if entry is None:
                break
            key, node = entry
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _names(key: yaml.Node, part: str | int) -> bool:
    return isinstance(key, yaml.ScalarNode) and key.value == str(part)


def yaml_problem(exc: yaml.YAMLError | RecursionError) -> str:
    """Where and what, on one line (PyYAML's own text adds lines quoting the file)."""
    if isinstance(exc, RecursionError):
        return "not valid YAML: nested deeper than the parser goes"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        return f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {what}"
    return f"not valid YAML: {str(exc).splitlines()[0]}"


def read_text(path: Path, what: str, error: type[InputError] = InputError) -> str:
    """A file's text; one that cannot be read or is not UTF-8 raises ``error``, one line naming
    the file (and the line of the first byte that is not UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: cannot read {what}: not UTF-8 text") from None


def read_config(path: Path, what: str) -> Any:
    """Read and parse a YAML file; any failure is an InputError naming the file, on one line."""
    text = read_text(path, what)
    try:
        return load_config(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise InputError(f"{path}: {yaml_problem(exc)}") from None
