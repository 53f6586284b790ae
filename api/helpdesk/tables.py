"""The connector's tables: the outbox of decisions to apply, events seen, outcomes learned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from api.tables import Base, UTCDateTime, utcnow


class OutboxRow(Base):
    """One decision to apply in the helpdesk, with what has been applied so far."""

    __tablename__ = "helpdesk_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    helpdesk: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    update: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> applied | partial (some fields refused) | rejected (the helpdesk said no)
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventRow(Base):
    """A helpdesk event already handled (the handler's own deduplication)."""

    __tablename__ = "helpdesk_events"
    # The back-flow reads the unprocessed events on every pass: a partial index holds those
    # alone, so the pass costs what is pending, not every event ever seen.
    __table_args__ = (
        Index(
            "ix_helpdesk_events_pending",
            "source",
            "received_at",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Resolutions are processed off the request (the helpdesk waits on the webhook meanwhile).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # The back-flow worker processing it holds it until then (a lease); None: free.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutcomeRow(Base):
    """What happened to a helpdesk ticket once resolved (the latest resolution wins)."""

    __tablename__ = "helpdesk_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    helpdesk: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(200), index=True)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
