"""What happened to a ticket after our decision, read from its helpdesk history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel, Field

from agent.settings import HELPDESK_CLOSED_STATUSES
from api.helpdesk.base import HelpdeskTicket, HelpdeskTransaction
from api.helpdesk.history import reopen_count, resolution_text

MOVES = ("Set", "Give", "Take", "Steal", "Untake")  # SetWatcher repeats an owner change


class Outcome(BaseModel):
    """The resolved ticket's final routing, resolution, timing and how often it moved."""

    external_id: str
    final_queue: str
    final_owner: str | None = None
    resolution: str | None = None
    created: datetime | None = None
    resolved: datetime | None = None
    hours_to_resolve: float | None = Field(default=None, ge=0)
    reassignments: int = Field(default=0, description="Queue/owner changes by people after us")
    queue_changes: int = Field(default=0, description="Of which queue changes")
    reopened: int = 0
    decided: bool = Field(default=False, description="Our decision reached the ticket")

    @property
    def misrouted(self) -> bool:
        """A person moved the ticket to another queue after our decision."""
        return self.queue_changes > 0

    @property
    def first_contact_resolved(self) -> bool:
        """Resolved where we sent it, without reassignment or reopening."""
        return self.reassignments == 0 and self.reopened == 0


def compute_outcome(
    ticket: HelpdeskTicket,
    history: list[HelpdeskTransaction],
    bot_user: str,
    decided_at: datetime | None = None,
    closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
) -> Outcome:
    """Count the people's queue/owner changes after our first change (or our decision time)."""
    start = next(
        (i for i, t in enumerate(history) if t.creator == bot_user and t.type != "Create"), None
    )
    if start is None and decided_at is not None:
        start = next(
            (i for i, t in enumerate(history) if t.created and t.created >= decided_at),
            len(history),
        )
    after = history[start:] if start is not None else []
    moves = [
        t
        for t in after
        if t.creator != bot_user
        and t.type in MOVES
        and (t.field == "Queue" or (t.field == "Owner" and (t.old_value or "Nobody") != "Nobody"))
    ]
    since = decided_at or ticket.created
    hours = None
    if since is not None and ticket.resolved is not None:
        hours = max(0.0, (ticket.resolved - since).total_seconds() / 3600)
    return Outcome(
        external_id=ticket.id,
        final_queue=ticket.queue,
        final_owner=ticket.owner,
        resolution=resolution_text(history, ticket.requestors),
        created=ticket.created,
        resolved=ticket.resolved,
        hours_to_resolve=hours,
        reassignments=len(moves),
        queue_changes=sum(t.field == "Queue" for t in moves),
        reopened=reopen_count(history, closed),
        decided=start is not None,
    )
