"""A specialist's correction of a routing decision, and the corrected case it becomes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.errors import InputError
from knowledge.cases import Case, LabelSource, stands_against

log = logging.getLogger(__name__)


class Feedback(BaseModel):
    """What the specialist says the right routing and outcome of a ticket were."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(min_length=1, max_length=200)
    case_id: str | None = Field(
        default=None, description="The stored case to correct; defaults to ticket_id"
    )
    subject: str = Field(default="", max_length=2_000, description="Ticket text for a new case")
    body: str = Field(default="", max_length=200_000)
    requester: str | None = None
    account_id: str | None = Field(default=None, description="The requester's account")
    language: str | None = None
    correct_team: str | None = Field(default=None, min_length=1, description="The right team")
    escalation_needed: bool | None = Field(
        default=None, description="False: first line could have handled it"
    )
    resolution: str | None = None
    first_contact_resolved: bool | None = None
    handling_hours: float | None = Field(default=None, ge=0)
    first_route: str | None = Field(default=None, description="The team the product first chose")
    note: str | None = Field(default=None, description="Free text for the audit trail")
    label_source: LabelSource = "specialist"

    @property
    def target_id(self) -> str:
        """The id of the case this feedback corrects or creates."""
        return self.case_id or self.ticket_id


def corrected_case(feedback: Feedback, existing: Case | None = None) -> Case:
    """The case after applying the feedback: the existing one corrected, or a new one."""
    if existing is None:
        if not (feedback.subject.strip() or feedback.body.strip()):
            raise InputError(
                f"no case {feedback.target_id!r} in the knowledge base: "
                "feedback for a new case needs the ticket subject or body"
            )
        base: dict[str, Any] = {"id": feedback.target_id, "created_at": datetime.now(UTC)}
    else:
        base = existing.model_dump()
    updates: dict[str, Any] = {
        "subject": feedback.subject or None,
        "body": feedback.body or None,
        "requester": feedback.requester,
        "account_id": feedback.account_id,
        "language": feedback.language,
        "team": feedback.correct_team,
        "escalated": feedback.escalation_needed,
        "resolution": feedback.resolution,
        "first_contact_resolved": feedback.first_contact_resolved,
        "handling_hours": feedback.handling_hours,
        "first_route": feedback.first_route,
    }
    if feedback.subject or feedback.body:  # the ticket's text replaces the stored one as a whole
        updates["subject"], updates["body"] = feedback.subject, feedback.body
    base.update({key: value for key, value in updates.items() if value is not None})
    base["label_source"] = feedback.label_source
    if existing is not None and team_stays(feedback, existing):
        # the outcome's facts are applied; the team, whether it needed a specialist, and who
        # said so stay
        base["team"], base["escalated"] = existing.team, existing.escalated
        base["label_source"] = existing.label_source
        if feedback.correct_team not in (None, existing.team):
            log.info(
                "case %s keeps team %s set by %s against %s %s; its other fields are updated",
                existing.id,
                existing.team,
                existing.label_source,
                feedback.label_source,
                feedback.correct_team,
            )
    return Case.model_validate(base)


def team_stays(feedback: Feedback, existing: Case) -> bool:
    """True when the stored case's team was set by a source this feedback must not overrule."""
    return existing.team is not None and stands_against(
        existing.label_source, feedback.label_source
    )
