"""The claim of a held ticket by the reviewer deciding it, in the database (across processes).

A review resumes the ticket's waiting run once: two API processes on one database answering the
same ticket at once would both see it waiting and both resume it. The claim moves the ticket
from ``review`` to ``deciding`` in one conditional UPDATE, which only one of them can make; the
other is told the ticket is taken. A decision that fails gives the claim back, and a claim whose
process died goes stale after ``stale_after_s`` without a sign of life and may be taken again.

Each claim carries a token of its own: a claim that went stale and was taken again belongs to
its new holder, so the first holder, still alive after all, can neither renew it, nor give it
back to the queue, nor store its decision (``TicketStore.record`` checks the token).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import and_, case, or_, update

from api.db import Database
from api.tables import TicketRow, utcnow


class ReviewClaims:
    """Claims of held tickets, over the tickets table."""

    def __init__(self, db: Database, stale_after_s: float) -> None:
        self.db = db
        self.stale_after_s = stale_after_s

    def claim(self, ticket_id: str) -> str | None:
        """Take the held ticket for deciding: the claim's token, None when not waiting or taken."""
        now = utcnow()
        stale = and_(
            TicketRow.status == "deciding",
            TicketRow.updated_at < now - timedelta(seconds=self.stale_after_s),
        )
        token = uuid.uuid4().hex
        with self.db.session() as session:
            taken = session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, or_(TicketRow.status == "review", stale))
                .values(status="deciding", claim_token=token, updated_at=now)
            )
            return token if taken.rowcount else None  # type: ignore[attr-defined]

    def renew(self, ticket_id: str, token: str) -> bool:
        """A sign of life of the decision in progress; False when the claim is no longer its.

        Renewed while the helpdesk has the ticket closed too: the claim outlives the close
        (api.helpdesk.open_state), and a reopen finds it alive or stale as its holder left it.
        """
        with self.db.session() as session:
            renewed = session.execute(
                update(TicketRow)
                .where(
                    TicketRow.id == ticket_id,
                    TicketRow.status.in_(("deciding", "resolved")),
                    TicketRow.claim_token == token,
                )
                .values(updated_at=utcnow())
            )
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    def release(self, ticket_id: str, token: str) -> None:
        """The decision failed: the ticket waits for review again, if the claim is still its.

        A ticket the helpdesk closed meanwhile stays closed; it drops the claim all the same,
        so a reopen does not find it held by a decision that is over.
        """
        with self.db.session() as session:
            session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.claim_token == token)
                .values(
                    status=case((TicketRow.status == "deciding", "review"), else_=TicketRow.status),
                    claim_token=None,
                    updated_at=utcnow(),
                )
            )
