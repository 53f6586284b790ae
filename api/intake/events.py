"""The signed helpdesk webhook: verify, adapt, dedupe by event id, then triage or hand over.

``created`` events are admitted like any other ticket (source "helpdesk"); every other event
goes to the HelpdeskEventHandler registered for its source (app.state.helpdesk_handlers).
An event id is taken once: a handler failure releases it, so the helpdesk's retry is applied.
A body refused (422: not the documented shape) is not taken either, and logged: for RT, whose
scrip does not retry, the connector's catch-up reads that transaction from RT and applies it.
The helpdesk connector's catch-up (api/helpdesk/catchup.py) feeds the events the webhook missed
through ``accept``, the same path after the signature check, so either may see an event first.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from agent.errors import InputError, UpstreamError
from agent.json_input import load_json
from agent.settings import HELPDESK_CLOSED_STATUSES
from api.auth import Principal
from api.db import Database
from api.hooks import HelpdeskEvent, HelpdeskEventHandler
from api.intake.flow import IntakeFlow
from api.intake.models import Adapted, IntakeResult
from api.intake.signature import verify
from api.intake.tables import EventSeenRow

log = logging.getLogger(__name__)

WEBHOOK_CALLER = Principal(key_id="webhook", name="signed helpdesk webhook", role="helpdesk")


class EventOutcome(BaseModel):
    """What happened to one webhook event."""

    event_id: str
    type: str
    outcome: str
    ticket: IntakeResult | None = None


class HelpdeskWebhook:
    """POST /v1/intake/helpdesk behind its HMAC signature."""

    def __init__(
        self,
        db: Database,
        flow: IntakeFlow,
        handlers: dict[str, HelpdeskEventHandler],
        secret: str | None,
        tolerance_s: float = 300.0,
        closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
    ) -> None:
        self.db, self.flow, self.handlers = db, flow, handlers
        self.secret, self.tolerance_s = secret, tolerance_s
        self.closed = closed  # the helpdesk's statuses that close a ticket

    def receive(self, body: bytes, timestamp: str | None, signature: str | None) -> EventOutcome:
        """Verify and apply one event (AuthError 401 on a bad signature, InputError 422)."""
        verify(self.secret, timestamp, signature, body, self.tolerance_s)
        try:
            return self.accept(load_json(body, "helpdesk webhook: body"))
        except InputError as exc:
            # Signed, so the helpdesk's own: its sender only logs the answer.
            log.warning("signed helpdesk event refused, nothing recorded: %s", exc)
            raise

    def accept(self, payload: Any) -> EventOutcome:
        """Adapt, dedupe and apply one event whose origin is already trusted (InputError 422)."""
        from api.intake.webhooks import adapt_helpdesk

        event = adapt_helpdesk(payload, self.closed)
        if not self._take(event):
            return EventOutcome(event_id=event.event_id, type=event.type, outcome="duplicate")
        try:
            outcome = self._apply(event)
        except Exception:
            self._release(event)
            raise
        self._settle(event, outcome)
        return outcome

    def _apply(self, event: HelpdeskEvent) -> EventOutcome:
        if event.type == "created" and event.ticket is not None:
            result = self.flow.admit(
                Adapted(ticket=event.ticket, raw=event.raw), "helpdesk", WEBHOOK_CALLER
            )
            return EventOutcome(
                event_id=event.event_id, type=event.type, outcome=result.status, ticket=result
            )
        handler = self.handlers.get(event.source)
        if handler is None:
            log.warning(
                "no handler for %s events; %s kept as unhandled", event.source, event.event_id
            )
            return EventOutcome(event_id=event.event_id, type=event.type, outcome="unhandled")
        try:
            handler.handle(event)
        except Exception as exc:
            raise UpstreamError(
                f"the {event.source} handler failed on {event.event_id}: {type(exc).__name__}"
            ) from exc
        return EventOutcome(event_id=event.event_id, type=event.type, outcome="handled")

    def _take(self, event: HelpdeskEvent) -> bool:
        try:
            with self.db.session() as session:
                session.add(
                    EventSeenRow(
                        event_id=event.event_id,
                        source=event.source,
                        type=event.type,
                        outcome="processing",
                    )
                )
        except IntegrityError:
            return False
        return True

    def _release(self, event: HelpdeskEvent) -> None:
        with self.db.session() as session:
            session.execute(
                delete(EventSeenRow).where(
                    EventSeenRow.source == event.source, EventSeenRow.event_id == event.event_id
                )
            )

    def _settle(self, event: HelpdeskEvent, outcome: EventOutcome) -> None:
        with self.db.session() as session:
            row = session.get(EventSeenRow, (event.source, event.event_id))
            if row is not None:
                row.outcome = outcome.outcome
                row.ticket_id = outcome.ticket.ticket_id if outcome.ticket else None
