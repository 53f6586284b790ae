"""0014: the reviews recorded before a review was stored with its decision count as learned (they
were, or their answer said they were not): none is learned again after the upgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from api.db import Database, alembic_config
from api.tables import ReviewRow, utcnow

BEFORE = "0012_event_seen_txn"


def _to(db: Database, revision: str, down: bool = False) -> None:
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _check(db: Database) -> None:
    db.migrate()
    _to(db, BEFORE, down=True)
    recorded = utcnow()
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tickets (id, payload_hash, payload, channel, status, sla_state,"
                " sla_events, front_of_queue, created_at, updated_at) VALUES ('t1', 'h',"
                " '{\"body\": \"x\"}', 'api', 'decided', 'ok', '[]', false, :at, :at)"
            ),
            {"at": recorded},
        )
        connection.execute(
            text(
                "INSERT INTO review_actions (ticket_id, reviewer_key, review, created_at)"
                " VALUES ('t1', 'k1', '{\"team\": \"hardware\"}', :at)"
            ),
            {"at": recorded},
        )
    _to(db, "head")
    with db.session() as session:
        [review] = session.scalars(select(ReviewRow)).all()
    assert (review.review, review.decision_id) == ({"team": "hardware"}, None)
    assert review.learned_at == review.created_at  # counts as learned
    _to(db, BEFORE, down=True)
    with db.engine.connect() as connection:
        kept = connection.execute(text("SELECT ticket_id, reviewer_key FROM review_actions")).all()
        columns = {c["name"] for c in inspect(connection).get_columns("review_actions")}
    assert [tuple(r) for r in kept] == [("t1", "k1")]
    assert not {"learned_at", "decision_id"} & columns
    _to(db, "head")


def test_0014_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        _check(db)
    finally:
        db.close()


@pytest.mark.postgres
def test_0014_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        _check(db)
    finally:
        db.close()
