"""Following the corrections other processes learned: every committed row is taken up once."""

from __future__ import annotations

from pathlib import Path

from agent.models import Ticket
from api.db import Database
from api.learned import LOOKBACK_IDS, LearnedFollower
from api.store import TicketStore
from api.tables import FeedbackRow


class _Recorder:
    """The engine's side of following: which cases it was asked to observe."""

    def __init__(self) -> None:
        self.asked: list[set[str]] = []

    def observe_stored(self, case_ids: list[str]) -> list[str]:
        self.asked.append(set(case_ids))
        return []


def _feedback(db: Database, row_id: int, ticket_id: str) -> None:
    with db.session() as session:
        session.add(FeedbackRow(id=row_id, ticket_id=ticket_id, author_key="k", feedback={}))


def test_a_row_committed_after_one_with_a_higher_id_is_followed_once(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'triage.sqlite'}")
    db.migrate()
    store = TicketStore(db)
    ids = [store.claim(Ticket(subject=f"ticket {i}"), f"k{i}", "k", "decided").id for i in range(4)]
    _feedback(db, 5, ids[0])  # learned before this process started: in its saved router
    follower = LearnedFollower(db)
    engine = _Recorder()
    # On PostgreSQL ids are handed out at insert, not at commit: 12's transaction commits first,
    # and 11's after this process has looked.
    _feedback(db, 12, ids[1])
    follower.follow(engine, 0)  # type: ignore[arg-type]
    _feedback(db, 11, ids[2])
    follower.follow(engine, 0)  # type: ignore[arg-type]
    follower.follow(engine, 0)  # type: ignore[arg-type]  # nothing new: nothing asked
    _feedback(db, 12 + LOOKBACK_IDS + 1, ids[3])
    follower.follow(engine, 0)  # type: ignore[arg-type]
    assert engine.asked == [{ids[1]}, {ids[2]}, {ids[3]}]
    db.close()
