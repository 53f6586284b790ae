"""Open tickets per person, from the database: the LoadView the router balances work with."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from api.db import Database
from api.schemas import OPEN_STATUSES
from api.tables import TicketRow


class DbLoads:
    """Counts of open assigned tickets, re-read every ``ttl_s`` and bumped on each assignment.

    The router asks for several members per ticket; one GROUP BY every few seconds keeps that off
    the hot path, and local bumps keep a burst from piling onto one person between re-reads.
    """

    def __init__(self, db: Database, ttl_s: float = 5.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._counts: dict[str, int] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def open_count(self, member: str) -> int:
        """Open tickets currently assigned to that member."""
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl_s:
                self._refresh()
            return self._counts.get(member, 0)

    def assign(self, member: str | None) -> None:
        """Count a new assignment before the next re-read sees it."""
        if not member:
            return
        with self._lock:
            self._counts[member] = self._counts.get(member, 0) + 1

    def invalidate(self) -> None:
        """Re-read on the next question (after tickets were resolved or reassigned)."""
        with self._lock:
            self._read_at = float("-inf")

    def _refresh(self) -> None:
        query = (
            select(TicketRow.assignee, func.count())
            .where(TicketRow.assignee.is_not(None), TicketRow.status.in_(OPEN_STATUSES))
            .group_by(TicketRow.assignee)
        )
        with self.db.session() as session:
            self._counts = {str(name): int(n) for name, n in session.execute(query).all()}
        self._read_at = time.monotonic()
