"""Prompt templates as files: ``prompts/<name>.v<version>.md``, loaded by name, rendered strictly.

A file starts with YAML front matter that declares its variables::

    ---
    name: classify
    version: 1
    description: Pick team, priority and escalation for one ticket.
    variables: [teams, ticket]
    ---
    [system]
    ... {{ teams }} ...
    [user]
    ... {{ ticket }} ...

``[system]`` / ``[user]`` lines start the messages. Loading fails when the template uses a
variable it does not declare or declares one it never uses; rendering fails on a missing or extra
value. Values are inserted in one pass, so a ``{{ x }}`` inside a ticket is never expanded.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.errors import PromptError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
ROLE_MARKER = re.compile(r"^\[(system|user|assistant)\][^\S\n]*$", re.M)
FRONT_MATTER = re.compile(r"\A---\n(?P<meta>.*?)\n---\n(?P<body>.*)\Z", re.S)

Role = Literal["system", "user", "assistant"]


class PromptMessage(BaseModel):
    """One chat message of a prompt (a template before rendering, text after)."""

    role: Role
    content: str


class PromptTemplate(BaseModel):
    """A versioned prompt with its declared variables."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(ge=1)
    description: str = ""
    variables: list[str]
    messages: list[PromptMessage] = Field(min_length=1)

    @property
    def ref(self) -> str:
        return f"{self.name}.v{self.version}"

    def render(self, **values: str) -> list[PromptMessage]:
        """The messages with every variable filled in; missing or extra values raise PromptError."""
        missing = sorted(set(self.variables) - set(values))
        extra = sorted(set(values) - set(self.variables))
        if missing or extra:
            raise PromptError(f"prompt {self.ref}: missing variables {missing}, unexpected {extra}")
        return [
            PromptMessage(
                role=m.role, content=PLACEHOLDER.sub(lambda x: values[x.group(1)], m.content)
            )
            for m in self.messages
        ]


def parse_prompt(text: str, source: str = "<prompt>") -> PromptTemplate:
    """Parse a prompt file's text; errors name the source and what is wrong."""
    match = FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if not match:
        raise PromptError(f"{source}: expected YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group("meta"))
    except yaml.YAMLError as exc:
        raise PromptError(f"{source}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise PromptError(f"{source}: front matter must be a mapping")
    parts = ROLE_MARKER.split(match.group("body"))
    if parts[0].strip():
        raise PromptError(f"{source}: text before the first [system]/[user] line")
    messages = [
        {"role": role, "content": content.strip()}
        for role, content in zip(parts[1::2], parts[2::2], strict=True)
    ]
    try:
        template = PromptTemplate.model_validate({**meta, "messages": messages})
    except ValidationError as exc:
        raise PromptError(f"{source}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    used = {name for m in template.messages for name in PLACEHOLDER.findall(m.content)}
    if used != set(template.variables):
        raise PromptError(
            f"{source}: undeclared variables {sorted(used - set(template.variables))}, "
            f"declared but unused {sorted(set(template.variables) - used)}"
        )
    return template


@lru_cache(maxsize=32)
def load_prompt(name: str, version: int = 1, directory: Path | None = None) -> PromptTemplate:
    """Load ``<directory>/<name>.v<version>.md`` (default: the repository's prompts/)."""
    path = (directory or PROMPTS_DIR) / f"{name}.v{version}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(f"{path}: cannot read prompt: {exc.strerror}") from None
    template = parse_prompt(text, str(path))
    if (template.name, template.version) != (name, version):
        raise PromptError(f"{path}: declares {template.ref}, expected {name}.v{version}")
    return template
