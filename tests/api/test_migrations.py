"""Schema migrations carry existing rows over: 0004 scopes external-id keys and helpdesk events,
0007 lets the back-flow claim the helpdesk events already recorded, 0010 gives review claims a
holder, 0012 numbers the RT events already seen."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select, text

from api.auth import create_key
from api.db import MIGRATIONS, Database, alembic_config
from api.helpdesk.catchup import CatchUp
from api.helpdesk.event_log import EventLog
from api.intake.tables import EventSeenRow
from api.review_claim import ReviewClaims
from api.tables import TicketRow, utcnow


def _to(db: Database, revision: str, down: bool = False) -> None:
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _ticket(ticket_id: str, key: str, submitted_by: str) -> dict[str, object]:
    """A ticket's columns as the oldest releases had them (an INSERT of the mapped class would
    name the columns added since)."""
    return dict(
        id=ticket_id,
        idempotency_key=key,
        payload_hash="h",
        payload={"body": "x"},
        channel="api",
        status="decided",
        submitted_by=submitted_by,
        sla_state="ok",
        sla_events=[],
        front_of_queue=False,
    )


def _keys(db: Database) -> dict[str, str | None]:
    with db.session() as session:
        rows = session.execute(select(TicketRow.id, TicketRow.idempotency_key)).all()
        return {ticket_id: key for ticket_id, key in rows}


def _check(db: Database) -> None:
    db.migrate()
    helpdesk, _ = create_key(db, "helpdesk", "acme")
    admin, _ = create_key(db, "admin", "ops")
    before = {
        "t1": ("ext:web:w1", helpdesk.id),
        "t2": ("ext:api:T-1", admin.id),
        "t3": ("ext:helpdesk:R-1", "webhook"),
        "t4": (f"key:{helpdesk.id}:abc", helpdesk.id),
    }
    _to(db, "0003_helpdesk", down=True)  # as an older release left them
    with db.session() as session:
        for ticket_id, (key, by) in before.items():
            session.execute(insert(TicketRow).values(_ticket(ticket_id, key, by)))
    _to(db, "head")
    assert _keys(db) == {
        "t1": f"ext:{helpdesk.id}:web:w1",
        "t2": "ext:api:T-1",
        "t3": "ext:webhook:helpdesk:R-1",
        "t4": f"key:{helpdesk.id}:abc",
    }
    with db.session() as session:
        for source in ("zendesk", "freshdesk"):
            session.add(EventSeenRow(event_id="1001", source=source, type="created", outcome="x"))
    with db.session() as session:
        assert session.get(EventSeenRow, ("zendesk", "1001")) is not None
        session.query(EventSeenRow).filter(EventSeenRow.source == "zendesk").delete()
    _to(db, "0003_helpdesk", down=True)
    assert _keys(db) == {ticket_id: key for ticket_id, (key, _) in before.items()}
    _to(db, "head")


def test_0004_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        _check(db)
    finally:
        db.close()


@pytest.mark.postgres
def test_0004_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        _check(db)
    finally:
        db.close()


def _check_event_claim(db: Database) -> None:
    """0007: an event recorded by an older release is free to claim, once; and back down."""
    db.migrate()
    _to(db, "0006_reject_key", down=True)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO helpdesk_events (event_id, source, type, external_id, received_at,"
                " attempts) VALUES ('rt-txn-7', 'rt', 'resolved', '7', :at, 0)"
            ),
            {"at": utcnow()},
        )
    _to(db, "head")
    events = EventLog(db)
    assert [row.event_id for row in events.pending("rt")] == ["rt-txn-7"]
    assert events.claim("rt-txn-7", utcnow())
    assert not events.claim("rt-txn-7", utcnow())  # held by the first one
    _to(db, "0006_reject_key", down=True)
    with db.engine.connect() as connection:
        kept = connection.execute(text("SELECT event_id FROM helpdesk_events")).scalars().all()
    assert kept == ["rt-txn-7"]
    _to(db, "head")


def test_0007_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        _check_event_claim(db)
    finally:
        db.close()


@pytest.mark.postgres
def test_0007_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        _check_event_claim(db)
    finally:
        db.close()


def _check_claim_token(db: Database) -> None:
    """0010: a ticket an older release left claimed has no token; once its claim is stale it is
    taken with one, which only its holder can give back; and back down."""
    db.migrate()
    _to(db, "0009_event_pending_index", down=True)
    quiet = utcnow() - timedelta(hours=1)
    with db.session() as session:
        session.execute(
            insert(TicketRow).values(
                {**_ticket("t1", "k1", "x"), "status": "deciding", "updated_at": quiet}
            )
        )
    _to(db, "head")
    claims = ReviewClaims(db, stale_after_s=60)
    token = claims.claim("t1")
    assert token is not None
    assert claims.claim("t1") is None  # held now
    claims.release("t1", "not-its-token")
    with db.session() as session:
        row = session.get(TicketRow, "t1")
        assert row is not None and (row.status, row.claim_token) == ("deciding", token)
    _to(db, "0009_event_pending_index", down=True)
    with db.engine.connect() as connection:
        kept = connection.execute(text("SELECT id, status FROM tickets")).all()
        columns = {c["name"] for c in inspect(connection).get_columns("tickets")}
    assert [tuple(r) for r in kept] == [("t1", "deciding")]
    assert "claim_token" not in columns
    _to(db, "head")


def test_0010_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        _check_claim_token(db)
    finally:
        db.close()


def _check_seen_txn(db: Database) -> None:
    """0012: the events seen by an older release get the RT transaction their id names, and the
    catch-up reads the newest and earliest from them; down again, the events stay."""
    db.migrate()
    _to(db, "0009_event_pending_index", down=True)
    seen = {
        ("rt", "rt-txn-457"): 457,
        ("rt", "rt-txn-12"): 12,
        ("rt", "rt-txn-0458"): None,  # not as the scrip writes it
        ("rt", "rt-txn-abc"): None,
        ("rt", "rt-txn-" + "9" * 19): None,  # past a BIGINT
        ("rt", "catch-up position"): None,
        ("zendesk", "rt-txn-900"): None,
    }
    with db.engine.begin() as connection:
        for source, event_id in seen:
            connection.execute(
                text(
                    "INSERT INTO intake_events (source, event_id, type, outcome, received_at)"
                    " VALUES (:source, :event_id, 'status', 'handled', :at)"
                ),
                {"source": source, "event_id": event_id, "at": utcnow()},
            )
    _to(db, "head")
    with db.session() as session:
        kept = {(r.source, r.event_id): r.seen_txn for r in session.scalars(select(EventSeenRow))}
    assert kept == seen
    catchup = CatchUp(db, reader=None, webhook=None)  # type: ignore[arg-type]
    assert (catchup.newest_seen(), catchup.earliest_seen()) == (457, 12)
    _to(db, "0009_event_pending_index", down=True)
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT source, event_id FROM intake_events")).all()
        columns = [c["name"] for c in inspect(connection).get_columns("intake_events")]
    assert {tuple(row) for row in rows} == set(seen)
    assert "seen_txn" not in columns
    _to(db, "head")


def test_0012_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        _check_seen_txn(db)
    finally:
        db.close()


@pytest.mark.postgres
def test_0010_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        _check_claim_token(db)
    finally:
        db.close()


@pytest.mark.postgres
def test_0012_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        _check_seen_txn(db)
    finally:
        db.close()


REBUILD_TICKETS = '''"""a later release's change SQLite makes by rebuilding the tickets table"""

from alembic import op

revision = "9999_rebuild_tickets"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", recreate="always"):
        pass


def downgrade() -> None:
    pass
'''


def test_a_migration_that_rebuilds_tickets_on_sqlite_keeps_their_decisions(
    tmp_path: Path,
) -> None:
    """SQLite alters most things by rebuilding the table (copy, DROP, rename): with foreign keys
    on, dropping tickets would delete every decision, brief and review through their cascade."""
    shutil.copytree(MIGRATIONS, tmp_path / "migrations")
    config = alembic_config("sqlite://")
    head = ScriptDirectory.from_config(config).get_current_head()
    later = tmp_path / "migrations" / "versions" / "9999_rebuild_tickets.py"
    later.write_text(REBUILD_TICKETS.replace("{head}", str(head)), encoding="utf-8")
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        db.migrate()
        with db.session() as session:
            session.execute(insert(TicketRow).values(_ticket("t1", "k1", "x")))
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO decisions (ticket_id, decision, team, escalate, needs_review,"
                    " decided_by, actor, policy_version, decided_at)"
                    " VALUES ('t1', '{}', 'database', 1, 0, 'rule', 'agent', '1', :at)"
                ),
                {"at": utcnow()},
            )
        db.migrate(tmp_path / "migrations")
        with db.engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            decisions = connection.execute(text("SELECT ticket_id FROM decisions")).scalars()
            assert (revision, list(decisions)) == ("9999_rebuild_tickets", ["t1"])
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.close()
