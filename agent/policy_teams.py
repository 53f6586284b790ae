"""The teams of a routing policy and its priorities: who takes a ticket, and how soon.

Teams with their members, skills and working hours; the priority scale with each priority's SLA
targets and protocol, and what sets a ticket's priority. Part of agent.policy, which reads them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.hours import WorkingHours, longest_business_span, shift_length
from agent.policy_checks import PathError
from agent.text import fold

ProtocolAction = Literal["jump_queue", "notify_oncall", "start_sla_clock", "page_team_lead"]
HOURS_A_YEAR = 8760
# A business-hours SLA comes due within this many years of arrival: a few business hours a week
# for a year's target would put due times past any date a datetime holds (OverflowError)
SLA_HORIZON_YEARS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Member(_Strict):
    """A person a ticket can be assigned to."""

    name: str = Field(min_length=1, max_length=200)  # as long as a ticket's assignee column
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


class PriorityLevel(_Strict):
    """SLA targets and protocol of one priority."""

    # at most a year: a few zeros too many would put due times past any date (OverflowError)
    first_response_hours: float = Field(gt=0, le=HOURS_A_YEAR)
    resolution_hours: float = Field(gt=0, le=HOURS_A_YEAR)
    business_hours: bool = True
    actions: list[ProtocolAction] = Field(default_factory=list)


class PriorityPolicy(_Strict):
    """The priority scale, most urgent first, and how priorities are set."""

    # each as long as a ticket's priority column (api.tables) at most
    scale: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=lambda: ["P1", "P2", "P3", "P4"], min_length=2
    )
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
        self._due_within_the_horizon()
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

    def _due_within_the_horizon(self) -> None:
        """PathError for a business-hours level whose resolution could come due more than
        SLA_HORIZON_YEARS after arrival."""
        business = self.business_hours
        for name, level in self.levels.items():
            if not level.business_hours:
                continue  # at most a year of hours around the clock
            span = longest_business_span(level.resolution_hours, business)
            if span <= timedelta(days=365.25 * SLA_HORIZON_YEARS):
                continue
            weekly = shift_length(business) * len(set(business.days)) / timedelta(hours=1)
            off = f" and {len(set(business.holidays))} holidays" if business.holidays else ""
            raise PathError(
                ("levels", name, "resolution_hours"),
                f"{level.resolution_hours:g} business hours take up to "
                f"{span / timedelta(days=365.25):,.0f} years at {weekly:.3g} hours a week of "
                f"priorities.business_hours{off}; a due time must come within "
                f"{SLA_HORIZON_YEARS} years (give the level fewer hours or the business more)",
            )

    def rank(self, priority: str) -> int:
        """0 is the most urgent."""
        return self.scale.index(priority)

    def most_urgent(self, *priorities: str | None) -> str:
        """The most urgent of the given priorities (the default when none is given)."""
        given = [p for p in priorities if p]
        return min(given, key=self.rank) if given else self.default
