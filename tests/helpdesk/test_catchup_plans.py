"""The catch-up's per-pass look at what was seen reads the end of an index, not every event id
ever seen: SQLite's plans, read with EXPLAIN QUERY PLAN; and the number each row keeps."""

from __future__ import annotations

import pytest
from query_plans import plans
from sqlalchemy import select

from api.db import Database
from api.helpdesk.catchup import CatchUp
from api.intake.tables import EventSeenRow

INDEX = "ix_intake_events_seen_txn"


def _catchup(db: Database) -> CatchUp:
    # The seen-id queries use the database alone: no RT to read, no webhook to feed.
    return CatchUp(db, reader=None, webhook=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bound", [None, 900])
def test_the_newest_and_earliest_seen_are_read_from_the_index(
    db: Database, bound: int | None
) -> None:
    """One step into the (source, transaction number) index each: no scan of the events seen,
    no sort of them, no expression over their ids."""
    catchup = _catchup(db)
    for call in (lambda: catchup.newest_seen(bound), lambda: catchup.earliest_seen(bound)):
        found = plans(db, call)
        assert all(INDEX in line for line in found), found
        assert not any(line.startswith("SCAN") or "TEMP B-TREE" in line for line in found), found


def test_each_seen_event_keeps_the_transaction_its_id_names(db: Database) -> None:
    """Written with the row, as the scrip writes ids: no other id has a number, so none moves
    the catch-up's window."""
    ids = {
        ("rt", "rt-txn-456"): 456,
        ("rt", "rt-txn-999999999999999999"): 999999999999999999,
        ("rt", "rt-txn-0457"): None,  # not as the scrip writes it
        ("rt", "rt-txn-12abc"): None,
        ("rt", "rt-txn-"): None,
        ("rt", "rt-txn-" + "9" * 19): None,  # past a BIGINT: no id of RT's
        ("rt", "catch-up position"): None,
        ("zendesk", "rt-txn-7"): None,  # another helpdesk's ids say nothing of RT's
    }
    with db.session() as session:
        for source, event_id in ids:
            session.add(EventSeenRow(source=source, event_id=event_id, type="status", outcome="x"))
    with db.session() as session:
        kept = {
            (row.source, row.event_id): row.seen_txn
            for row in session.scalars(select(EventSeenRow))
        }
    assert kept == ids
    catchup = _catchup(db)
    assert (catchup.newest_seen(), catchup.earliest_seen()) == (999999999999999999, 456)
    assert (catchup.newest_seen(1000), catchup.earliest_seen(455)) == (456, None)
