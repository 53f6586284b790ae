"""Helpdesk webhook payloads to HelpdeskEvent: the RT 5 flavour and the generic shape.

RT (``"source": "rt"``): Create -> created (with the canonical ticket), Status -> resolved,
reopened or status, Correspond/Comment -> commented, anything else -> updated. Any other
helpdesk posts HelpdeskEvent's own JSON. An RT body is taken as the scrip writes it or not at all:
ids are RT's (whole numbers), the event id is ``rt-txn-<transaction id>``, dates carry their
zone; anything else is a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from agent.errors import InputError, first_problem
from agent.language import detect_language
from agent.models import Account, CustomFields, Ticket
from agent.settings import HELPDESK_CLOSED_STATUSES
from api.helpdesk.base import field_value
from api.hooks import EVENT_ID_MAX, HelpdeskEvent, HelpdeskEventType
from api.intake.rt_ids import RT_EVENT_PREFIX, RT_ID

RESOLVED = {"resolved"}


def _rt_id(value: str) -> str:
    if not RT_ID.fullmatch(value):
        raise PydanticCustomError("rt_id", "should be RT's id, a whole number such as 456")
    return value


def _zoned(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "rt_date", "should say its time zone, as the scrip writes it: 2026-11-27T10:00:00Z"
        )
    return value


RtId = Annotated[str, AfterValidator(_rt_id)]
"""Ticket and transaction ids: "" would make the external id "rt:", "abc" names nothing in RT."""
RtDate = Annotated[datetime, AfterValidator(_zoned)] | None
"""The scrip writes UTC with its "Z": a date without a zone says nothing about when it was."""


class RtTransaction(BaseModel):
    """The transaction that fired the scrip."""

    id: RtId
    type: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    creator: str | None = None
    created: RtDate = None
    content: str | None = None


class RtTicket(BaseModel):
    """The ticket as RT has it at that moment."""

    id: RtId
    subject: str = ""
    queue: str | None = None
    status: str | None = None
    owner: str | None = None
    priority: int | None = None
    requestors: list[str] = Field(default_factory=list)
    created: RtDate = None
    resolved: RtDate = None
    custom_fields: CustomFields = Field(default_factory=dict)


class RtEvent(BaseModel):
    """The body the RT scrip posts."""

    source: str
    event_id: str = Field(min_length=1, max_length=EVENT_ID_MAX)
    transaction: RtTransaction
    ticket: RtTicket

    @model_validator(mode="after")
    def _event_id_is_the_transactions(self) -> Self:
        """Another id would mark the wrong transaction seen: this one would be applied again by
        the catch-up, and the one it names skipped."""
        expected = f"{RT_EVENT_PREFIX}{self.transaction.id}"
        if self.event_id != expected:
            problem = PydanticCustomError(
                "rt_event_id",
                "should be {expected}, the transaction's id as the scrip writes it",
                {"expected": expected},
            )
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type=problem, loc=("event_id",), input=self.event_id)],
            )
        return self


def _rt_type(txn: RtTransaction, closed: Collection[str]) -> HelpdeskEventType:
    kind = txn.type.lower()
    if kind == "create":
        return "created"
    if kind == "status":
        new, old = (txn.new_value or "").lower(), (txn.old_value or "").lower()
        if new in RESOLVED:
            return "resolved"
        if old in closed and new not in closed:
            return "reopened"
        return "status"
    if kind in ("correspond", "comment"):
        return "commented"
    return "updated"


def _rt_ticket(event: RtEvent) -> Ticket:
    rt = event.ticket
    fields = rt.custom_fields
    account_name = field_value(fields, "Account")
    body = event.transaction.content or ""
    return Ticket(
        channel="helpdesk",
        external_id=f"rt:{rt.id}",
        subject=rt.subject,
        body=body,
        requester=rt.requestors[0] if rt.requestors else None,
        account=Account(name=account_name) if account_name else Account(),
        language=detect_language(f"{rt.subject}\n{body}"),
        # RT's Category, Severity and Product custom fields are the ticket's own, as a web
        # form's are: the policy's severity floors, category branches and product rules read them.
        category=field_value(fields, "Category"),
        severity=field_value(fields, "Severity"),
        product=field_value(fields, "Product"),
        custom_fields={"rt": {"queue": rt.queue, "status": rt.status, **fields}},
    )


def adapt_rt(
    payload: dict[str, Any], closed: Collection[str] = HELPDESK_CLOSED_STATUSES
) -> HelpdeskEvent:
    """An RT scrip payload as a HelpdeskEvent; InputError naming the bad field. ``closed``: the
    statuses that close a ticket (leaving one is a reopen)."""
    try:
        event = RtEvent.model_validate(payload)
        kind = _rt_type(event.transaction, closed)
        txn = event.transaction
        changes = {txn.field or txn.type: txn.new_value} if kind not in ("created",) else {}
        if kind == "commented":
            changes = {"comment": txn.content, "kind": txn.type.lower(), "author": txn.creator}
        return HelpdeskEvent(
            source="rt",
            event_id=event.event_id,
            type=kind,
            external_id=f"rt:{event.ticket.id}",
            occurred_at=txn.created,
            ticket=_rt_ticket(event) if kind == "created" else None,
            changes=changes,
            raw=payload,
        )
    except ValidationError as exc:
        raise InputError(f"rt webhook: {first_problem(exc, 'payload')}") from None


def adapt_helpdesk(
    payload: Any, closed: Collection[str] = HELPDESK_CLOSED_STATUSES
) -> HelpdeskEvent:
    """Either flavour: RT's (``source`` "rt" with a ``transaction``) or the generic shape."""
    if not isinstance(payload, dict):
        raise InputError("helpdesk webhook: expected a JSON object")
    if payload.get("source") == "rt" and "transaction" in payload:
        return adapt_rt(payload, closed)
    try:
        event = HelpdeskEvent.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"helpdesk webhook: {first_problem(exc, 'payload')}") from None
    if event.type == "created" and event.ticket is None:
        raise InputError("helpdesk webhook: a 'created' event needs its ticket")
    if event.ticket is not None:
        # The helpdesk's id is the ticket's identity here, whatever the body said.
        update = {
            "channel": "helpdesk",
            "external_id": event.external_id,
        }
        event.ticket = event.ticket.model_copy(update=update)
    return event.model_copy(update={"raw": event.raw or payload})
