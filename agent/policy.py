"""The routing policy a support lead edits: teams, rules, decision tree, priorities and SLAs.

A policy is a YAML file validated by pydantic. Errors name the file, the line, the path inside it
and what was expected, e.g. ``policy.yaml: line 164: rules[2].match.error_codes: ... not a valid
regex``.

The parts live by concern: ``agent.policy_teams`` (teams, members, priorities and SLAs),
``agent.policy_rules`` (rules, complexity, decision tree) and ``agent.policy_checks`` (the checks
across them); this module holds the whole ``Policy``, reads it and re-exports the parts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.config_yaml import line_of, load_config, read_text, yaml_problem
from agent.errors import PolicyError
from agent.policy_checks import PathError, check_references
from agent.policy_rules import (
    Branch,
    ComplexityPolicy,
    Condition,
    Rule,
    RuleActions,
    RuleMatch,
)
from agent.policy_teams import Member, PriorityLevel, PriorityPolicy, Team

__all__ = [
    "Branch",
    "ComplexityPolicy",
    "Condition",
    "Member",
    "Policy",
    "PriorityLevel",
    "PriorityPolicy",
    "Rule",
    "RuleActions",
    "RuleMatch",
    "Team",
    "load_policy",
    "loads_policy",
    "neutral_policy",
    "parse_policy",
]


class Policy(BaseModel):
    """A whole routing policy."""

    model_config = ConfigDict(extra="forbid")

    name: str = "policy"
    # with '+' and 10 hex digits of the content's hash, the fingerprint every decision records
    # fits its 100-character column (api.tables)
    version: str = Field(
        default="1",
        max_length=80,
        description="Bumped by the author; hashed with the content",
    )
    first_line_team: str
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    teams: list[Team] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    complexity: ComplexityPolicy = Field(default_factory=ComplexityPolicy)
    decision_tree: list[Branch] = Field(default_factory=list)
    priorities: PriorityPolicy = Field(default_factory=PriorityPolicy)
    injection_to_review: bool = Field(default=True, description="Review tickets with injections")
    novel_to_review: bool = Field(
        default=True,
        description="Review tickets unlike any past case, however sure the learned model is "
        "(off: the novelty stays evidence only)",
    )

    @model_validator(mode="after")
    def _references(self) -> Policy:
        check_references(self)
        return self

    @property
    def team_names(self) -> list[str]:
        return [t.name for t in self.teams]

    def team_texts(self) -> dict[str, str]:
        """Each team's name, description and skills as one text, to embed and compare tickets
        with."""
        return {
            t.name: f"{t.name}: {t.description} {' '.join(t.skills)}".strip() for t in self.teams
        }

    def team(self, name: str) -> Team:
        """The team of that name."""
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)

    @property
    def fingerprint(self) -> str:
        """Version plus a content hash, recorded on every decision."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:10]
        return f"{self.version}+{digest}"


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_policy(data: Any, source: str = "<policy>", text: str | None = None) -> Policy:
    """Validate already-parsed YAML/JSON data; errors name the source, the line in ``text`` (the
    YAML it was parsed from, when given), the path and the expectation."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            found = (e.get("ctx") or {}).get("error")
            loc = (*e["loc"], *found.loc) if isinstance(found, PathError) else e["loc"]
            line = line_of(text, loc) if text is not None else None
            where = f"line {line}: " if line else ""
            what = found if isinstance(found, PathError) else e["msg"]
            lines.append(f"{source}: {where}{_location(loc)}: {what}")
        raise PolicyError("\n".join(lines)) from None


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file."""
    path = Path(path)
    return loads_policy(read_text(path, "policy", PolicyError), str(path))


def loads_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate policy YAML text."""
    try:
        data = load_config(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise PolicyError(f"{source}: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: (top level): expected a mapping of policy fields")
    return parse_policy(data, source, text)


def neutral_policy(
    teams: list[str], first_line: str | None = None, scale: list[str] | None = None
) -> Policy:
    """A policy with the given teams and no rules: the learned router alone decides."""
    first = first_line if first_line in teams else teams[0]
    priorities = (
        PriorityPolicy(scale=scale, default=scale[len(scale) // 2]) if scale else PriorityPolicy()
    )
    return Policy(
        name="neutral",
        version="neutral",
        first_line_team=first,
        teams=[Team(name=t, tier=1 if t == first else 2) for t in teams],
        priorities=priorities,
    )
