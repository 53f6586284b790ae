"""The claim of a held ticket by the reviewer deciding it, in the database (across processes).

A review resumes the ticket's waiting run once: two API processes on one database answering the
same ticket at once would both see it waiting and both resume it. The claim moves the ticket
from ``review`` to ``deciding`` in one conditional UPDATE, which only one of them can make; the
other is told the ticket is taken. A decision that fails gives the claim back, and a claim whose
process died goes stale after ``stale_after_s`` without a sign of life and may be taken again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, update

from api.db import Database
from api.tables import TicketRow, utcnow


class ReviewClaims:
    """Claims of held tickets, over the tickets table."""

    def __init__(self, db: Database, stale_after_s: float) -> None:
        self.db = db
        self.stale_after_s = stale_after_s

    def claim(self, ticket_id: str) -> bool:
        """Take the held ticket for deciding; False when it is not waiting or already taken."""
        now = utcnow()
        stale = and_(
            TicketRow.status == "deciding",
            TicketRow.updated_at < now - timedelta(seconds=self.stale_after_s),
        )
        with self.db.session() as session:
            taken = session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, or_(TicketRow.status == "review", stale))
                .values(status="deciding", updated_at=now)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def renew(self, ticket_id: str) -> None:
        """A sign of life of the decision in progress: its claim does not go stale."""
        self._move(ticket_id, "deciding")

    def release(self, ticket_id: str) -> None:
        """The decision failed: the ticket waits for review again."""
        self._move(ticket_id, "review")

    def _move(self, ticket_id: str, status: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status == "deciding")
                .values(status=status, updated_at=utcnow())
            )
