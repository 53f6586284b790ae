"""The back-flow's per-pass queries find rows through indexes, not by scanning tables that grow
(every ticket, every helpdesk event ever seen): SQLite's plans, read with EXPLAIN QUERY PLAN."""

from __future__ import annotations

from query_plans import plans

from api.db import Database
from api.helpdesk.backflow import CAUGHT_UP_WITHIN
from api.helpdesk.event_log import EventLog
from api.helpdesk.moves import reopen_moves_before_decision
from api.helpdesk.outbox import WEBHOOK_KEY, webhook_ticket
from api.tables import TicketRow, utcnow


def test_the_ticket_of_a_helpdesk_event_is_found_by_index(db: Database) -> None:
    """Both re-openings ask, for each event, whether its ticket came (or was decided) after
    it: one lookup of the ticket by its external id each, not a scan of the webhook's tickets."""
    since = utcnow() - CAUGHT_UP_WITHIN
    for call in (
        lambda: EventLog(db).reopen_before_ticket("rt", since),
        lambda: reopen_moves_before_decision(db, "rt", since),
    ):
        found = [line for line in plans(db, call) if "CORRELATED" not in line]
        lookups = [line for line in found if "ix_tickets_external_id_submitted_by" in line]
        assert lookups, found


def test_pending_events_are_read_by_index(db: Database) -> None:
    """Each pass reads the unprocessed events, oldest first, from the partial index that holds
    only those; not a scan of every event ever seen, nor a sort."""
    found = plans(db, lambda: EventLog(db).pending("rt"))
    assert any("ix_helpdesk_events_pending" in line for line in found), found
    assert not any(line.startswith("SCAN") or "TEMP B-TREE" in line for line in found), found


def test_the_reopenings_keep_their_external_id_index(db: Database) -> None:
    """The re-openings look at processed events: they go by external id (the pending index
    does not hold those, and a range over it would be every event)."""
    since = utcnow() - CAUGHT_UP_WITHIN
    found = plans(db, lambda: EventLog(db).reopen_before_ticket("rt", since))
    assert "SEARCH helpdesk_events USING INDEX ix_helpdesk_events_external_id" in found[0], found


def test_the_reopenings_start_from_the_days_tickets_and_decisions(db: Database) -> None:
    """The tickets to look at are those created (or decided) within the catch-up window: read
    by their time's index, not by the submitter's, which holds every ticket the webhook sent."""
    since = utcnow() - CAUGHT_UP_WITHIN
    for call, first in (
        (lambda: EventLog(db).reopen_before_ticket("rt", since), "ix_tickets_created_at"),
        (lambda: reopen_moves_before_decision(db, "rt", since), "ix_decisions_decided_at"),
    ):
        found = plans(db, call)
        recent = found[found.index("LIST SUBQUERY 1") + 1]
        assert f"USING INDEX {first} " in recent, found


def _ticket(ticket_id: str, external_id: str, submitted_by: str) -> TicketRow:
    return TicketRow(
        id=ticket_id,
        idempotency_key=f"key:{ticket_id}",
        external_id=external_id,
        payload_hash="h",
        payload={"body": "x"},
        channel="helpdesk",
        status="decided",
        submitted_by=submitted_by,
        sla_state="ok",
        sla_events=[],
        front_of_queue=False,
    )


def test_our_ticket_of_a_helpdesk_ticket_is_the_webhooks_found_by_index(db: Database) -> None:
    """The one lookup the back-flow and the moves share: an API key's "rt:5" names no RT ticket
    of ours; the webhook's is found through the external id index, whole or one column of it."""
    with db.session() as session:
        session.add(_ticket("by-key", "rt:5", "some-key"))
        session.add(_ticket("by-webhook", "rt:5", WEBHOOK_KEY))
    with db.session() as session:
        row = session.scalars(webhook_ticket("rt:5")).first()
        assert row is not None and row.id == "by-webhook"
        assert session.scalars(webhook_ticket("rt:5", TicketRow.id)).all() == ["by-webhook"]
        assert session.scalars(webhook_ticket("rt:6", TicketRow.id)).first() is None
    for what in (TicketRow, TicketRow.id):

        def lookup(what: object = what) -> None:
            with db.session() as session:
                session.scalars(webhook_ticket("rt:5", what)).first()

        found = plans(db, lookup)
        assert found and all("ix_tickets_external_id_submitted_by" in line for line in found), found
