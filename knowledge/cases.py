"""A resolved or imported past case, the unit of the knowledge base."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.models import escape_delimiters, join_text

LabelSource = Literal["import", "helpdesk", "specialist", "review", "decision"]
# How far a source's team is to be believed. An ingest never replaces a label with a less
# authoritative one: a re-imported export's team would undo a specialist's correction or the queue
# a helpdesk ticket was resolved in. A person's word (a specialist's feedback, a reviewer's
# decision) beats the helpdesk's final queue, which beats an export; the product's own decision,
# which no one confirmed, counts least.
LABEL_AUTHORITY: dict[str, int] = {
    "decision": 0,
    "import": 1,
    "helpdesk": 2,
    "review": 3,
    "specialist": 3,
}


def outranks(stored: LabelSource, incoming: LabelSource) -> bool:
    """True when a label from ``stored`` must not be replaced by one from ``incoming``."""
    return LABEL_AUTHORITY[stored] > LABEL_AUTHORITY[incoming]


def stands_against(stored: LabelSource, incoming: LabelSource) -> bool:
    """True when a team from ``stored`` must not be replaced by feedback from ``incoming``
    learned after it (the service's feedback, reviews and helpdesk outcomes, in their order).

    As ``outranks``, except that a helpdesk outcome replaces a reviewer's team: the reviewer
    routed the ticket before the work, and a queue other than the reviewer's that it was
    resolved in is where the people who worked on it moved it after that decision. A
    specialist's feedback judges the ticket's handling; a helpdesk outcome learned after it (a
    resolution held while the helpdesk was down, a reopened ticket resolved again, a ticket
    left in the queue the agent chose) does not undo it.
    """
    if stored == "review" and incoming == "helpdesk":
        return False
    return outranks(stored, incoming)


class Case(BaseModel):
    """A past ticket with its final routing and outcome."""

    id: str = Field(min_length=1)
    subject: str = ""
    body: str = ""
    team: str | None = Field(default=None, description="Final team (the routing label)")
    tier: int | None = None
    assignee: str | None = None
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    requester: str | None = None
    account_id: str | None = None
    resolution: str | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None
    first_route: str | None = Field(default=None, description="Team the product first chose")
    escalated: bool | None = None
    first_contact_resolved: bool | None = Field(
        default=None, description="Resolved by the first specialist contact after escalation"
    )
    handling_hours: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    label_source: LabelSource = "import"

    @property
    def text(self) -> str:
        """Subject and body as one text, embedded the same way as a new ticket's text."""
        return join_text(self.subject, self.body)

    def as_prompt(self) -> str:
        """Render the case as delimited data for a prompt."""
        text = escape_delimiters(self.text)
        resolution = escape_delimiters(self.resolution or "")
        # ids and teams come from imports and helpdesks: they must not close the envelope either
        case_id, team = (escape_delimiters(str(v)).replace('"', "'") for v in (self.id, self.team))
        return (
            f'<case id="{case_id}" team="{team}">\n<text>{text}</text>\n'
            f"<resolution>{resolution}</resolution>\n</case>"
        )


class SimilarCase(BaseModel):
    """A case found by meaning, with its cosine similarity to the query (1 = identical)."""

    case: Case
    similarity: float
