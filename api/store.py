"""Tickets and their decisions in the database: claim (idempotently), record, read back.

The reads are ``api.ticket_reads.TicketReads``, which ``TicketStore`` extends with the writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.errors import ConflictError, NotFoundError
from agent.models import Ticket
from api.due import any_passed, open_deadlines
from api.schemas import UNFINISHED_STATUSES, TicketStatus
from api.tables import BriefRow, DecisionRow, ReviewRow, TicketRow, utcnow
from api.ticket_reads import TicketReads, _row, _status

if TYPE_CHECKING:  # the agent's result type only: the command line reads tickets without it
    from agent.triager import TriageResult


def payload_hash(ticket: Ticket) -> str:
    """Hash of what the caller sent (defaults it left out do not count)."""
    sent = ticket.model_dump(mode="json", exclude_unset=True)
    return hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """A ticket row claimed for triage: new, or the one an earlier identical request made."""

    id: str
    status: TicketStatus
    created: bool


@dataclass(frozen=True)
class Reviewed:
    """The reviewer's answer a decision comes from, stored with it (a review row)."""

    reviewer_key: str
    answer: dict[str, Any]


class TicketStore(TicketReads):
    """Repository of tickets, decisions and briefs."""

    def claim(
        self, ticket: Ticket, key: str | None, submitted_by: str | None, status: TicketStatus
    ) -> Claim:
        """Insert the ticket, or return the earlier one with the same idempotency key or id."""
        digest = payload_hash(ticket)
        explicit_id = "id" in ticket.model_fields_set
        existing = self._find(key, ticket.id if explicit_id else None, digest, submitted_by)
        if existing is not None:
            return existing
        row = TicketRow(
            id=ticket.id,
            idempotency_key=key,
            payload_hash=digest,
            payload=ticket.model_dump(mode="json"),
            channel=ticket.channel,
            external_id=ticket.external_id,
            status=status,
            submitted_by=submitted_by,
            sla_state="ok",
            sla_events=[],
            front_of_queue=False,
        )
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            # A concurrent identical request won the insert: answer with its ticket.
            again = self._find(key, ticket.id, digest, submitted_by)
            if again is None:
                raise ConflictError(f"ticket id {ticket.id!r} is taken") from None
            return again
        return Claim(id=row.id, status=status, created=True)

    def _find(
        self, key: str | None, ticket_id: str | None, digest: str, submitted_by: str | None
    ) -> Claim | None:
        with self.db.session() as session:
            row = None
            if key is not None:
                row = session.scalars(
                    select(TicketRow).where(TicketRow.idempotency_key == key)
                ).first()
            if row is None and ticket_id is not None:
                row = session.get(TicketRow, ticket_id)
                if row is not None and row.submitted_by != submitted_by:
                    # Ids are one space for all keys: another key's ticket is neither replayed
                    # to this caller nor described; the id is simply not free.
                    raise ConflictError(f"ticket id {ticket_id!r} is taken; send another id")
            if row is None:
                return None
            if row.payload_hash != digest:
                raise ConflictError(
                    f"ticket {row.id!r} was already submitted with different content under the "
                    "same idempotency key or id"
                )
            return Claim(id=row.id, status=_status(row.status), created=False)

    def set_status(self, ticket_id: str, status: TicketStatus, error: str | None = None) -> None:
        """Move a ticket to a status (and record why it failed)."""
        with self.db.session() as session:
            row = _row(session, ticket_id)
            row.status = status
            row.error = error

    def retake_failed(self, ticket_id: str, status: TicketStatus = "triaging") -> bool:
        """Move a failed ticket back to triaging (or queued); False when it is not failed any
        more (another request took it first, or decided it)."""
        with self.db.session() as session:
            taken = session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status == "failed")
                .values(status=status, error=None)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def discard(self, ticket_id: str) -> None:
        """Delete a ticket that was never queued (the queue was full)."""
        with self.db.session() as session:
            session.delete(_row(session, ticket_id))

    def record(
        self,
        ticket_id: str,
        result: TriageResult,
        actor: str,
        claim_token: str | None = None,
        review: Reviewed | None = None,
    ) -> dict[str, Any]:
        """Store a decision and its brief, update the ticket (a resolved one stays resolved);
        returns the API output.

        A reviewer's decision gives the token of its claim (api.review_claim): it is stored only
        while the ticket still carries that claim, which it ends; ConflictError otherwise. It
        gives its review too, stored with it as still to be learned (api.corrections learns it):
        whatever stops the process after this, the decision is not left unlearned.
        """
        decision = result.decision
        decision_json = decision.model_dump(mode="json")
        brief_json = result.brief.model_dump(mode="json")
        with self.db.session() as session:
            if claim_token is not None:
                _end_claim(session, ticket_id, claim_token)
            row = _row(session, ticket_id)
            stored = DecisionRow(
                ticket_id=ticket_id,
                decision=decision_json,
                team=decision.team,
                escalate=decision.escalate,
                needs_review=decision.needs_review,
                decided_by=decision.decided_by,
                actor=actor,
                policy_version=decision.policy_version,
                decided_at=decision.decided_at,
            )
            session.add(stored)
            session.flush()
            session.add(BriefRow(ticket_id=ticket_id, decision_id=stored.id, brief=brief_json))
            if review is not None:
                session.add(
                    ReviewRow(
                        ticket_id=ticket_id,
                        reviewer_key=review.reviewer_key,
                        review=review.answer,
                        decision_id=stored.id,
                        learned_at=None,
                    )
                )
            # Only a ticket still open here moves: one the helpdesk resolved or closed while this
            # decision was made (a reviewer deciding it, its run going on) stays closed; the
            # decision is kept as its history. One conditional write: the close may land now.
            session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status != "resolved")
                .values(status="review" if decision.needs_review else "decided")
                .execution_options(synchronize_session=False)
            )
            row.error = None
            row.team, row.assignee = decision.team, decision.assignee
            row.priority, row.escalate = decision.priority, decision.escalate
            # the SLA watch follows these; a level whose protocol does not start the clock has
            # targets in its decision but no clock running
            sla = decision.sla if decision.sla is not None and decision.sla.clock_started else None
            due = (sla.first_response_due, sla.resolution_due) if sla else (None, None)
            if due != (row.first_response_due, row.resolution_due):
                # New due times (a reviewer's priority): the state is theirs, not the old ones'
                # (those steps stay in the events); the watch marks them at risk when they are.
                status = "review" if decision.needs_review else "decided"
                passed = any_passed(open_deadlines(status, *due), utcnow())
                row.sla_state = "breached" if passed else "ok"
            row.first_response_due, row.resolution_due = due
            row.updated_at = utcnow()
        return {**decision_json, "brief": brief_json}

    def mark_notified(self, decision_id: int) -> None:
        """Record that the decision listeners were told about a decision."""
        with self.db.session() as session:
            row = session.get(DecisionRow, decision_id)
            if row is not None:
                row.notified_at = utcnow()

    def replace_payload(self, ticket_id: str, ticket: Ticket) -> None:
        """Store a corrected ticket (a fixed dead letter); its idempotency hash follows it."""
        with self.db.session() as session:
            row = _row(session, ticket_id)
            row.payload = ticket.model_copy(update={"id": ticket_id}).model_dump(mode="json")
            row.payload_hash = payload_hash(ticket)

    def append_message(self, ticket_id: str, message: dict[str, Any]) -> None:
        """Add a later message of the same thread to the ticket (its identity hash stays)."""
        with self.db.session() as session:
            # Two replies threaded at once would each add to the payload as read, and the later
            # write would drop the other's message: hold the row before reading it.
            row = _locked_row(session, ticket_id)
            payload = dict(row.payload)
            payload["messages"] = [*payload.get("messages", []), message]
            row.payload = payload
            row.updated_at = utcnow()

    def touch(self, ticket_id: str) -> None:
        """Write an unfinished ticket's updated_at: its triage here is alive (api.adoption)."""
        with self.db.session() as session:
            session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status.in_(UNFINISHED_STATUSES))
                .values(updated_at=utcnow())
            )


def _end_claim(session: Session, ticket_id: str, token: str) -> None:
    """End the reviewer's claim of the ticket, first thing in the session that stores its
    decision (the write holds the row till then); ConflictError when the claim is not its."""
    ended = session.execute(
        update(TicketRow)
        .where(TicketRow.id == ticket_id, TicketRow.claim_token == token)
        .values(claim_token=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not ended.rowcount:  # type: ignore[attr-defined]
        raise ConflictError(
            f"ticket {ticket_id!r}: this review's claim was lost (no sign of life from it for "
            "too long: another reviewer took the ticket, or it went back to the queue); the "
            f"decision was not stored. See GET /v1/tickets/{ticket_id} and decide again if it "
            "still waits for review"
        )


def held_row(session: Session, ticket_id: str) -> TicketRow | None:
    """The row, read after writing it: no other writer can change it until the session ends.

    For a read-modify-write of the row, called before the session has read it. A write takes the
    row (PostgreSQL) or the database (SQLite) for the rest of the transaction, where a SELECT ...
    FOR UPDATE takes nothing on SQLite; a plain read first would let another writer's change in
    before this one's write, which would then undo it.

    The write changes nothing: updated_at is the sign of life of a reviewer's claim and of a
    triage run (api.review_claim, api.adoption), and a hold is neither; what the caller then
    changes stamps it as every write does.
    """
    session.execute(
        update(TicketRow)
        .where(TicketRow.id == ticket_id)
        .values(updated_at=TicketRow.updated_at)
        .execution_options(synchronize_session=False)
    )
    return session.get(TicketRow, ticket_id)


def _locked_row(session: Session, ticket_id: str) -> TicketRow:
    row = held_row(session, ticket_id)
    if row is None:
        raise NotFoundError(f"no ticket {ticket_id!r}")
    return row
