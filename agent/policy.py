"""The routing policy a support lead edits: teams, rules, decision tree, priorities and SLAs.

A policy is a YAML file validated by pydantic. Errors name the file, the line, the path inside it
and what was expected, e.g. ``policy.yaml: line 164: rules[2].match.error_codes: ... not a valid
regex``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.config_yaml import line_of, load_config, read_text, yaml_problem
from agent.errors import PolicyError
from agent.hours import WorkingHours
from agent.policy_checks import PathError, check_references
from agent.text import fold

ProtocolAction = Literal["jump_queue", "notify_oncall", "start_sla_clock", "page_team_lead"]
ComplexityPart = Literal[
    "error_codes", "products", "prior_contacts", "reopens", "length", "urgency"
]
TicketField = Literal[
    "channel", "product", "category", "account_tier", "region", "language", "severity"
]
HOURS_A_YEAR = 8760
_WEIGHTS: dict[ComplexityPart, float] = {
    "error_codes": 1.0,
    "products": 0.75,
    "prior_contacts": 0.5,
    "reopens": 1.0,
    "length": 0.5,
    "urgency": 1.0,
}


def _check_regexes(patterns: list[str]) -> list[str]:
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"error_codes[{i}] {pattern!r} is not a valid regex: {exc}") from exc
        if re.search(pattern, "") is not None:
            # it finds a "code" in any text: the rule would fire on every ticket
            raise ValueError(
                f"error_codes[{i}] {pattern!r} matches empty text, so it finds a code in every "
                "ticket; make the code itself required (e.g. 'ORA-\\d{5}', not '(ORA-\\d{5})?')"
            )
    return patterns


# a condition on no values holds for no ticket: the rule or branch would look armed and never act
_EMPTY_LIST = "an empty list matches no ticket; list the values, or leave it out"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Member(_Strict):
    """A person a ticket can be assigned to."""

    name: str = Field(min_length=1)
    email: str | None = None
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(default=10, ge=0, description="Open tickets this person can hold")
    working_hours: WorkingHours | None = Field(
        default=None, description="None: the team's; what it leaves out is the team's too"
    )
    available: bool = Field(default=True, description="False: on leave, never assigned")


class Team(_Strict):
    """A team tickets are routed to; the first-line team is named by the policy."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    tier: int = Field(default=2, ge=1, le=5)
    skills: list[str] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)

    @model_validator(mode="before")
    @classmethod
    def _members_hours_from_the_team(cls, data: Any) -> Any:
        # 'days: [mon, tue]' for a part-timer keeps the team's zone and times: left to the
        # defaults it was 08:00-18:00 UTC, hours off for a team in New York or Tokyo
        if not isinstance(data, dict) or not isinstance(data.get("members"), list):
            return data
        team_hours = data.get("working_hours")
        if isinstance(team_hours, WorkingHours):
            team_hours = team_hours.model_dump()
        if not isinstance(team_hours, dict):
            return data  # the defaults: a member's own defaults are the same
        inherited = {k: v for k, v in team_hours.items() if k in WorkingHours.model_fields}
        members = [
            {**m, "working_hours": {**inherited, **m["working_hours"]}}
            if isinstance(m, dict) and isinstance(m.get("working_hours"), dict)
            else m
            for m in data["members"]
        ]
        return {**data, "members": members}

    @model_validator(mode="after")
    def _members_unique(self) -> Team:
        # open loads and assignments are kept by name: two entries would be one person
        names = [m.name for m in self.members]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise PathError(
                    ("members", i, "name"),
                    f"team {self.name!r} lists {name!r} again (members[{names.index(name)}])",
                )
        return self


class RuleMatch(_Strict):
    """What a rule looks for; any listed kind that matches makes the rule fire."""

    keywords: list[str] = Field(
        default_factory=list,
        description="Words or phrases, word-bounded, case- and accent-insensitive, any language",
    )
    error_codes: list[str] = Field(default_factory=list, description="Regular expressions")
    fields: dict[TicketField, list[str]] = Field(
        default_factory=dict,
        description="Ticket attribute -> accepted values (channel, product, category, "
        "account_tier, region, language, severity)",
    )
    min_complexity: float | None = Field(default=None, description="Fires at or above this score")
    where: Literal["subject", "body", "any"] = "any"

    @field_validator("fields")
    @classmethod
    def _values_listed(cls, fields: dict[TicketField, list[str]]) -> dict[TicketField, list[str]]:
        for name, values in fields.items():
            if not values:
                raise PathError((name,), _EMPTY_LIST)
        return fields

    @field_validator("error_codes")
    @classmethod
    def _valid_regex(cls, patterns: list[str]) -> list[str]:
        return _check_regexes(patterns)

    @field_validator("min_complexity")
    @classmethod
    def _above_zero(cls, score: float | None) -> float | None:
        if score is not None and score <= 0:
            # the score is never below 0: the rule would fire on every ticket
            raise ValueError(
                f"{score:g} fires on every ticket (no score is below 0); give one above 0"
            )
        return score

    @field_validator("keywords")
    @classmethod
    def _no_blank_keyword(cls, keywords: list[str]) -> list[str]:
        for i, keyword in enumerate(keywords):
            if not any(ch.isalnum() for ch in keyword):
                # it would never match, and the rule would look armed when it is not
                raise ValueError(f"keywords[{i}] {keyword!r} has no letter or digit to match")
        return keywords

    @model_validator(mode="after")
    def _not_empty(self) -> RuleMatch:
        if not (
            self.keywords or self.error_codes or self.fields or self.min_complexity is not None
        ):
            raise ValueError("a rule must match on keywords, error_codes, fields or min_complexity")
        return self


class RuleActions(_Strict):
    """What a fired rule does."""

    escalate_to: str | None = Field(default=None, description="Team name")
    tier: int | None = Field(default=None, ge=1, le=5)
    add_tags: list[str] = Field(default_factory=list)
    raise_priority_to: str | None = Field(default=None, description="At least this priority")
    stay_first_line: bool = False


class Rule(_Strict):
    """A deterministic escalation rule; rules beat model guesses."""

    id: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    description: str = ""
    match: RuleMatch
    actions: RuleActions
    weight: float = Field(default=1.0, gt=0, description="Tie-break between rules naming teams")


class ComplexityPolicy(_Strict):
    """How the complexity score is computed and which tags it triggers."""

    weights: dict[ComplexityPart, float] = Field(
        default_factory=lambda: dict(_WEIGHTS), description="Parts not listed keep their default"
    )
    products: list[str] = Field(default_factory=list, description="Product names to count")
    urgency_cues: list[str] = Field(default_factory=list, description="Words that signal urgency")
    length_unit_chars: int = Field(default=800, gt=0, description="One length point per N chars")
    high_complexity_at: float = Field(default=4.0, description="Tag 'High Complexity' at/above")
    requires_expertise_at: float = Field(
        default=3.0, description="Tag 'Requires Expertise' at/above when escalated"
    )
    review_at: float | None = Field(default=None, description="Send to review at/above; None off")
    error_codes: list[str] = Field(
        default_factory=list, description="Generic error-code regexes, counted like rules' codes"
    )

    @field_validator("weights")
    @classmethod
    def _fill_weights(cls, weights: dict[ComplexityPart, float]) -> dict[ComplexityPart, float]:
        for part, weight in weights.items():
            if weight < 0:
                # a part counts towards complexity or not at all; below 0 it would pull the score
                # under 0 and a long or reopened ticket would score as simpler
                raise PathError((part,), f"{weight:g} is below 0; a part adds to the score or is 0")
        return {**_WEIGHTS, **weights}

    @field_validator("error_codes")
    @classmethod
    def _valid_regex(cls, patterns: list[str]) -> list[str]:
        return _check_regexes(patterns)


class Condition(_Strict):
    """Conditions of a decision-tree branch; all listed ones must hold."""

    team: list[str] | None = Field(default=None, description="The team chosen so far")
    escalate: bool | None = None
    category: list[str] | None = None
    product: list[str] | None = None
    account_tier: list[str] | None = None
    region: list[str] | None = None
    language: list[str] | None = None
    severity: list[str] | None = None
    channel: list[str] | None = None
    priority: list[str] | None = None
    tags_any: list[str] | None = None

    @model_validator(mode="after")
    def _values_listed(self) -> Condition:
        for name, value in self:
            if value == []:
                raise PathError((name,), _EMPTY_LIST)
        return self


class Branch(_Strict):
    """One ordered branch of the decision tree: the first that matches decides."""

    name: str = Field(min_length=1)
    when: Condition = Field(default_factory=Condition)
    team: str | None = Field(default=None, description="Override the team")
    tier: int | None = Field(default=None, ge=1, le=5)
    required_skills: list[str] = Field(default_factory=list, description="For picking a person")
    assign: bool = Field(default=True, description="Pick an individual from the team")
    add_tags: list[str] = Field(default_factory=list)


class PriorityLevel(_Strict):
    """SLA targets and protocol of one priority."""

    # at most a year: a few zeros too many would put due times past any date (OverflowError)
    first_response_hours: float = Field(gt=0, le=HOURS_A_YEAR)
    resolution_hours: float = Field(gt=0, le=HOURS_A_YEAR)
    business_hours: bool = True
    actions: list[ProtocolAction] = Field(default_factory=list)


class PriorityPolicy(_Strict):
    """The priority scale, most urgent first, and how priorities are set."""

    scale: list[str] = Field(default_factory=lambda: ["P1", "P2", "P3", "P4"], min_length=2)
    default: str = "P3"
    levels: dict[str, PriorityLevel] = Field(default_factory=dict)
    by_account_tier: dict[str, str] = Field(
        default_factory=dict, description="Account tier -> at least this priority"
    )
    by_severity: dict[str, str] = Field(
        default_factory=dict, description="Declared severity -> at least this priority"
    )
    urgency_raises: int = Field(default=1, ge=0, description="Steps raised by urgency cues")
    learned_min_confidence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="The learned priority starts the ticket's priority only at or above this "
        "confidence; below it the default does (a guessed P1 would page on-call)",
    )
    business_hours: WorkingHours = Field(default_factory=WorkingHours)
    oncall_webhook: str | None = None

    @field_validator("oncall_webhook")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        # pages to a URL that cannot be posted to would fail at 3 a.m., not at policy time
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        return url

    @model_validator(mode="after")
    def _consistent(self) -> PriorityPolicy:
        repeated = sorted({p for p in self.scale if self.scale.count(p) > 1})
        if repeated:
            raise PathError(("scale",), f"scale repeats {repeated}")
        for name, level in self.levels.items():
            if level.first_response_hours > level.resolution_hours:
                raise PathError(
                    ("levels", name, "first_response_hours"),
                    f"{level.first_response_hours:g} is after resolution_hours "
                    f"{level.resolution_hours:g}",
                )
        for field, by in (
            ("by_account_tier", self.by_account_tier),
            ("by_severity", self.by_severity),
        ):
            seen: dict[str, str] = {}
            for key in by:
                # tickets are matched case-insensitively: the first spelling would always win
                first = seen.setdefault(fold(key), key)
                if first != key:
                    raise PathError(
                        (field, key),
                        f"{key!r} is {first!r} again (matched whatever the case); keep one of them",
                    )
        named: list[tuple[tuple[str | int, ...], str]] = [
            (("default",), self.default),
            *((("levels", p), p) for p in self.levels),
            *((("by_account_tier", k), p) for k, p in self.by_account_tier.items()),
            *((("by_severity", k), p) for k, p in self.by_severity.items()),
        ]
        for loc, priority in named:
            if priority not in self.scale:
                raise PathError(loc, f"priority {priority!r} is not on the scale {self.scale}")
        return self

    def rank(self, priority: str) -> int:
        """0 is the most urgent."""
        return self.scale.index(priority)

    def most_urgent(self, *priorities: str | None) -> str:
        """The most urgent of the given priorities (the default when none is given)."""
        given = [p for p in priorities if p]
        return min(given, key=self.rank) if given else self.default


class Policy(_Strict):
    """A whole routing policy."""

    name: str = "policy"
    version: str = Field(default="1", description="Bumped by the author; hashed with the content")
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
