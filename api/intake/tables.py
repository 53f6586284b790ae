"""The intake's tables: the embedded queue, intake bookkeeping, dead letters, rejects, events.

They share ``api.tables.Base`` so Alembic sees one schema; revision ``0002_intake`` creates them.
Queue times are epoch seconds (floats): the claim query compares them on SQLite and PostgreSQL
alike without time-zone conversions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.intake.rt_ids import rt_txn_number
from api.tables import Base, UTCDateTime, utcnow

# An account's tier as the intake keeps it beside a ticket, a dead letter or a reject: a name
# (standard, vip ...) the ticket also has whole; a longer one is kept cut, as PostgreSQL would
# refuse it (SQLite would keep it whole).
TIER_CHARS = 40


def tier_column(tier: str) -> str:
    """The tier as its column holds it: at most TIER_CHARS characters."""
    return tier[:TIER_CHARS]


class QueueRow(Base):
    """One ticket waiting for (or leased by) an intake worker on the embedded queue."""

    __tablename__ = "intake_queue"
    __table_args__ = (Index("ix_intake_queue_order", "priority", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    priority: Mapped[int] = mapped_column(Integer, doc="0 is the most urgent")
    urgent: Mapped[bool] = mapped_column(default=False)
    # ready: may be claimed once available_at has passed; leased: a worker holds it until
    # lease_until, after which another worker may claim it (the first one died).
    state: Mapped[str] = mapped_column(String(10), default="ready")
    available_at: Mapped[float] = mapped_column(Float)
    lease_until: Mapped[float | None] = mapped_column(Float)
    lease_token: Mapped[str | None] = mapped_column(String(40))
    enqueued_at: Mapped[float] = mapped_column(Float)


class IntakeTicketRow(Base):
    """A ticket that came in through the intake: its source, original payload and attempts."""

    __tablename__ = "intake_tickets"

    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(TIER_CHARS))
    priority: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Epoch seconds until which one worker owns the triage run: a second delivery of the same
    # ticket (redelivery, lease expiry, duplicate publish) waits instead of triaging it twice.
    # Negative on a broker while the ticket's put is not confirmed: minus the epoch seconds it
    # began (api.intake.recovery queues it again once that is long past); a run owns it too.
    running_until: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)


class DeadLetterRow(Base):
    """A ticket that could not be triaged after its attempts: kept until replayed or discarded."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(TIER_CHARS))
    priority: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The original channel payload")
    ticket: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The canonical ticket")
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class RejectRow(Base):
    """A payload the door rejected, or quarantined for a person, with the reasons."""

    __tablename__ = "intake_rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(String(20), index=True, doc="rejected or quarantined")
    reasons: Mapped[list[str]] = mapped_column(JSON)
    tier: Mapped[str | None] = mapped_column(String(TIER_CHARS))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    ticket: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # a person sent it on to triage (once): when, who, and the ticket it became
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(200))
    ticket_id: Mapped[str | None] = mapped_column(String(200))
    # POST /v1/tickets' idempotency key: a resend is answered with this payload, not kept again
    idempotency_key: Mapped[str | None] = mapped_column(String(400), unique=True)


def _seen_txn(context: Any) -> int | None:
    """The transaction number of the row being inserted, from its source and event id."""
    row = context.get_current_parameters()
    return rt_txn_number(str(row.get("source") or ""), str(row.get("event_id") or ""))


class EventSeenRow(Base):
    """A helpdesk event id already taken (webhooks are retried: apply each event once)."""

    __tablename__ = "intake_events"
    # The catch-up asks for the newest and the earliest RT transaction seen on every pass: read
    # from the end of this index, not by parsing every event id ever seen (revision 0012).
    __table_args__ = (Index("ix_intake_events_seen_txn", "source", "seen_txn"),)

    # one helpdesk's event ids say nothing about another's: unique per source
    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The RT transaction the event id names (rt-txn-456: 456), written with the row; None for
    # any other id (another helpdesk's, the catch-up's position row, one RT never wrote).
    seen_txn: Mapped[int | None] = mapped_column(BigInteger, default=_seen_txn)


class ThreadRow(Base):
    """An e-mail Message-ID and the ticket whose thread it belongs to."""

    __tablename__ = "intake_threads"

    message_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)


class SourceStatsRow(Base):
    """Per-source counters for health: received, rejected, succeeded, failed, last times."""

    __tablename__ = "intake_sources"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
