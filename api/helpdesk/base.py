"""The helpdesk interface the connector speaks, its records and its errors.

Any helpdesk plugs in by implementing ``Helpdesk`` (see README.md); ``rt.RTHelpdesk`` is the
Request Tracker 5 adapter and ``fake.FakeHelpdesk`` the in-memory one for unit tests.

    UpstreamError (agent.errors)
    └── HelpdeskError          the helpdesk failed
        ├── HelpdeskUnavailable  unreachable, timed out, 5xx, 429, our token refused: retry later
        └── HelpdeskRejected     it refused the request (4xx, unknown ticket): retrying won't help
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from agent.errors import UpstreamError


def field_value(fields: Mapping[str, Any], name: str) -> str | None:
    """A helpdesk custom field's value by its name in any case, None if empty.

    Of a field with several values (RT's are lists), the first that is not empty; the value is
    stripped, and a blank one counts as empty.
    """
    for key, value in fields.items():
        if key.casefold() != name.casefold():
            continue
        first = (
            next((v for v in value if v not in (None, "")), None)
            if isinstance(value, list)
            else value
        )
        text = str(first).strip() if first is not None else ""
        return text or None
    return None


class HelpdeskError(UpstreamError):
    """The helpdesk did not do what was asked."""


class HelpdeskUnavailable(HelpdeskError):
    """The helpdesk could not be reached or answered with a transient error."""


class HelpdeskRejected(HelpdeskError):
    """The helpdesk refused the request for good."""


class HelpdeskTicket(BaseModel):
    """A ticket as the helpdesk holds it."""

    id: str
    subject: str = ""
    queue: str = ""
    status: str = ""
    owner: str | None = Field(default=None, description="None: nobody owns it")
    priority: int = 0
    requestors: list[str] = Field(default_factory=list)
    created: datetime | None = None
    resolved: datetime | None = None
    custom_fields: dict[str, list[str]] = Field(default_factory=dict)


class HelpdeskTransaction(BaseModel):
    """One entry of a ticket's history: a message, a field change, a status change."""

    id: str
    type: str = Field(description="Create, Correspond, Comment, Status, Set, CustomField, ...")
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    creator: str = ""
    created: datetime | None = None
    content: str | None = Field(default=None, description="Message text, for messages")
    ticket_id: str | None = Field(
        default=None,
        description="The ticket it was recorded on: another's, for a ticket merged into this one",
    )


class Requester(BaseModel):
    """What the helpdesk knows about a requester, for account context."""

    name: str
    email: str | None = None
    organization: str | None = None
    language: str | None = None
    custom_fields: dict[str, list[str]] = Field(default_factory=dict)


class TicketUpdate(BaseModel):
    """Fields to set on a ticket; None leaves a field as it is."""

    queue: str | None = None
    owner: str | None = None
    priority: int | None = None
    custom_fields: dict[str, list[str]] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when nothing would change."""
        return (
            self.queue is None
            and self.owner is None
            and self.priority is None
            and not self.custom_fields
        )


class UpdateResult(BaseModel):
    """What the helpdesk did with an update: fields applied, fields refused and why."""

    applied: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict, description="field -> reason")
    messages: list[str] = Field(default_factory=list, description="The helpdesk's own words")

    @property
    def ok(self) -> bool:
        """True when every field was applied."""
        return not self.failed


class Helpdesk(Protocol):
    """A helpdesk the connector reads tickets from and applies decisions to."""

    name: str
    bot_user: str

    def ping(self) -> str:
        """A short description of the helpdesk (version); raises HelpdeskError when down."""
        ...

    def ticket(self, ticket_id: str) -> HelpdeskTicket:
        """The ticket as it is now."""
        ...

    def history(self, ticket_id: str) -> list[HelpdeskTransaction]:
        """Every transaction of the ticket, oldest first, messages with their text."""
        ...

    def requester_tickets(self, requester: str, limit: int = 10) -> list[HelpdeskTicket]:
        """The requester's tickets, newest first (the current one included)."""
        ...

    def requester(self, requester: str) -> Requester | None:
        """The requester's profile, or None when the helpdesk does not know them."""
        ...

    def update(self, ticket_id: str, update: TicketUpdate) -> UpdateResult:
        """Set fields; partial failures are reported in the result, transport errors raised."""
        ...

    def comment(self, ticket_id: str, text: str) -> None:
        """Add an internal comment (not sent to the requester)."""
        ...
