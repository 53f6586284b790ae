"""What the intake remembers per ticket: source, original payload, attempts, run lease, threads."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update

from api.db import Database
from api.intake.tables import IntakeTicketRow, QueueRow, ThreadRow, tier_column
from api.schemas import UNFINISHED_STATUSES
from api.tables import TicketRow


@dataclass(frozen=True)
class Attempt:
    """The outcome of trying to start a triage run: owned or not, and the attempt number."""

    owned: bool
    attempts: int
    wait_s: float = 0.0


class IntakeRecords:
    """Repository of intake_tickets and intake_threads."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(
        self,
        ticket_id: str,
        source: str,
        channel: str,
        tier: str,
        priority: int,
        raw: dict[str, Any],
        publishing: bool = False,
    ) -> None:
        """Remember an accepted ticket's source, order and original payload; ``publishing``:
        its put goes to a broker, to be confirmed by ``published`` (``unconfirmed`` until then)."""
        with self.db.session() as session:
            session.add(
                IntakeTicketRow(
                    ticket_id=ticket_id,
                    source=source,
                    channel=channel,
                    tier=tier_column(tier),
                    priority=priority,
                    attempts=0,
                    raw=raw,
                    running_until=_publishing() if publishing else None,
                )
            )

    def forget(self, ticket_id: str) -> None:
        """Drop the record of a ticket that was never queued (the queue was full)."""
        with self.db.session() as session:
            session.execute(delete(IntakeTicketRow).where(IntakeTicketRow.ticket_id == ticket_id))

    def get(self, ticket_id: str) -> IntakeTicketRow | None:
        """The intake record of a ticket, if it came through the intake."""
        with self.db.session() as session:
            return session.get(IntakeTicketRow, ticket_id)

    def start_attempt(self, ticket_id: str, lease_s: float) -> Attempt | None:
        """Own the ticket's triage run for lease_s and count the attempt; None if unknown."""
        now = time.time()
        with self.db.session() as session:
            owned = session.execute(
                update(IntakeTicketRow)
                .where(
                    IntakeTicketRow.ticket_id == ticket_id,
                    or_(
                        IntakeTicketRow.running_until.is_(None),
                        IntakeTicketRow.running_until < now,
                    ),
                )
                .values(attempts=IntakeTicketRow.attempts + 1, running_until=now + lease_s)
                .returning(IntakeTicketRow.attempts)
            ).first()
            if owned is not None:
                return Attempt(owned=True, attempts=int(owned[0]))
            row = session.get(IntakeTicketRow, ticket_id)
            if row is None:
                return None
            return Attempt(False, row.attempts, max(0.05, (row.running_until or now) - now))

    def extend_attempt(self, ticket_id: str, lease_s: float) -> None:
        """Own a run still going for lease_s more (not one that ended meanwhile)."""
        with self.db.session() as session:
            session.execute(
                update(IntakeTicketRow)
                .where(
                    IntakeTicketRow.ticket_id == ticket_id,
                    IntakeTicketRow.running_until.is_not(None),
                )
                .values(running_until=time.time() + lease_s)
            )

    def end_attempt(self, ticket_id: str, error: str | None = None) -> None:
        """Release the run (and remember the last error when it failed)."""
        values: dict[str, Any] = {"running_until": None}
        if error is not None:
            values["last_error"] = error
        with self.db.session() as session:
            session.execute(
                update(IntakeTicketRow).where(IntakeTicketRow.ticket_id == ticket_id).values(values)
            )

    def reset_attempts(self, ticket_id: str, publishing: bool = False) -> None:
        """A replayed dead letter starts counting afresh (``publishing``: see register)."""
        running_until = _publishing() if publishing else None
        with self.db.session() as session:
            session.execute(
                update(IntakeTicketRow)
                .where(IntakeTicketRow.ticket_id == ticket_id)
                .values(attempts=0, running_until=running_until, last_error=None)
            )

    def published(self, ticket_id: str) -> None:
        """The broker confirmed the ticket's put: it is in a queue (a run that began since
        owns the ticket already and is left as it is)."""
        with self.db.session() as session:
            session.execute(
                update(IntakeTicketRow)
                .where(IntakeTicketRow.ticket_id == ticket_id, IntakeTicketRow.running_until < 0)
                .values(running_until=None)
            )

    def unconfirmed(self) -> list[tuple[str, str, int, float]]:
        """Tickets still to triage whose put to a broker was never confirmed: id, source,
        order and the (negative) mark of their put, which began ``-mark`` epoch seconds."""
        with self.db.session() as session:
            query = (
                select(
                    IntakeTicketRow.ticket_id,
                    IntakeTicketRow.source,
                    IntakeTicketRow.priority,
                    IntakeTicketRow.running_until,
                )
                .join(TicketRow, TicketRow.id == IntakeTicketRow.ticket_id)
                .where(TicketRow.status.in_(UNFINISHED_STATUSES))
                .where(IntakeTicketRow.running_until < 0)
            )
            return [(r[0], r[1], r[2], float(r[3] or 0)) for r in session.execute(query)]

    def republishing(self, ticket_id: str, mark: float) -> bool:
        """Take an unconfirmed put over to make it again (its mark now, as a new put's):
        False when it is not ``mark`` any more (confirmed, run, or taken over elsewhere)."""
        with self.db.session() as session:
            taken = session.execute(
                update(IntakeTicketRow)
                .where(
                    IntakeTicketRow.ticket_id == ticket_id, IntakeTicketRow.running_until == mark
                )
                .values(running_until=_publishing())
                .returning(IntakeTicketRow.ticket_id)
            ).first()
            return taken is not None

    def owned_ids(self, ticket_ids: list[str]) -> set[str]:
        """The tickets among these that the intake owns (its workers run them)."""
        if not ticket_ids:
            return set()
        with self.db.session() as session:
            query = select(IntakeTicketRow.ticket_id).where(
                IntakeTicketRow.ticket_id.in_(ticket_ids)
            )
            return set(session.scalars(query).all())

    def stranded(self) -> list[tuple[str, str, int]]:
        """Intake tickets still to triage with no queue entry (a crash between store and put)."""
        with self.db.session() as session:
            query = (
                select(IntakeTicketRow.ticket_id, IntakeTicketRow.source, IntakeTicketRow.priority)
                .join(TicketRow, TicketRow.id == IntakeTicketRow.ticket_id)
                .where(TicketRow.status.in_(UNFINISHED_STATUSES))
                .where(~IntakeTicketRow.ticket_id.in_(select(QueueRow.ticket_id)))
            )
            return [(r[0], r[1], r[2]) for r in session.execute(query)]

    def thread_of(self, message_ids: list[str]) -> str | None:
        """The ticket an e-mail answers, from its In-Reply-To/References ids (newest first)."""
        if not message_ids:
            return None
        with self.db.session() as session:
            rows = session.execute(
                select(ThreadRow.message_id, ThreadRow.ticket_id).where(
                    ThreadRow.message_id.in_(message_ids)
                )
            ).all()
        found = {r[0]: r[1] for r in rows}
        return next((found[m] for m in message_ids if m in found), None)

    def add_thread(self, message_id: str, ticket_id: str) -> None:
        """Remember that a Message-ID belongs to a ticket's thread (first one wins)."""
        with self.db.session() as session:
            if session.get(ThreadRow, message_id) is None:
                session.add(ThreadRow(message_id=message_id[:400], ticket_id=ticket_id))


def _publishing() -> float:
    """The mark of a put to a broker not confirmed yet: minus the epoch seconds it began."""
    return -time.time()
