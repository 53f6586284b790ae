"""What people do after the agent decides: the review queue, review actions, feedback, outcomes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from agent.kpis import KPICounts, OutcomeRecord
from api.db import Database
from api.kpi_sql import counts_of, kpi_counts_query
from api.schemas import DECIDED_STATUSES, WAITING_STATUSES, ReviewItem
from api.tables import DecisionRow, FeedbackRow, TicketRow, utcnow


class Ledger:
    """Review queue and follow-up records over the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def review_queue(
        self, limit: int, priority_scale: list[str], claim_stale_after_s: float
    ) -> list[ReviewItem]:
        """Tickets waiting for a human: SLA-flagged first, then most urgent, then oldest.

        Each says whether a reviewer is deciding it now: a claim with a sign of life within
        ``claim_stale_after_s`` (api.review_claim); another reviewer's answer would be a 409.
        """
        rank = {p: i for i, p in enumerate(priority_scale)}
        claims_alive_since = utcnow() - timedelta(seconds=claim_stale_after_s)
        with self.db.session() as session:
            # "deciding": a reviewer's claim; one that went stale can be decided again
            waiting = TicketRow.status.in_(WAITING_STATUSES)
            rows = session.scalars(select(TicketRow).where(waiting)).all()
            rows = sorted(
                rows,
                key=lambda r: (
                    not r.front_of_queue,
                    rank.get(r.priority or "", len(rank)),
                    r.created_at,
                ),
            )[:limit]
            items = []
            for row in rows:
                latest = session.scalars(
                    select(DecisionRow)
                    .where(DecisionRow.ticket_id == row.id)
                    .order_by(DecisionRow.id.desc())
                    .limit(1)
                ).first()
                decision: dict[str, Any] = latest.decision if latest else {}
                items.append(
                    ReviewItem(
                        id=row.id,
                        subject=str(row.payload.get("subject", ""))[:300],
                        team=row.team,
                        suggested_team=decision.get("team"),
                        priority=row.priority,
                        confidence=decision.get("confidence"),
                        review_reasons=list(decision.get("review_reasons", [])),
                        alternatives=list(decision.get("alternatives", [])),
                        front_of_queue=row.front_of_queue,
                        sla_state=row.sla_state,
                        created_at=row.created_at,
                        being_decided=row.status == "deciding"
                        and row.updated_at >= claims_alive_since,
                    )
                )
            return items

    def add_feedback(
        self, ticket_id: str, key_id: str, feedback: dict[str, Any], session: Session | None = None
    ) -> None:
        """Record feedback; the ticket counts as resolved from then on. Written in ``session``
        when given (the caller's transaction, which holds the ticket), else in one of its own."""
        if session is None:
            with self.db.session() as own:
                _add_feedback(own, ticket_id, key_id, feedback)
        else:
            _add_feedback(session, ticket_id, key_id, feedback)

    def outcomes(
        self, first_line: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[OutcomeRecord]:
        """One KPI record per decided ticket received in [start, end).

        Three queries whatever the period: the tickets, then the few columns of their decisions
        the figures use (never the decision JSON with its evidence), then their feedback.
        """
        window = _window(start, end)
        with self.db.session() as session:
            # in the order received: the same records in the same order whatever the plan
            tickets = list(
                session.scalars(
                    select(TicketRow.id).where(*window).order_by(TicketRow.created_at, TicketRow.id)
                )
            )
            decisions: dict[str, list[Decided]] = defaultdict(list)
            for ticket_id, team, escalate, needs_review, decided_at in session.execute(
                select(
                    DecisionRow.ticket_id,
                    DecisionRow.team,
                    DecisionRow.escalate,
                    DecisionRow.needs_review,
                    DecisionRow.decided_at,
                )
                .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
                .where(*window)
                .order_by(DecisionRow.id)
            ):
                decisions[ticket_id].append(Decided(team, escalate, needs_review, decided_at))
            feedback: dict[str, dict[str, Any]] = {}
            resolved: dict[str, datetime] = {}  # the first feedback resolved the ticket
            for ticket_id, given, created_at in session.execute(
                select(FeedbackRow.ticket_id, FeedbackRow.feedback, FeedbackRow.created_at)
                .join(TicketRow, TicketRow.id == FeedbackRow.ticket_id)
                .where(*window)
                .order_by(FeedbackRow.id)
            ):
                # A later answer replaces what it gives and keeps the rest, as the case does
                # (knowledge.feedback.corrected_case): a team corrected alone keeps the
                # outcome an earlier answer gave.
                kept = {k: v for k, v in given.items() if v is not None}
                feedback[ticket_id] = feedback.get(ticket_id, {}) | kept
                resolved.setdefault(ticket_id, created_at)
        return [
            _record(tid, decisions[tid], feedback.get(tid), first_line, resolved.get(tid))
            for tid in tickets
            if decisions.get(tid)
        ]

    def kpi_counts(
        self, first_line: str, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, KPICounts]:
        """The KPI counts per final team of the decided tickets received in [start, end).

        The same records as outcomes() makes, summed by the database in one query: the figures
        of agent.kpis.kpi_report are those compute_kpis makes of outcomes().
        """
        query = kpi_counts_query(first_line, _window(start, end))
        with self.db.session() as session:
            return {row.team: counts_of(row) for row in session.execute(query)}


def _window(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    """The decided tickets received in [start, end)."""
    window: list[ColumnElement[bool]] = [TicketRow.status.in_(DECIDED_STATUSES)]
    if start is not None:
        window.append(TicketRow.created_at >= start)
    if end is not None:
        window.append(TicketRow.created_at < end)
    return window


class Decided(NamedTuple):
    """What the KPIs read of one decision."""

    team: str
    escalate: bool
    needs_review: bool
    decided_at: datetime


def _record(
    ticket_id: str,
    decisions: list[Decided],
    feedback: dict[str, Any] | None,
    first_line: str,
    resolved_at: datetime | None = None,
) -> OutcomeRecord:
    """Final team and outcome from its feedback, merged in order; the first route is where the
    ticket was first sent.

    Escalated means the ticket belonged with a specialist (its final team is not first line), as
    in the evals, not that the product escalated it: a missed escalation counts against the KPIs.
    Handling time is the hours the feedback gives, else from the decision to ``resolved_at``,
    when the first feedback marked the ticket resolved.
    """
    latest = decisions[-1]
    sent = next((d for d in decisions if not d.needs_review), latest)
    fb: dict[str, Any] = feedback or {}
    final_team = fb.get("final_team") or latest.team
    # Judged by the first line of the policy under which the ticket was decided or its final
    # team given: with today's, a renamed first line made every ticket it kept an escalation.
    if feedback is None:
        escalated = latest.escalate
    elif "escalated" in fb:
        escalated = bool(fb["escalated"])
    else:  # feedback stored before records said so
        escalated = final_team != first_line
    return OutcomeRecord(
        ticket_id=ticket_id,
        team=final_team,
        # Without feedback nobody has confirmed the final team: the route is not judged.
        first_route=sent.team if feedback is not None else None,
        escalated=escalated,
        first_contact_resolved=fb.get("first_contact_resolved"),
        handling_hours=fb.get("handling_hours"),
        needed_review=any(d.needs_review for d in decisions),
        decided_at=sent.decided_at,
        resolved_at=resolved_at,
    )


def _add_feedback(session: Session, ticket_id: str, key_id: str, feedback: dict[str, Any]) -> None:
    session.add(FeedbackRow(ticket_id=ticket_id, author_key=key_id, feedback=feedback))
    row = session.get(TicketRow, ticket_id)
    if row is not None:
        row.status = "resolved"
        row.front_of_queue = False
        row.updated_at = utcnow()
