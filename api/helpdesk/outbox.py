"""The outbox: decisions waiting to be applied in the helpdesk, in order per ticket.

A row is written right after its decision is stored (one row per decision: the decision id is
unique), and a sweep at start re-creates rows a crash between the two writes would have lost.
Rows of one helpdesk ticket are delivered strictly in id order: only the oldest unfinished row
of a ticket is ever due. A loop claims a row before applying it (a lease on its next attempt,
``lease.claim``), so two delivery loops on one database (the API and `worker_main --serve`)
never apply it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.helpdesk.lease import LEASE_S, claim
from api.helpdesk.names import TAGS_FIELD
from api.helpdesk.tables import OutboxRow
from api.intake.events import WEBHOOK_CALLER
from api.tables import DecisionRow, TicketRow, utcnow

PENDING = "pending"
WEBHOOK_KEY = WEBHOOK_CALLER.key_id
"""Who submitted the helpdesk's own tickets: an API key's "rt:123" names no RT ticket of ours."""
FROM_WEBHOOK = TicketRow.submitted_by == WEBHOOK_KEY
"""The condition on a ticket row that the helpdesk's signed webhook submitted it."""
FROM_WEBHOOK_IN_RANGE = func.coalesce(TicketRow.submitted_by, "") == WEBHOOK_KEY
"""The same condition, in a form no index serves: for queries bounded by a time index, which
SQLite without statistics would otherwise pass over for the submitter's (every webhook ticket)."""


def webhook_ticket(external_id: str, what: Any = TicketRow) -> Select[Any]:
    """The query for our ticket (or ``what`` of it: a column) of a helpdesk ticket, by its
    external id ("rt:123"), if the helpdesk's signed webhook submitted it."""
    return select(what).where(TicketRow.external_id == external_id, FROM_WEBHOOK)


class Outbox:
    """Repository of outbox rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def decision_id(self, ticket_id: str, decided_at: datetime | None) -> int | None:
        """The newest stored decision of the ticket not yet in the outbox (same time preferred).

        A review resume can carry the first decision's time, so time alone is not a key.
        """
        with self.db.session() as session:
            rows = session.execute(
                select(DecisionRow.id, DecisionRow.decided_at)
                .where(
                    DecisionRow.ticket_id == ticket_id,
                    DecisionRow.id.not_in(select(OutboxRow.decision_id)),
                )
                .order_by(DecisionRow.id.desc())
            ).all()
        if not rows:
            return None
        exact = [i for i, at in rows if decided_at is not None and at == decided_at]
        return int(exact[0] if exact else rows[0][0])

    def from_webhook(self, ticket_id: str) -> bool:
        """True when the signed helpdesk webhook submitted the ticket (its external id is RT's)."""
        with self.db.session() as session:
            by = session.scalar(select(TicketRow.submitted_by).where(TicketRow.id == ticket_id))
        return by == WEBHOOK_KEY

    def enqueue(
        self,
        decision_id: int,
        ticket_id: str,
        helpdesk: str,
        external_id: str,
        update: dict[str, Any],
    ) -> bool:
        """Add a row; False when that decision already has one."""
        row = OutboxRow(
            decision_id=decision_id,
            ticket_id=ticket_id,
            helpdesk=helpdesk,
            external_id=external_id,
            update=update,
            status=PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            progress={},
        )
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def due(self, now: datetime, limit: int = 50) -> list[OutboxRow]:
        """The oldest pending row of each ticket, when its next attempt is due, oldest first."""
        with self.db.session() as session:
            heads = (
                select(func.min(OutboxRow.id))
                .where(OutboxRow.status == PENDING)
                .group_by(OutboxRow.helpdesk, OutboxRow.external_id)
            )
            query = (
                select(OutboxRow)
                .where(OutboxRow.id.in_(heads), OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            return list(session.scalars(query).all())

    def claim(self, row_id: int, now: datetime, lease_s: float = LEASE_S) -> bool:
        """Take a due row for this loop alone; False when another loop took it first.

        The update is conditional on the row still being due, so of two loops that both saw it
        due, only the first one's update matches; finish() or retry() ends the lease.
        """
        due = [
            OutboxRow.id == row_id,
            OutboxRow.status == PENDING,
            OutboxRow.next_attempt_at <= now,
        ]
        return claim(self.db, OutboxRow.next_attempt_at, due, now, lease_s)

    def has_earlier(self, row: OutboxRow) -> bool:
        """True when an earlier row (an earlier decision) exists for the row's ticket."""
        with self.db.session() as session:
            earlier = session.scalar(select(OutboxRow.id).where(*_earlier_than(row)))
        return earlier is not None

    def earlier_tags(self, row: OutboxRow) -> set[str]:
        """The tags the earlier rows of the row's ticket set (ours, not the helpdesk users')."""
        with self.db.session() as session:
            updates = session.scalars(select(OutboxRow.update).where(*_earlier_than(row))).all()
        return {
            str(tag)
            for update in updates
            for tag in ((update or {}).get("custom_fields") or {}).get(TAGS_FIELD) or []
        }

    def next_due(self) -> datetime | None:
        """When the earliest pending row is due, or None when nothing is pending."""
        with self.db.session() as session:
            return session.scalars(
                select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == PENDING)
            ).first()

    def save_progress(self, row_id: int, progress: dict[str, Any]) -> None:
        """Record a step done, before the next one starts (exactly-once across crashes)."""
        with self.db.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.progress = dict(progress)

    def finish(self, row_id: int, status: str, error: str | None = None) -> None:
        """Close a row as applied, partial or rejected."""
        with self.db.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.status, row.last_error, row.applied_at = status, error, utcnow()

    def retry(self, row_id: int, delay_s: float, error: str) -> int:
        """Count a failed attempt and set the next one; returns the attempts so far."""
        with self.db.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is None:
                return 0
            row.attempts += 1
            row.last_error = error[:1000]
            row.next_attempt_at = utcnow() + timedelta(seconds=delay_s)
            return row.attempts

    def rows(self, external_id: str | None = None) -> list[OutboxRow]:
        """All rows (of one helpdesk ticket), in order."""
        with self.db.session() as session:
            query = select(OutboxRow).order_by(OutboxRow.id)
            if external_id is not None:
                query = query.where(OutboxRow.external_id == external_id)
            return list(session.scalars(query).all())

    def pending_count(self) -> int:
        """Rows not yet delivered."""
        with self.db.session() as session:
            count = session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.status == PENDING)
            )
            return int(count or 0)

    def newest_created(self) -> datetime | None:
        """When the newest row was written, None before the first."""
        with self.db.session() as session:
            return session.scalar(select(func.max(OutboxRow.created_at)))

    def orphans(self, prefix: str, since: datetime) -> list[tuple[int, str]]:
        """Latest decisions since then of tickets from that helpdesk that have no outbox row."""
        with self.db.session() as session:
            latest = select(func.max(DecisionRow.id)).group_by(DecisionRow.ticket_id)
            query = (
                select(DecisionRow.id, DecisionRow.ticket_id)
                .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
                .where(
                    DecisionRow.id.in_(latest),
                    DecisionRow.decided_at >= since,
                    TicketRow.external_id.like(f"{prefix}%"),
                    FROM_WEBHOOK,
                    DecisionRow.id.not_in(select(OutboxRow.decision_id)),
                )
                .order_by(DecisionRow.id)
            )
            return [(int(i), str(t)) for i, t in session.execute(query).all()]


def _earlier_than(row: OutboxRow) -> tuple[Any, ...]:
    """Conditions for the rows of the same helpdesk ticket written before this one."""
    return (
        OutboxRow.helpdesk == row.helpdesk,
        OutboxRow.external_id == row.external_id,
        OutboxRow.id < row.id,
    )
