"""Claims: a row taken by one loop alone for a while (a lease), by one conditional UPDATE.

The outbox's delivery rows and the back-flow's events are claimed this way. Of two processes on
one database that both read a row as due, only the first one's UPDATE still matches it: the
database re-checks the condition under the row's write lock (SQLite: one writer at a time;
PostgreSQL: the second UPDATE waits, then sees the row as the first one left it), so the other
one's UPDATE matches nothing. A loop that died holding a row frees it when the lease ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute

from api.db import Database

LEASE_S = 300.0
"""How long a claimed row is left to its loop; a loop that died mid-row frees it after this."""


def claim(
    db: Database,
    until: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    due: list[ColumnElement[bool]],
    now: datetime,
    lease_s: float = LEASE_S,
) -> bool:
    """Set ``until`` to now + lease on the row that ``due`` selects while it still holds;
    False when it no longer does (another loop took the row first, or it was finished)."""
    with db.session() as session:
        taken = session.execute(
            update(until.class_).where(*due).values({until.key: now + timedelta(seconds=lease_s)})
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]
