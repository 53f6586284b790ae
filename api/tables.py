"""The service's tables (SQLAlchemy 2): tickets, decisions, briefs, reviews, feedback, policy, keys.

Every decision row keeps the full decision JSON (evidence included), the policy version and who
or what decided, so any routing can be audited later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Aware UTC now, the only clock the store uses."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class TicketRow(Base):
    """One ticket as received, its lifecycle status and its SLA watch state."""

    __tablename__ = "tickets"
    # The helpdesk connector finds our ticket for one of its tickets on every event it handles
    # (external id and the signed webhook as submitter): a lookup, not a scan of all tickets.
    # The KPIs of a period: the decided tickets received in it, from the index alone.
    __table_args__ = (
        Index("ix_tickets_external_id_submitted_by", "external_id", "submitted_by"),
        Index("ix_tickets_status_created_at", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(200))
    # queued -> triaging -> decided | review -> resolved; failed when triage raised
    status: Mapped[str] = mapped_column(String(20), index=True)
    submitted_by: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    team: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    priority: Mapped[str | None] = mapped_column(String(40))
    escalate: Mapped[bool | None] = mapped_column(Boolean)
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_state: Mapped[str] = mapped_column(String(20), default="ok")
    sla_events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    front_of_queue: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    # The reviewer's claim while "deciding" (api.review_claim): only its holder renews it, gives
    # it back or stores the decision. Kept through a helpdesk close, so a reopen finds it held.
    claim_token: Mapped[str | None] = mapped_column(String(64))


class DecisionRow(Base):
    """A decision on a ticket (the agent's, then a reviewer's), with all its evidence."""

    __tablename__ = "decisions"
    # Every column the KPIs read of a decision: the row with its JSON is not read for them.
    __table_args__ = (
        Index(
            "ix_decisions_kpi", "ticket_id", "id", "team", "escalate", "needs_review", "decided_at"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    team: Mapped[str] = mapped_column(String(200))
    escalate: Mapped[bool] = mapped_column(Boolean)
    needs_review: Mapped[bool] = mapped_column(Boolean)
    decided_by: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200), doc="'agent' or the reviewer's key name")
    policy_version: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set once the decision listeners were told; a redelivered ticket tells them if still unset.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BriefRow(Base):
    """The brief written with a decision."""

    __tablename__ = "briefs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewRow(Base):
    """A reviewer's answer to a ticket the agent abstained on."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    reviewer_key: Mapped[str] = mapped_column(String(40))
    review: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The decision it stored, written with it (in one transaction); None before the column was.
    decision_id: Mapped[int | None] = mapped_column(Integer)
    # When the knowledge base learned the decision; None while it is still to learn (its process
    # died first, or the knowledge base was down): api.corrections learns it then.
    learned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class FeedbackRow(Base):
    """A specialist's post-resolution feedback on a ticket."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_key: Mapped[str] = mapped_column(String(40))
    feedback: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class PolicyRow(Base):
    """One stored version of the routing policy; exactly one is active."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    yaml_text: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKeyRow(Base):
    """An API key: only the sha256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
