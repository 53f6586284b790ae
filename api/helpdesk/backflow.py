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
once it has. Reopens, rejections, deletions and merges there are applied in their turn among
the ticket's events (api.helpdesk.open_state): whichever comes last (the catch-up may hand over
one after a later one), the ticket is left open here exactly when the helpdesk has it open now.
A queue or owner change there moves the ticket's current team and assignee here
(api.helpdesk.moves). A worker claims each event before it processes it (a lease, as the
outbox's rows; api.helpdesk.event_log records the events), so of two API processes on one
database only one learns a resolution; the other leaves that ticket's events to it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.settings import HELPDESK_CLOSED_STATUSES
from api.deps import Services
from api.helpdesk.base import Helpdesk, HelpdeskError, HelpdeskUnavailable
from api.helpdesk.event_log import EventLog
from api.helpdesk.moves import MOVED, Moves, reopen_moves_before_decision
from api.helpdesk.open_state import OpenState, Resubmit
from api.helpdesk.outbox import webhook_ticket
from api.helpdesk.outcome import Outcome, compute_outcome
from api.helpdesk.polling import PollingThread
from api.helpdesk.tables import OutcomeRow
from api.schemas import UNFINISHED_STATUSES
from api.store import held_row
from api.tables import DecisionRow, TicketRow, utcnow
from knowledge.feedback import Feedback

log = logging.getLogger(__name__)

# How far back tickets are looked at for events processed before the service had them.
CAUGHT_UP_WITHIN = timedelta(days=1)


class BackflowWorker(PollingThread):
    """Turns recorded resolutions into knowledge-base cases and KPI feedback; hands reopens,
    closes and merges to ``OpenState``, moves to ``Moves``."""

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
        self.closed = closed
        self.events = EventLog(services.db, closed)
        self.state = OpenState(services, helpdesk, source, closed, resubmit)
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
                    self.state.reopen(row.external_id)
                elif row.type == "closed":
                    self.state.close(row.external_id)
                elif row.type == "merged":
                    self.state.merged(row.external_id)
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
            ticket,
            self.helpdesk.history(external_id),
            self.helpdesk.bot_user,
            decided_at,
            self.closed,
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
            self.state.drop_run(ticket_id)
            self.state.discard_dead_letter(
                ticket_id, f"resolved in {self.source} ticket {external_id}"
            )
            if ticket.status.lower() not in self.state.closed:
                # Reopened since (the reopen's event came first): learned, and open as there.
                self.state.reopen_here(external_id)
        return outcome

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
        # The case merges the outcomes in the order learned, the KPIs the stored feedback in the
        # order stored: a specialist's answer on the same ticket at once takes the same order.
        # The engine's lock orders them in this process, the ticket's row, held from before the
        # case is learned until the feedback is stored, across processes (api.corrections).
        with self.services.engine.held(), self.services.db.session() as session:
            held_row(session, ticket_id)
            case = self.services.engine.learn(correction)
            record: dict[str, Any] = {}
            if case.label_source != correction.label_source and case.team != final_team:
                # A person's label stays (knowledge.cases.stands_against; logged there), for
                # the KPIs too: they read the latest feedback record. The queue's team is kept
                # beside it.
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
            self.services.ledger.add_feedback(ticket_id, f"helpdesk:{self.source}", record, session)
