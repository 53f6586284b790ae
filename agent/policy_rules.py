"""The rules of a routing policy: what a ticket is matched on and where that sends it.

Deterministic escalation rules, the complexity score and its tags, and the ordered decision tree
whose first matching branch picks the team, tier and skills. Part of agent.policy, which reads them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.patterns import PATTERN_TIMEOUT_S, compile_pattern, pattern_problem
from agent.policy_checks import PathError

ComplexityPart = Literal[
    "error_codes", "products", "prior_contacts", "reopens", "length", "urgency"
]
TicketField = Literal[
    "channel", "product", "category", "account_tier", "region", "language", "severity"
]
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
        problem = pattern_problem(pattern)
        if problem:
            raise ValueError(f"error_codes[{i}] {pattern!r} is not a valid regex: {problem}")
        try:
            empty = compile_pattern(pattern).search("", timeout=PATTERN_TIMEOUT_S)
        except TimeoutError:
            raise ValueError(
                f"error_codes[{i}] {pattern!r} runs past {PATTERN_TIMEOUT_S:g} s on empty text; "
                "simplify it"
            ) from None
        if empty is not None:
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
