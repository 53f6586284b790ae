"""The helpdesk events the back-flow has seen: which of them have work, the pending ones, claims.

Every event is recorded once (deduplicated by event id); those with work (a resolution, reopen,
close, merge or move: ``WORK``) stay pending until a back-flow worker, holding a claim on it
(a lease), has processed it. Events processed before their ticket reached the service are made
pending again once it has (``reopen_before_ticket``).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from agent.settings import HELPDESK_CLOSED_STATUSES
from api.db import Database
from api.helpdesk.lease import LEASE_S, claim
from api.helpdesk.moves import MOVE_FIELDS, MOVED
from api.helpdesk.outbox import FROM_WEBHOOK, FROM_WEBHOOK_IN_RANGE
from api.helpdesk.tables import EventRow
from api.hooks import HelpdeskEvent
from api.tables import TicketRow, utcnow

MAX_ATTEMPTS = 20
# The events the worker applies; the others are only recorded. "closed": a status change that
# closes the ticket without a resolution (RT's rejected, deleted; the closing statuses set but
# resolved, helpdesk_closed_statuses): nothing to learn, nothing due.
# "merged": another ticket was merged into this one (RT reads the merged one as this one since).
# "moved": its queue or owner changed (api.helpdesk.moves).
WORK = ("resolved", "reopened", "closed", "merged", MOVED)
MERGED_FIELD = "mergedinto"  # the field of RT's merge (an AddLink), posted as the kept ticket's


def work_type(event: HelpdeskEvent, closed: Collection[str] = HELPDESK_CLOSED_STATUSES) -> str:
    """The event's type as the worker sees it ("closed" for a change to one of the ``closed``
    statuses other than resolved, such as a rejection or deletion; "merged" for a merge,
    "moved" for a queue or owner change)."""
    if event.type == "status":
        status = next((v for k, v in event.changes.items() if k.lower() == "status"), None)
        if str(status or "").lower() in set(closed) - {"resolved"}:
            return "closed"
    if event.type == "updated" and any(k.lower() == MERGED_FIELD for k in event.changes):
        return "merged"
    if event.type == "updated" and any(k.lower() in MOVE_FIELDS for k in event.changes):
        return MOVED
    return event.type


class EventLog:
    """The helpdesk events seen, and the resolutions still to process."""

    def __init__(self, db: Database, closed: Collection[str] = HELPDESK_CLOSED_STATUSES) -> None:
        self.db, self.closed = db, closed

    def kind(self, event: HelpdeskEvent) -> str:
        """The event's type as the worker sees it (``work_type``)."""
        return work_type(event, self.closed)

    def add(self, event: HelpdeskEvent) -> bool:
        """Record an event; False when it was seen before."""
        prefix = f"{event.source}:"
        # The intake may hand over "rt:123" (the canonical external id) or RT's own "123".
        external = event.external_id.removeprefix(prefix) or event.external_id
        kind = self.kind(event)
        row = EventRow(
            event_id=event.event_id,
            source=event.source,
            type=kind,
            external_id=external,
            attempts=0,
            # Only resolutions, reopens and closes have work left (in the order they came).
            processed_at=None if kind in WORK else utcnow(),
        )
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def pending(self, source: str) -> list[EventRow]:
        """Resolutions and reopens not processed yet, oldest first."""
        with self.db.session() as session:
            query = select(EventRow).where(
                EventRow.source == source,
                EventRow.processed_at.is_(None),
                EventRow.attempts < MAX_ATTEMPTS,
            )
            return list(session.scalars(query.order_by(EventRow.received_at)).all())

    def reopen_before_ticket(self, source: str, since: datetime) -> int:
        """Pending again: the work events processed before the service had their ticket (one
        created since ``since``, from the helpdesk: its creation was caught up after them), so
        they are applied to it. Returns how many."""
        prefix = f"{source}:"
        recent = select(func.substr(TicketRow.external_id, len(prefix) + 1)).where(
            TicketRow.created_at >= since,
            TicketRow.external_id.like(f"{prefix}%"),
            FROM_WEBHOOK_IN_RANGE,  # the day's tickets by their time, not all the webhook's
        )
        before_ticket = exists().where(
            TicketRow.external_id == literal(prefix) + EventRow.external_id,
            FROM_WEBHOOK,
            TicketRow.created_at > EventRow.processed_at,
        )
        # One conditional UPDATE: of two workers, the second finds them processed after the
        # ticket came (or pending) and leaves them.
        with self.db.session() as session:
            reopened = session.execute(
                update(EventRow)
                .where(
                    EventRow.source == source,
                    EventRow.type.in_(WORK),
                    EventRow.processed_at.is_not(None),
                    EventRow.external_id.in_(recent),
                    before_ticket,
                )
                .values(processed_at=None, attempts=0, error=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            return int(reopened.rowcount)  # type: ignore[attr-defined]

    def claim(self, event_id: str, now: datetime, lease_s: float = LEASE_S) -> bool:
        """Take a pending event for this worker alone; False when another worker holds it or
        has processed it meanwhile. done() ends the lease."""
        due = [
            EventRow.event_id == event_id,
            EventRow.processed_at.is_(None),
            or_(EventRow.claimed_until.is_(None), EventRow.claimed_until <= now),
        ]
        return claim(self.db, EventRow.claimed_until, due, now, lease_s)

    def done(self, event_id: str, error: str | None = None, count: bool = True) -> None:
        """Close an event, or record a failed attempt with its error (counted unless told not);
        either way its claim ends (a failed one is tried again by the next pass, anyone's)."""
        with self.db.session() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                return
            row.claimed_until = None
            if error is None:
                row.processed_at, row.error = utcnow(), None
            else:
                row.attempts += 1 if count else 0
                row.error = error[:1000]


class RTEventHandler:
    """HelpdeskEventHandler for one helpdesk: records events, wakes the back-flow worker."""

    def __init__(self, events: EventLog, wake: threading.Event) -> None:
        self.events, self.wake = events, wake

    def handle(self, event: HelpdeskEvent) -> None:
        """Record the event once; a resolution, reopen or close is processed in the background."""
        if self.events.add(event) and self.events.kind(event) in WORK:
            self.wake.set()
