"""The intake's own shapes: an adapted payload, a validation verdict, the answer at the door."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.models import Ticket

Outcome = Literal["accept", "quarantine", "reject"]
IntakeStatus = Literal[
    "queued", "duplicate", "threaded", "quarantined", "rejected", "event", "event_duplicate"
]
Source = Literal["email", "chat", "web", "api", "helpdesk"]
SOURCES: tuple[str, ...] = ("email", "chat", "web", "api", "helpdesk")


class Adapted(BaseModel):
    """A channel payload turned into the canonical ticket, with the original kept for audit."""

    ticket: Ticket
    raw: dict[str, Any] = Field(description="The original payload, JSON-safe")
    thread_refs: list[str] = Field(
        default_factory=list, description="Message-IDs this one answers (e-mail threading)"
    )
    thread_id: str | None = Field(default=None, description="This message's own Message-ID")
    auto_reply: str | None = Field(default=None, description="Why it is machine-made noise")
    notes: list[str] = Field(
        default_factory=list, description="What the adapter did not take as sent, and why"
    )


class Verdict(BaseModel):
    """The validation outcome and its reasons (empty when accepted)."""

    outcome: Outcome
    reasons: list[str] = Field(default_factory=list)


class IntakeResult(BaseModel):
    """What the door did with one payload."""

    status: IntakeStatus
    ticket_id: str | None = None
    reject_id: int | None = None
    priority: str | None = Field(default=None, description="Pre-priority at the door")
    reasons: list[str] = Field(default_factory=list)
    url: str | None = None
    replayed: bool = Field(
        default=False, exclude=True, description="The answer to an earlier send of the same key"
    )
    notes: list[str] = Field(
        default_factory=list, exclude=True, description="The adapter's notes (a CLI import's)"
    )
