"""The ticket store's reads: a ticket, its status, its current decision and the lists of tickets.

``api.store.TicketStore`` adds the writes; the row helpers here serve both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.errors import NotFoundError
from agent.models import Ticket
from api.db import Database
from api.schemas import (
    DECIDED_STATUSES,
    OPEN_STATUSES,
    UNFINISHED_STATUSES,
    SlaView,
    TicketStatus,
    TicketView,
)
from api.tables import BriefRow, DecisionRow, TicketRow


class TicketReads:
    """What the store answers about tickets without writing: one ticket, its decision, lists."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ticket(self, ticket_id: str) -> Ticket:
        """The stored ticket as the agent reads it."""
        with self.db.session() as session:
            return Ticket.model_validate(_row(session, ticket_id).payload)

    def stored(self, ticket_id: str) -> dict[str, Any]:
        """The stored ticket's JSON as it is, for a person to inspect (it may no longer load)."""
        with self.db.session() as session:
            return dict(_row(session, ticket_id).payload)

    def status(self, ticket_id: str) -> TicketStatus:
        """A ticket's current status."""
        with self.db.session() as session:
            return _status(_row(session, ticket_id).status)

    def raised_priority(self, ticket_id: str) -> str | None:
        """The priority the SLA watch raised the ticket to since its latest decision, if any."""
        with self.db.session() as session:
            row = _row(session, ticket_id)
            pair = _latest(session, ticket_id)
            # record() stores the decision's priority on the row; only the watch moves it since
            if pair is None or row.priority == pair[0].decision.get("priority"):
                return None
            return row.priority

    def output(self, ticket_id: str) -> dict[str, Any] | None:
        """The current decision with its brief, as ``POST /v1/triage`` returned it."""
        with self.db.session() as session:
            pair = _latest(session, ticket_id)
            if pair is None:
                return None
            decision, brief = pair
            return {**decision.decision, "brief": brief.brief}

    def first_decision(self, ticket_id: str) -> dict[str, Any] | None:
        """The agent's first decision on the ticket (before any review)."""
        with self.db.session() as session:
            row = session.scalars(
                select(DecisionRow)
                .where(DecisionRow.ticket_id == ticket_id)
                .order_by(DecisionRow.id)
            ).first()
            return dict(row.decision) if row else None

    def view(self, ticket_id: str) -> TicketView:
        """The ticket, its status, SLA state and current decision."""
        with self.db.session() as session:
            row = _row(session, ticket_id)
            pair = _latest(session, ticket_id)
            return TicketView(
                id=row.id,
                status=_status(row.status),
                channel=row.channel,
                external_id=row.external_id,
                submitted_by=row.submitted_by,
                created_at=row.created_at,
                updated_at=row.updated_at,
                ticket=row.payload,
                team=row.team,
                assignee=row.assignee,
                decision=pair[0].decision if pair else None,
                sla=SlaView(
                    state=row.sla_state,  # type: ignore[arg-type]
                    first_response_due=row.first_response_due,
                    resolution_due=row.resolution_due,
                    events=list(row.sla_events or []),
                    front_of_queue=row.front_of_queue,
                ),
                error=row.error,
            )

    def owner(self, ticket_id: str) -> str | None:
        """The key id that submitted the ticket."""
        with self.db.session() as session:
            return _row(session, ticket_id).submitted_by

    def pending_notices(self, ticket_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Decisions of the ticket whose listeners were not told yet: (decision id, output)."""
        with self.db.session() as session:
            query = (
                select(DecisionRow, BriefRow)
                .join(BriefRow, BriefRow.decision_id == DecisionRow.id)
                .where(DecisionRow.ticket_id == ticket_id, DecisionRow.notified_at.is_(None))
                .order_by(DecisionRow.id)
            )
            return [(d.id, {**d.decision, "brief": b.brief}) for d, b in session.execute(query)]

    def unfinished(self) -> list[str]:
        """Tickets accepted but not triaged (a restart re-queues them), oldest first."""
        return list(self.unfinished_updates())

    def unfinished_updates(self, ticket_ids: list[str] | None = None) -> dict[str, datetime]:
        """Unfinished tickets (of these ids, else all) and when each row was last written."""
        with self.db.session() as session:
            query = select(TicketRow.id, TicketRow.updated_at).where(
                TicketRow.status.in_(UNFINISHED_STATUSES)
            )
            if ticket_ids is not None:
                query = query.where(TicketRow.id.in_(ticket_ids))
            rows = session.execute(query.order_by(TicketRow.created_at)).all()
            return {ticket_id: updated_at for ticket_id, updated_at in rows}

    def open_outside(self, teams: list[str]) -> dict[str, list[str]]:
        """Open tickets (decided, or waiting for review) whose team is none of these, by team."""
        with self.db.session() as session:
            rows = session.execute(
                select(TicketRow.team, TicketRow.id)
                .where(TicketRow.status.in_(OPEN_STATUSES), TicketRow.team.not_in(teams))
                .order_by(TicketRow.team, TicketRow.created_at)
            ).all()
        found: dict[str, list[str]] = {}
        for team, ticket_id in rows:
            if team is not None:  # NOT IN leaves out a missing team already; this tells mypy
                found.setdefault(team, []).append(ticket_id)
        return found

    def recent(self, limit: int) -> list[str]:
        """Ids of the newest tickets that have a decision."""
        with self.db.session() as session:
            query = (
                select(TicketRow.id)
                .where(TicketRow.status.in_(DECIDED_STATUSES))
                .order_by(TicketRow.created_at.desc())
                .limit(limit)
            )
            return list(session.scalars(query).all())


def _row(session: Session, ticket_id: str) -> TicketRow:
    row = session.get(TicketRow, ticket_id)
    if row is None:
        raise NotFoundError(f"no ticket {ticket_id!r}")
    return row


def _latest(session: Session, ticket_id: str) -> tuple[DecisionRow, BriefRow] | None:
    query = (
        select(DecisionRow, BriefRow)
        .join(BriefRow, BriefRow.decision_id == DecisionRow.id)
        .where(DecisionRow.ticket_id == ticket_id)
        .order_by(DecisionRow.id.desc())
        .limit(1)
    )
    found = session.execute(query).first()
    return (found[0], found[1]) if found else None


def _status(value: str) -> TicketStatus:
    return value  # type: ignore[return-value]
