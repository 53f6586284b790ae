"""The service's request and response bodies: strict in, explicit out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.errors import InputError

TicketStatus = Literal["queued", "triaging", "decided", "review", "deciding", "resolved", "failed"]
# Waiting for a human decision. "deciding": claimed by a reviewer deciding it (api.review_claim);
# one whose process died stays so until another reviewer takes it, and still waits meanwhile.
WAITING_STATUSES: tuple[TicketStatus, ...] = ("review", "deciding")
# Open: in the SLA watch, in its assignee's load, closable from the helpdesk.
OPEN_STATUSES: tuple[TicketStatus, ...] = ("decided", *WAITING_STATUSES)
# With a decision of the agent's (a held one included).
DECIDED_STATUSES: tuple[TicketStatus, ...] = (*OPEN_STATUSES, "resolved")
# Accepted and not triaged yet: a worker has it, or will.
UNFINISHED_STATUSES: tuple[TicketStatus, ...] = ("queued", "triaging")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepted(BaseModel):
    """The answer to an asynchronous submission."""

    id: str | None = Field(description="The ticket's id; null for a quarantined payload")
    status: TicketStatus | Literal["quarantined"]
    url: str = Field(
        description="Where the ticket and, once made, its decision can be read; for a "
        "quarantined payload, where it is kept"
    )
    reasons: list[str] = Field(
        default_factory=list, description="Why a quarantined payload waits for a person"
    )


class SlaView(BaseModel):
    """The SLA watch's view of a ticket."""

    state: Literal["ok", "at_risk", "breached"] = "ok"
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    events: list[dict[str, Any]] = Field(default_factory=list)
    front_of_queue: bool = False


class TicketView(BaseModel):
    """A stored ticket, its status and, once made, its current decision."""

    id: str
    status: TicketStatus
    channel: str
    external_id: str | None = None
    submitted_by: str | None = None
    created_at: datetime
    updated_at: datetime
    ticket: dict[str, Any]
    team: str | None = Field(
        default=None,
        description="The team it is with now: the latest decision's, or the helpdesk queue's "
        "after a person there moved it (the decision keeps what was decided)",
    )
    assignee: str | None = Field(
        default=None,
        description="The policy member it is assigned to now: the latest decision's, or the "
        "helpdesk owner's after a person there changed it (none: nobody, or no member)",
    )
    decision: dict[str, Any] | None = None
    sla: SlaView = Field(default_factory=SlaView)
    error: str | None = None


class ReviewItem(BaseModel):
    """One ticket waiting for a human, with the agent's best guess and why it abstained."""

    id: str
    subject: str
    team: str | None = Field(description="The team it is with now (a helpdesk move included)")
    suggested_team: str | None = Field(
        default=None, description="The agent's guess, which the review confirms or overrules"
    )
    priority: str | None
    confidence: float | None
    review_reasons: list[str]
    alternatives: list[dict[str, Any]]
    front_of_queue: bool
    sla_state: str
    created_at: datetime
    being_decided: bool = Field(
        default=False,
        description="A reviewer is deciding it now (POST /v1/review/{id} would be a 409); false "
        "again once their claim shows no sign of life for TRIAGE_ADOPT_AFTER_S",
    )


class ReviewIn(_Strict):
    """A reviewer's decision; the reviewer's name comes from the API key."""

    team: str = Field(min_length=1, max_length=200)
    escalate: bool | None = Field(default=None, description="None: follows from the team")
    priority: str | None = Field(default=None, max_length=40)
    assignee: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=5_000)


class FeedbackIn(_Strict):
    """A specialist's post-resolution feedback on a routed ticket.

    It names the right team one way: team_correct=true (the routed one), correct_team, or
    escalation_needed=false (the first line could have handled it; with team_correct=false too).
    """

    team_correct: bool | None = Field(
        default=None, description="True: the decision's team was right"
    )
    correct_team: str | None = Field(default=None, min_length=1, max_length=200)
    escalation_needed: bool | None = None
    resolution: str | None = Field(default=None, max_length=50_000)
    first_contact_resolved: bool | None = None
    handling_hours: float | None = Field(default=None, ge=0, le=24 * 365)
    note: str | None = Field(default=None, max_length=5_000)

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackIn:
        if self.team_correct is True and self.correct_team is not None:
            raise ValueError("give team_correct=true or correct_team, not both")
        if (
            self.team_correct is False
            and self.correct_team is None
            and self.escalation_needed is not False
        ):
            raise ValueError(
                "team_correct=false needs correct_team (the right one), or "
                "escalation_needed=false (the first line)"
            )
        if (
            self.team_correct is None
            and self.correct_team is None
            and self.escalation_needed is not False
        ):
            # The knowledge base learns the answer as a specialist's label: it must name a team.
            raise ValueError(
                "say which team was right: team_correct=true, correct_team, "
                "or escalation_needed=false (the first line could have handled it)"
            )
        return self

    def final_team(self, routed: str, first_line: str) -> str:
        """The right team by this answer on a ticket routed to ``routed``.

        InputError when the answer contradicts itself: team_correct=false naming the routed team
        (or, with escalation_needed=false, on a ticket routed to the first line), a specialist
        team with escalation_needed=false, or the first line with it true.
        """
        if self.correct_team is not None:
            team, named = self.correct_team, f"correct_team {self.correct_team!r}"
            if self.team_correct is False and team == routed:
                raise InputError(
                    f"team_correct=false contradicts {named}: the ticket was routed there"
                )
        elif self.team_correct:
            team, named = routed, f"team_correct=true (routed to {routed!r})"
        else:  # escalation_needed=false, as the validator allows nothing else here
            if self.team_correct is False and routed == first_line:
                raise InputError(
                    "team_correct=false contradicts escalation_needed=false: the ticket was "
                    f"routed to the first line ({first_line!r}), where a ticket that needed no "
                    "escalation belongs"
                )
            return first_line
        if self.escalation_needed is False and team != first_line:
            raise InputError(
                f"{named} contradicts escalation_needed=false: {team!r} is a specialist team, "
                f"and a ticket that needed no escalation belongs to the first line ({first_line!r})"
            )
        if self.escalation_needed is True and team == first_line:
            raise InputError(
                f"{named} contradicts escalation_needed=true: {team!r} is the first line"
            )
        return team


class FeedbackOut(BaseModel):
    """What the feedback changed."""

    ticket_id: str
    final_team: str
    case_id: str
    label_source: str
    warning: str | None = Field(
        default=None,
        description="e.g. a rule of the active policy still decides tickets like this one, or "
        "the final team is no longer a team of the active policy",
    )


class PolicyIn(_Strict):
    """A candidate policy as YAML text."""

    yaml: str = Field(min_length=1, max_length=500_000)


class PolicyVersionView(BaseModel):
    """One stored policy version."""

    version: int
    fingerprint: str
    active: bool
    created_by: str
    created_at: datetime
    yaml: str | None = None
    live: bool | None = Field(
        default=None,
        description="Whether this process routes with it now; an active version that is not "
        "live was activated by another process (PUT there, triage policy activate) moments ago "
        "and applies here within policy_check_s, or this process cannot take it (see its log)",
    )
    open_tickets_of_dropped_teams: dict[str, list[str]] | None = Field(
        default=None,
        description="On activation: open tickets (decided, or waiting for review) still with a "
        "team this version no longer has, by team; they keep it until decided or resolved",
    )


class DryRunIn(_Strict):
    """Replay the last N stored tickets through a candidate policy."""

    yaml: str = Field(min_length=1, max_length=500_000)
    last: int = Field(default=50, ge=1, le=500)


class DecisionChange(BaseModel):
    """A ticket whose decision the candidate policy changes."""

    ticket_id: str
    changed: list[str]
    current: dict[str, Any] = Field(
        description="The active policy's decision, routed now on the same knowledge base"
    )
    candidate: dict[str, Any]


class DryRunOut(BaseModel):
    """What the candidate policy would change."""

    candidate_fingerprint: str
    replayed: int
    changed: int
    changes: list[DecisionChange]
    open_tickets_of_dropped_teams: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Open tickets still with a team the candidate no longer has, by team",
    )


class AtRisk(BaseModel):
    """An open escalated ticket near or past its SLA."""

    id: str
    team: str | None
    priority: str | None
    state: Literal["at_risk", "breached"]
    due: datetime
    deadline: Literal["first_response", "resolution"]
    events: list[dict[str, Any]]
