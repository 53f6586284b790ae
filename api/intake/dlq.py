"""The dead-letter store: tickets that failed all their attempts, kept until replay or discard.

Listed highest impact first (account tier, pre-priority, age). Leaving it takes a replay (the
ticket goes back to the queue, optionally with a fixed payload) or an explicit discard with who
and why; both are logged and kept on the row, which is never deleted.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import case, func, select, update

from agent.errors import ConflictError, InputError, NotFoundError
from api.db import Database
from api.intake.prepriority import TIER_ORDER
from api.intake.tables import DeadLetterRow, tier_column
from api.tables import utcnow

log = logging.getLogger(__name__)

DeadLetterState = Literal["open", "replayed", "discarded"]


class DeadLetter(BaseModel):
    """One dead letter as listed and shown."""

    id: int
    ticket_id: str
    source: str
    channel: str
    tier: str
    priority: int
    error: str
    attempts: int
    state: DeadLetterState
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    reason: str | None = None
    payload: dict[str, Any] | None = None
    ticket: dict[str, Any] | None = None


def _view(row: DeadLetterRow, full: bool) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        ticket_id=row.ticket_id,
        source=row.source,
        channel=row.channel,
        tier=row.tier,
        priority=row.priority,
        error=row.error,
        attempts=row.attempts,
        state=row.state,  # type: ignore[arg-type]
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        reason=row.reason,
        payload=row.payload if full else None,
        ticket=row.ticket if full else None,
    )


class DeadLetters:
    """Repository of dead letters."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        ticket_id: str,
        source: str,
        channel: str,
        tier: str,
        priority: int,
        error: str,
        attempts: int,
        payload: dict[str, Any],
        ticket: dict[str, Any],
    ) -> int:
        """Dead-letter a ticket; an already open dead letter of the ticket is returned instead."""
        with self.db.session() as session:
            existing = session.scalars(
                select(DeadLetterRow).where(
                    DeadLetterRow.ticket_id == ticket_id, DeadLetterRow.state == "open"
                )
            ).first()
            if existing is not None:
                return existing.id
            row = DeadLetterRow(
                ticket_id=ticket_id,
                source=source,
                channel=channel,
                tier=tier_column(tier),
                priority=priority,
                error=error,
                attempts=attempts,
                payload=payload,
                ticket=ticket,
                state="open",
            )
            session.add(row)
            session.flush()
            log.warning("dead-lettered ticket %s after %d attempts: %s", ticket_id, attempts, error)
            return row.id

    def list(self, state: DeadLetterState = "open", limit: int = 100) -> list[DeadLetter]:
        """Dead letters, highest impact first: biggest account, most urgent, oldest."""
        tier = func.lower(DeadLetterRow.tier)  # as the ticket gave it: VIP is vip
        tier_rank = case(TIER_ORDER, value=tier, else_=len(TIER_ORDER))
        query = (
            select(DeadLetterRow)
            .where(DeadLetterRow.state == state)
            .order_by(tier_rank, DeadLetterRow.priority, DeadLetterRow.created_at)
            .limit(limit)
        )
        with self.db.session() as session:
            return [_view(r, full=False) for r in session.scalars(query).all()]

    def get(self, letter_id: int) -> DeadLetter:
        """One dead letter with its payload and ticket."""
        with self.db.session() as session:
            return _view(self._row(session, letter_id), full=True)

    def latest(self, ticket_id: str) -> DeadLetter | None:
        """The ticket's newest dead letter, whatever its state; None if it never had one."""
        query = (
            select(DeadLetterRow)
            .where(DeadLetterRow.ticket_id == ticket_id)
            .order_by(DeadLetterRow.id.desc())
            .limit(1)
        )
        with self.db.session() as session:
            row = session.scalars(query).first()
            return _view(row, full=False) if row is not None else None

    def resolve(
        self, letter_id: int, state: DeadLetterState, by: str, reason: str | None
    ) -> DeadLetter:
        """Close an open dead letter as replayed or discarded, recording who and why.

        One conditional UPDATE: of two people (or requests) closing the same letter at once,
        exactly one succeeds and the other gets a ConflictError.
        """
        if state == "discarded" and not (reason or "").strip():
            raise InputError("a discard needs a reason")
        closing = (
            update(DeadLetterRow)
            .where(DeadLetterRow.id == letter_id, DeadLetterRow.state == "open")
            .values(state=state, resolved_by=by, reason=reason, resolved_at=utcnow())
        )
        with self.db.session() as session:
            closed = session.execute(closing).rowcount  # type: ignore[attr-defined]
            row = self._row(session, letter_id)
            if not closed:
                raise ConflictError(f"dead letter {letter_id} is already {row.state}")
            log.warning(
                "dead letter %d (ticket %s) %s by %s: %s",
                letter_id,
                row.ticket_id,
                state,
                by,
                reason or "-",
            )
            return _view(row, full=True)

    def reopen(self, letter_id: int, why: str) -> None:
        """Undo a replay whose ticket could not be queued: the letter is open again."""
        reopening = (
            update(DeadLetterRow)
            .where(DeadLetterRow.id == letter_id, DeadLetterRow.state == "replayed")
            .values(state="open", resolved_by=None, reason=None, resolved_at=None)
        )
        with self.db.session() as session:
            session.execute(reopening)
        log.warning("dead letter %d open again, its replay failed: %s", letter_id, why)

    def restore(self, letter_id: int, by: str, why: str) -> bool:
        """Undo a discard by ``by`` (the helpdesk that closed the ticket opened it again): the
        letter is open again. False when it is not ``by``'s discard (a person's stands)."""
        restoring = (
            update(DeadLetterRow)
            .where(
                DeadLetterRow.id == letter_id,
                DeadLetterRow.state == "discarded",
                DeadLetterRow.resolved_by == by,
            )
            .values(state="open", resolved_by=None, reason=None, resolved_at=None)
        )
        with self.db.session() as session:
            restored = bool(session.execute(restoring).rowcount)  # type: ignore[attr-defined]
        if restored:
            log.warning("dead letter %d open again: %s", letter_id, why)
        return restored

    def open_count(self) -> int:
        """How many dead letters wait for a person."""
        with self.db.session() as session:
            query = select(DeadLetterRow.id).where(DeadLetterRow.state == "open")
            return len(session.scalars(query).all())

    @staticmethod
    def _row(session: Any, letter_id: int) -> DeadLetterRow:
        row = session.get(DeadLetterRow, letter_id)
        if row is None:
            raise NotFoundError(f"no dead letter {letter_id}")
        return row
