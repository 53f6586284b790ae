"""Our ticket open or closed as the helpdesk has it: reopens, closes and merges there.

A reopen there makes the ticket open here again (decided, or in review; one whose triage had
failed is failed again and tried again, as its sender's resend would be); a rejection or
deletion (a closing status other than resolved) closes it here (status resolved) with nothing
learned; a ticket merged into another is closed here, its work going on as the other. The
helpdesk is read as it is now: whichever event comes last, the ticket is open here exactly when
the helpdesk has it open. A dead letter of a ticket the helpdesk closed waits for nobody: it is
discarded (and opened again if the helpdesk reopens the ticket).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import suppress

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.errors import ConflictError
from agent.settings import HELPDESK_CLOSED_STATUSES
from api.deps import Services
from api.helpdesk.base import Helpdesk, HelpdeskRejected
from api.helpdesk.outbox import webhook_ticket
from api.intake.dlq import DeadLetters
from api.schemas import OPEN_STATUSES, UNFINISHED_STATUSES
from api.store import held_row
from api.tables import DecisionRow, TicketRow, utcnow

Resubmit = Callable[[str, str, str, str], None]
"""Try a failed ticket again (ticket id, intake source, by, reason): ``Intake.resubmitted``."""


class OpenState:
    """Applies the helpdesk's reopens, closes and merges to our tickets."""

    def __init__(
        self,
        services: Services,
        helpdesk: Helpdesk,
        source: str,
        closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
        resubmit: Resubmit | None = None,
    ) -> None:
        self.services, self.helpdesk, self.source = services, helpdesk, source
        self.closed, self.resubmit = closed, resubmit
        self.dead_letters = DeadLetters(services.db)

    def reopen(self, external_id: str) -> None:
        """A ticket reopened in the helpdesk is open here again: in the SLA watch (or review),
        unless the helpdesk has closed it again since (this event came late)."""
        if self._open_there(external_id):
            self.reopen_here(external_id)

    def reopen_here(self, external_id: str) -> None:
        """Open here again, if the helpdesk's close (or resolution) closed it here."""
        with self.services.db.session() as session:
            found = self._our_ticket(session, external_id)
            if found is None or found.status not in ("resolved", "failed"):
                return
            ticket_id, failed = found.id, found.status == "failed"
        if failed or self._reopen_decided(ticket_id):
            self._triage_again(ticket_id, external_id)

    def _reopen_decided(self, ticket_id: str) -> bool:
        """Open again as its latest decision left it; True when it has none because its
        triage had failed: failed again here."""
        with self.services.db.session() as session:
            # Held before its decisions are read: a review storing its decision meanwhile
            # either comes first (its decision is read here) or waits for this write (and then
            # decides the reopened ticket). Read first, the held decision would put a ticket
            # the reviewer decided back in review, where no review can resume it.
            row = held_row(session, ticket_id)
            if row is None or row.status != "resolved":
                return False
            held = session.scalars(
                select(DecisionRow.needs_review)
                .where(DecisionRow.ticket_id == row.id)
                .order_by(DecisionRow.id.desc())
            ).first()
            if held is None and row.error is None:
                return False  # closed before its triage ended (merged into another): stays so
            if held is None:  # no decision and an error: its triage had failed when closed
                row.status = "failed"
            elif held and row.claim_token is not None:
                # A reviewer who was deciding it when it was closed still holds its claim: it
                # stays theirs (a second reviewer would decide it too), and goes stale as usual
                # if their process died. Not renewed here: updated_at stays the claim's last sign
                # of life (its holder renews it while closed too), so a claim whose process died
                # while the ticket was closed is free at once, not one lease after the reopen.
                row.status = "deciding"
                row.updated_at = TicketRow.updated_at
                return False
            else:
                row.status = "review" if held else "decided"
            row.updated_at = utcnow()
            return held is None

    def _triage_again(self, ticket_id: str, external_id: str) -> None:
        """A failed ticket the helpdesk has open (again) is tried again, as its sender's resend
        would be: the dead letter the helpdesk's close discarded is open again and replayed; a
        person's discard stands. Failed here until then, so a failed try is tried again."""
        by, reason = f"helpdesk:{self.source}", f"reopened in {self.source} ticket {external_id}"
        letter = self.dead_letters.latest(ticket_id)
        if letter is not None and letter.state == "discarded" and letter.resolved_by == by:
            self.dead_letters.restore(letter.id, by, reason)
        if self.resubmit is not None:
            self.resubmit(ticket_id, "helpdesk", by, reason)

    def close(self, external_id: str) -> None:
        """Closed in the helpdesk without a resolution: no longer open here (nor learned).
        A ticket whose triage failed is closed too, so the intake's retry leaves it alone. One
        the helpdesk has opened again since (this event came late) stays open."""
        if self._open_there(external_id):
            return
        self._close_here(
            external_id, (*OPEN_STATUSES, "failed"), f"closed in {self.source} ticket {external_id}"
        )

    def merged(self, external_id: str) -> None:
        """Tickets merged into this one in the helpdesk are closed here (nor learned): their
        work goes on as this one, whose resolution is learned. One still waiting for triage is
        closed too, so it is not triaged for nothing."""
        history = self.helpdesk.history(external_id)
        others = sorted({t.ticket_id for t in history if t.ticket_id not in (None, external_id)})
        for other in others:
            reason = f"merged into {self.source} ticket {external_id}"
            self._close_here(str(other), (*OPEN_STATUSES, "failed", *UNFINISHED_STATUSES), reason)

    def _close_here(self, external_id: str, closable: tuple[str, ...], reason: str) -> None:
        with self.services.db.session() as session:
            row = self._our_ticket(session, external_id)
            if row is None:
                return
            ticket_id = row.id
            closed = row.status in closable
            if closed:
                row.status, row.front_of_queue, row.updated_at = "resolved", False, utcnow()
        if closed:
            self.drop_run(ticket_id)
        self.discard_dead_letter(ticket_id, reason)

    def drop_run(self, ticket_id: str) -> None:
        """A run held for review (or stopped midway) of a ticket the helpdesk resolved or closed:
        nobody resumes it, and its checkpoints would stay as long as the service runs. Reopened,
        the ticket is reviewed from its stored held decision."""
        self.services.engine.forget(ticket_id)

    def _open_there(self, external_id: str) -> bool:
        """True when the helpdesk has the ticket open now (False when it has it no more).

        Events can come out of order (the catch-up hands over one whose post failed after a
        later one got through): the ticket's state here follows the helpdesk's as it is now.
        """
        try:
            status = self.helpdesk.ticket(external_id).status
        except HelpdeskRejected:
            return False  # deleted for good (or not ours to read): open nowhere
        return status.lower() not in self.closed

    def discard_dead_letter(self, ticket_id: str, reason: str) -> None:
        """A dead letter of a ticket the helpdesk closed waits for nobody: a replay would
        only make a decision for a closed ticket, open here again."""
        letter = self.dead_letters.latest(ticket_id)
        if letter is None or letter.state != "open":
            return
        # a person replayed or discarded it meanwhile: theirs stands
        with suppress(ConflictError):
            self.dead_letters.resolve(letter.id, "discarded", f"helpdesk:{self.source}", reason)

    def _our_ticket(self, session: Session, external_id: str) -> TicketRow | None:
        """Our ticket for the helpdesk's ticket, if its signed webhook sent it."""
        return session.scalars(webhook_ticket(f"{self.source}:{external_id}")).first()
