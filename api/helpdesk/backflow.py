"""Back-flow: helpdesk events after creation; a resolution becomes a learned case and a KPI record.

``handle`` only records the event (deduplicated by event_id) and returns, because the helpdesk
waits for the webhook's answer; ``BackflowWorker`` then reads the resolved ticket's history,
computes the outcome, feeds the knowledge base (label_source "helpdesk"; "decision" when the final
queue is no team) and writes the feedback record the KPI endpoint reads (a person moving the ticket
to another queue after our decision makes the final team differ from our first route: a
misroute). A specialist's team stays against the queue, any person's against a queue that is no
team, and the record says so (knowledge.cases.stands_against); the outcome's facts are learned
as always. The events of a ticket still queued for triage wait for its decision, and those
processed before its creation reached the service (caught up after them) are taken up again
once it has. A reopen, applied in its turn after the resolution before it, makes the ticket
open here again (decided, or in review; one whose triage had failed is failed again and tried
again, as its sender's resend would be); a rejection or deletion closes it here (status
resolved) without learning anything; whichever of these comes last (the catch-up may hand over
one after a later one), the ticket is left open here exactly when the helpdesk has it open now.
A ticket merged into another there is closed here (nothing learned): its work goes on as the
other. A queue or owner change there moves the ticket's current team and assignee here
(api.helpdesk.moves). A worker claims each event before it processes it (a lease, as the
outbox's rows), so of two API processes on one database only one learns a resolution; the
other leaves that ticket's events to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.errors import ConflictError
from agent.settings import HELPDESK_CLOSED_STATUSES
from api.db import Database
from api.deps import Services
from api.helpdesk.base import Helpdesk, HelpdeskError, HelpdeskRejected, HelpdeskUnavailable
from api.helpdesk.lease import LEASE_S, claim
from api.helpdesk.moves import MOVE_FIELDS, MOVED, Moves, reopen_moves_before_decision
from api.helpdesk.outbox import FROM_WEBHOOK, FROM_WEBHOOK_IN_RANGE, webhook_ticket
from api.helpdesk.outcome import Outcome, compute_outcome
from api.helpdesk.polling import PollingThread
from api.helpdesk.tables import EventRow, OutcomeRow
from api.hooks import HelpdeskEvent
from api.intake.dlq import DeadLetters
from api.schemas import OPEN_STATUSES, UNFINISHED_STATUSES
from api.store import held_row
from api.tables import DecisionRow, TicketRow, utcnow
from knowledge.feedback import Feedback

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
# How far back tickets are looked at for events processed before the service had them.
CAUGHT_UP_WITHIN = timedelta(days=1)
# The events the worker applies; the others are only recorded. "closed": a status change that
# closes the ticket without a resolution (RT's rejected, deleted; the closing statuses set but
# resolved, helpdesk_closed_statuses): nothing to learn, nothing due.
# "merged": another ticket was merged into this one (RT reads the merged one as this one since).
# "moved": its queue or owner changed (api.helpdesk.moves).
WORK = ("resolved", "reopened", "closed", "merged", MOVED)
Resubmit = Callable[[str, str, str, str], None]
"""Try a failed ticket again (ticket id, intake source, by, reason): ``Intake.resubmitted``."""
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


class BackflowWorker(PollingThread):
    """Turns recorded resolutions into knowledge-base cases and KPI feedback; applies reopens."""

    thread_name = "helpdesk-backflow"

    def __init__(
        self,
        services: Services,
        helpdesk: Helpdesk,
        source: str = "rt",
        poll_s: float = 2.0,
        resubmit: Resubmit | None = None,
        closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
    ) -> None:
        super().__init__(poll_s)
        self.services, self.helpdesk, self.source = services, helpdesk, source
        self.resubmit, self.closed = resubmit, closed
        self.events = EventLog(services.db, closed)
        self.dead_letters = DeadLetters(services.db)
        self.moves = Moves(services, helpdesk, source)

    def run_pass(self) -> float:
        """Drain the pending resolutions, then wait the poll interval."""
        self.drain()
        return self.poll_s

    def drain(self) -> int:
        """Process every pending resolution; returns how many succeeded."""
        done = 0
        waiting: set[str] = set()
        self.events.reopen_before_ticket(self.source, utcnow() - CAUGHT_UP_WITHIN)
        reopen_moves_before_decision(self.services.db, self.source, utcnow() - CAUGHT_UP_WITHIN)
        for row in self.events.pending(self.source):
            if row.external_id in waiting or self._undecided(row.external_id):
                # Still queued for triage: its decision would undo the resolution. Its events
                # wait, in their order, uncounted.
                waiting.add(row.external_id)
                continue
            if not self.events.claim(row.event_id, utcnow()):
                # Another process has it (or has just processed it): the ticket's later events
                # wait for it, in their order.
                waiting.add(row.external_id)
                continue
            try:
                if row.type == "reopened":
                    self.reopen(row.external_id)
                elif row.type == "closed":
                    self.close(row.external_id)
                elif row.type == "merged":
                    self.merged(row.external_id)
                elif row.type == MOVED:
                    self.moves.follow(row.external_id)
                else:
                    self.process(row.external_id)
            except HelpdeskUnavailable as exc:
                # Not an attempt: the resolution waits for the helpdesk however long it is down.
                self.events.done(row.event_id, f"{type(exc).__name__}: {exc}", count=False)
                break
            except HelpdeskError as exc:
                # Refused for this ticket (gone, no rights): counted; the others go on.
                self.events.done(row.event_id, f"{type(exc).__name__}: {exc}")
                waiting.add(row.external_id)
                continue
            except Exception as exc:
                # Knowledge base or store failed: counted, retried up to MAX_ATTEMPTS, logged.
                log.exception(
                    "resolution of %s ticket %s not learned", self.source, row.external_id
                )
                self.events.done(row.event_id, f"{type(exc).__name__}: {exc}")
                continue
            self.events.done(row.event_id)
            done += 1
        return done

    def process(self, external_id: str) -> Outcome:
        """Read the ticket, compute the outcome, learn it and record it for the KPIs."""
        ticket_id, decided_at, first_team = self._ours(f"{self.source}:{external_id}")
        ticket = self.helpdesk.ticket(external_id)
        outcome = compute_outcome(
            ticket, self.helpdesk.history(external_id), self.helpdesk.bot_user, decided_at
        )
        with self.services.db.session() as session:
            session.add(
                OutcomeRow(
                    helpdesk=self.source,
                    external_id=external_id,
                    ticket_id=ticket_id,
                    outcome={
                        **outcome.model_dump(mode="json"),
                        "misrouted": outcome.misrouted,
                        "first_contact_resolved": outcome.first_contact_resolved,
                    },
                )
            )
        if ticket_id is not None:
            self._learn(ticket_id, outcome, first_team)
            self._discard_dead_letter(ticket_id, f"resolved in {self.source} ticket {external_id}")
            if ticket.status.lower() not in self.closed:
                # Reopened since (the reopen's event came first): learned, and open as there.
                self._reopen_here(external_id)
        return outcome

    def reopen(self, external_id: str) -> None:
        """A ticket reopened in the helpdesk is open here again: in the SLA watch (or review),
        unless the helpdesk has closed it again since (this event came late)."""
        if self._open_there(external_id):
            self._reopen_here(external_id)

    def _reopen_here(self, external_id: str) -> None:
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
            # No decision and an error: its triage had failed when the helpdesk closed it.
            # A reviewer who was deciding it when it was closed still holds its claim: it stays
            # theirs (a second reviewer would decide it too), and goes stale as usual if their
            # process died.
            claimed = bool(held) and row.claim_token is not None
            row.status = (
                "failed"
                if held is None
                else "deciding"
                if claimed
                else "review"
                if held
                else "decided"
            )
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
            if row.status in closable:
                row.status, row.front_of_queue, row.updated_at = "resolved", False, utcnow()
        self._discard_dead_letter(ticket_id, reason)

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

    def _discard_dead_letter(self, ticket_id: str, reason: str) -> None:
        """A dead letter of a ticket the helpdesk closed waits for nobody: a replay would
        only make a decision for a closed ticket, open here again."""
        letter = self.dead_letters.latest(ticket_id)
        if letter is None or letter.state != "open":
            return
        # a person replayed or discarded it meanwhile: theirs stands
        with suppress(ConflictError):
            self.dead_letters.resolve(letter.id, "discarded", f"helpdesk:{self.source}", reason)

    def _undecided(self, external_id: str) -> bool:
        """True while our ticket for it waits for triage (queued or triaging)."""
        with self.services.db.session() as session:
            row = self._our_ticket(session, external_id)
            return row is not None and row.status in UNFINISHED_STATUSES

    def _our_ticket(self, session: Session, external_id: str) -> TicketRow | None:
        """Our ticket for the helpdesk's ticket, if its signed webhook sent it."""
        return session.scalars(webhook_ticket(f"{self.source}:{external_id}")).first()

    def _ours(self, external: str) -> tuple[str | None, datetime | None, str | None]:
        """Our ticket id, first decision time and first team for a helpdesk ticket, if any."""
        with self.services.db.session() as session:
            ticket_id = session.scalars(webhook_ticket(external, TicketRow.id)).first()
            if ticket_id is None:
                return None, None, None
            first = session.scalars(
                select(DecisionRow)
                .where(DecisionRow.ticket_id == ticket_id)
                .order_by(DecisionRow.id)
            ).first()
            if first is None:
                return ticket_id, None, None
            return ticket_id, first.decided_at.astimezone(UTC), first.team

    def _learn(self, ticket_id: str, outcome: Outcome, first_team: str | None) -> None:
        policy = self.services.engine.policy
        stored = self.services.store.ticket(ticket_id)
        # RT finds a queue whatever its case, and names it in its own spelling
        teams = {name.lower(): name for name in policy.team_names}
        team = teams.get(outcome.final_queue.lower())
        final_team = team or first_team
        escalated = final_team is not None and final_team != policy.first_line_team
        correction = Feedback(
            ticket_id=ticket_id,
            subject=stored.subject,
            body=stored.body,
            requester=stored.requester,
            account_id=stored.account.id,
            language=stored.language,
            correct_team=final_team,
            escalation_needed=escalated,
            resolution=outcome.resolution,
            first_contact_resolved=outcome.first_contact_resolved if escalated else None,
            handling_hours=outcome.hours_to_resolve,
            first_route=first_team,
            note=f"resolved in {self.source} ticket {outcome.external_id}",
            # a queue that is no team names none: the team is then our own first decision's,
            # which any person's label (a reviewer's of this very ticket) outranks
            label_source="helpdesk" if team is not None else "decision",
        )
        case = self.services.engine.learn(correction)
        record: dict[str, Any] = {}
        if case.label_source != correction.label_source and case.team != final_team:
            # A person's label stays (knowledge.cases.stands_against; logged there), for the
            # KPIs too: they read the latest feedback record. The queue's team is kept beside it.
            record = {"helpdesk_team": team, "team_kept": case.label_source}
            final_team, escalated = case.team, case.team != policy.first_line_team
        record |= {
            "final_team": final_team,
            "escalation_needed": escalated,
            "escalated": escalated,  # by the first line of now (the KPIs read it)
            "first_contact_resolved": outcome.first_contact_resolved if escalated else None,
            "handling_hours": outcome.hours_to_resolve,
            "resolution": outcome.resolution,
            "reassignments": outcome.reassignments,
            "reopened": outcome.reopened,
            "misrouted": outcome.misrouted,
            "source": self.source,
            "external_id": outcome.external_id,
            "author": f"helpdesk:{self.source}",
        }
        self.services.ledger.add_feedback(ticket_id, f"helpdesk:{self.source}", record)
