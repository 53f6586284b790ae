"""Extension points between the service core, the intake flow and helpdesk connectors.

The service calls every registered ``DecisionListener`` after a decision is stored (the helpdesk
connector's outbox is one), and hands helpdesk events other than "created" to the
``HelpdeskEventHandler`` registered for their source (status changes, comments, resolutions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from agent.models import Ticket
from agent.triager import TriageResult

HelpdeskEventType = Literal["created", "updated", "commented", "status", "resolved", "reopened"]


# The dedupe key is stored whole, never cut: two ids alike in their first N characters are two
# events. No helpdesk's event ids come near this.
EVENT_ID_MAX = 200
# The columns a helpdesk's name and ticket id are kept in (api.helpdesk.tables, api.intake.tables)
SOURCE_MAX = 40
EXTERNAL_ID_MAX = 200


class HelpdeskEvent(BaseModel):
    """One helpdesk event after signature check and adaptation, in the generic shape."""

    source: str = Field(min_length=1, max_length=SOURCE_MAX, description="e.g. 'rt'")
    event_id: str = Field(
        min_length=1, max_length=EVENT_ID_MAX, description="Unique per event: the dedupe key"
    )
    type: HelpdeskEventType
    external_id: str = Field(
        min_length=1, max_length=EXTERNAL_ID_MAX, description="The helpdesk's ticket id"
    )
    occurred_at: datetime | None = None
    ticket: Ticket | None = Field(default=None, description="Canonical ticket, for 'created'")
    changes: dict[str, Any] = Field(default_factory=dict, description="field -> new value")
    raw: dict[str, Any] = Field(default_factory=dict, description="The original payload")


class DecisionListener(Protocol):
    """Told about every stored decision; must not raise for delivery problems (queue them)."""

    def on_decision(self, ticket_id: str, ticket: Ticket, result: TriageResult) -> None:
        """React to a decision stored for the ticket with that service id."""
        ...


class HelpdeskEventHandler(Protocol):
    """Applies a helpdesk's non-create events (changes, comments, resolutions)."""

    def handle(self, event: HelpdeskEvent) -> None:
        """Apply one event; events are already deduplicated by event_id."""
        ...
