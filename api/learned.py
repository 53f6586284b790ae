"""Corrections learned by other processes on the same database, taken up by this one.

A specialist's feedback, a reviewer's decision or a helpdesk resolution is stored as a case in
the shared knowledge base (a Chroma server) by the process that received it, and that process's
router observes it at once, so the next near-duplicate follows it. The other API processes and
intake workers read the same knowledge base but their routers had not observed it: until their
next refit the corrected case was one more precedent, outvoted by the models. Each process
therefore looks, at most every ``every_s``, for feedback and review rows written since its last
look and observes their cases as stored. A feedback row is written after its case is stored; a
review's row is written with its decision and counts once it says it was learned (``learned_at``,
set in the transaction that stores its case, by whichever process learned it, maybe long after):
a case not found all the same is looked for again at the next looks, for at most ``PENDING_S``.
Rows are followed by id, and ids are handed out when a row is inserted, not when it commits: on
PostgreSQL a row can appear after one with a higher id. Each look therefore reads back
``LOOKBACK_IDS`` below the highest id seen and skips the rows it has seen already.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from api.db import Database
from api.engine import LockedEngine
from api.tables import FeedbackRow, ReviewRow

log = logging.getLogger(__name__)

PENDING_S = 60.0  # a review learned later than this after its row was not learned at all
# Rows inserted at once by this many writers may commit in any order; far more than run at once.
LOOKBACK_IDS = 200


class LearnedFollower:
    """Observes the cases other processes learned since this one last looked."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._followed_at = float("-inf")
        self._feedback = _Followed(FeedbackRow)
        self._review = _Followed(ReviewRow)
        with db.session() as session:
            # what was learned before this process started is in the router it loaded
            self._feedback.start(session)
            self._review.start(session)
        self._pending: dict[str, float] = {}  # review cases not stored yet: first seen at

    def follow(self, engine: LockedEngine, every_s: float) -> None:
        """Observe the cases learned elsewhere since the last look; looks at most every_s."""
        with self._lock:
            now = time.monotonic()
            if now - self._followed_at < every_s:
                return
            self._followed_at = now
            ids = self._new_case_ids()
            if not ids:
                return
            try:
                missing = engine.observe_stored(list(ids))
            except Exception as exc:
                # the knowledge base is down: the cases act at the next refit instead
                log.warning("cases learned by other processes not observed: %s", exc)
                return
            for case_id in missing:
                first = self._pending.setdefault(case_id, now)
                if now - first > PENDING_S:
                    del self._pending[case_id]
            for case_id in set(self._pending) - set(missing):
                del self._pending[case_id]

    def _new_case_ids(self) -> set[str]:
        with self.db.session() as session:
            feedback = self._feedback.new_rows(session)
            reviews = self._review.new_rows(session)
        return feedback | reviews | set(self._pending)


class _Followed:
    """The rows of one table seen so far: by the highest id, and the ids just below it."""

    def __init__(self, table: type[FeedbackRow] | type[ReviewRow]) -> None:
        self.table = table
        self.highest = 0
        self.seen: set[int] = set()  # the ids read back at the last look

    def start(self, session: Session) -> None:
        """Take every row there is as seen (without reading them all)."""
        self.highest = session.scalar(select(func.max(self.table.id))) or 0
        self.new_rows(session)

    def new_rows(self, session: Session) -> set[str]:
        """The ticket ids of the rows not seen before (those committed since the last look);
        a review still to be learned is not seen until it is."""
        learned = ReviewRow.learned_at.is_not(None) if self.table is ReviewRow else true()
        rows = session.execute(
            select(self.table.id, self.table.ticket_id).where(
                self.table.id > self.highest - LOOKBACK_IDS, learned
            )
        ).all()
        new = {row.ticket_id for row in rows if row.id not in self.seen}
        self.seen = {row.id for row in rows}
        self.highest = max([self.highest, *self.seen])
        return new
