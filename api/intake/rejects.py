"""Rejected and quarantined payloads, kept with their reasons (listable, never dropped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from agent.errors import InputError, NotFoundError
from agent.json_input import load_json, nests_deeper
from api.db import Database
from api.intake.tables import RejectRow, tier_column
from api.tables import utcnow

RejectVerdict = Literal["rejected", "quarantined"]
# Rejected JSON deeper than this is kept as text: pydantic serialises ~255 levels at most, and
# no payload that adapts comes near (custom fields nest at most agent.json_input.MAX_DEPTH).
AUDIT_DEPTH = 64


class Reject(BaseModel):
    """One payload the door did not queue, and why."""

    id: int
    source: str
    channel: str
    verdict: RejectVerdict
    reasons: list[str]
    tier: str | None
    submitted_by: str | None
    created_at: datetime
    payload: dict[str, Any] | None = None
    ticket: dict[str, Any] | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    ticket_id: str | None = Field(default=None, description="The ticket a release made of it")
    key: str | None = Field(default=None, exclude=True, description="Its idempotency key")


class Rejects:
    """Repository of intake_rejects."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        source: str,
        channel: str,
        verdict: RejectVerdict,
        reasons: list[str],
        payload: dict[str, Any],
        ticket: dict[str, Any] | None,
        tier: str | None,
        submitted_by: str | None,
        key: str | None = None,
    ) -> int:
        """Keep a rejected or quarantined payload (sent under idempotency ``key``); its id."""
        with self.db.session() as session:
            row = RejectRow(
                source=source,
                channel=channel,
                verdict=verdict,
                reasons=reasons,
                tier=tier_column(tier) if tier is not None else None,
                payload=payload,
                ticket=ticket,
                submitted_by=submitted_by,
                idempotency_key=key,
            )
            session.add(row)
            session.flush()
            return row.id

    def sent_as(self, key: str) -> Reject | None:
        """The payload kept under this idempotency key (scoped to its sender), with its payload."""
        query = select(RejectRow).where(RejectRow.idempotency_key == key)
        with self.db.session() as session:
            row = session.scalars(query).first()
            return self._view(row, full=True) if row is not None else None

    def list(
        self,
        verdict: RejectVerdict | None = None,
        limit: int = 100,
        submitted_by: str | None = None,
    ) -> list[Reject]:
        """Newest first, optionally only one verdict or only one key's submissions."""
        query = select(RejectRow).order_by(RejectRow.id.desc()).limit(limit)
        if verdict is not None:
            query = query.where(RejectRow.verdict == verdict)
        if submitted_by is not None:
            query = query.where(RejectRow.submitted_by == submitted_by)
        with self.db.session() as session:
            return [self._view(r, full=False) for r in session.scalars(query).all()]

    def get(self, reject_id: int) -> Reject:
        """One kept payload with its ticket."""
        with self.db.session() as session:
            row = session.get(RejectRow, reject_id)
            if row is None:
                raise NotFoundError(f"no rejected or quarantined payload {reject_id}")
            return self._view(row, full=True)

    def mark_released(self, reject_id: int, by: str) -> bool:
        """Claim the payload for a release; False when it was released already."""
        with self.db.session() as session:
            done = session.execute(
                update(RejectRow)
                .where(RejectRow.id == reject_id, RejectRow.released_at.is_(None))
                .values(released_at=utcnow(), released_by=by)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def set_released(self, reject_id: int, ticket_id: str | None) -> None:
        """Record the ticket a release made, or (None) undo a release that failed."""
        with self.db.session() as session:
            row = session.get(RejectRow, reject_id)
            if row is None:
                return
            if ticket_id is None:
                row.released_at, row.released_by = None, None
            row.ticket_id = ticket_id

    @staticmethod
    def _view(row: RejectRow, full: bool) -> Reject:
        return Reject(
            id=row.id,
            source=row.source,
            channel=row.channel,
            verdict=row.verdict,  # type: ignore[arg-type]
            reasons=list(row.reasons),
            tier=row.tier,
            submitted_by=row.submitted_by,
            created_at=row.created_at,
            payload=row.payload if full else None,
            ticket=row.ticket if full else None,
            released_at=row.released_at,
            released_by=row.released_by,
            ticket_id=row.ticket_id,
            key=row.idempotency_key,
        )


def raw_for_audit(body: bytes) -> tuple[dict[str, Any], str | None]:
    """An unadaptable payload as kept with its reject record, and the account tier it declares.

    JSON nested deeper than AUDIT_DEPTH is kept as its text: it would not read back as JSON.
    """
    text = {"text": body.decode("utf-8", errors="replace")[:200_000]}
    try:
        data = load_json(body, "body")
    except InputError:
        return text, None
    return text if nests_deeper(data, AUDIT_DEPTH) else {"json": data}, _declared_tier(data)


def _declared_tier(data: Any) -> str | None:
    account = data.get("account") if isinstance(data, dict) else None
    tier = account.get("tier") if isinstance(account, dict) else None
    return str(tier) if tier else None
