"""A reviewer's claim across a close and a reopen in the helpdesk: it stays its holder's while the
holder gives signs of life, and a reopened ticket whose reviewer died meanwhile is free at once."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from rt_support import RigFactory, apply_event, held_ticket
from sqlalchemy import select, update

from api.auth import create_key
from api.db import Database
from api.helpdesk.fake import FakeHelpdesk
from api.review_claim import ReviewClaims
from api.tables import DecisionRow, TicketRow, utcnow


def _quiet(db: Database, ticket_id: str, for_s: float) -> None:
    """No write of the ticket for ``for_s`` seconds (the time a dead process leaves behind)."""
    with db.session() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket_id)
            .values(updated_at=utcnow() - timedelta(seconds=for_s))
        )


def test_a_reopened_ticket_whose_reviewer_died_while_it_was_closed_is_decided_at_once(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    db = rig.services.db
    ticket_id, rt, _ = held_ticket(rig, fake)
    lease_s = rig.services.service.claims.stale_after_s
    assert ReviewClaims(db, lease_s).claim(ticket_id) is not None  # a reviewer's process took it
    fake.set_field(rt.id, "Status", "rejected", "root")
    apply_event(rig, "rt-txn-310", "status", rt.id, Status="rejected")
    assert rig.services.store.status(ticket_id) == "resolved"
    # ... and died; the ticket stays closed for longer than the claim's lease, then reopens
    _quiet(db, ticket_id, lease_s + 1)
    fake.set_field(rt.id, "Status", "open", "root")
    apply_event(rig, "rt-txn-311", "reopened", rt.id)

    _, secret = create_key(db, "reviewer", "lead")
    done = TestClient(rig.app).post(
        f"/v1/review/{ticket_id}",
        json={"team": "hardware"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert done.status_code == 200, done.text
    with db.session() as session:
        humans = session.scalars(
            select(DecisionRow.team).where(
                DecisionRow.ticket_id == ticket_id, DecisionRow.decided_by == "human"
            )
        ).all()
    assert list(humans) == ["hardware"]


def test_a_reviewer_alive_through_a_long_close_keeps_the_reopened_ticket(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    db = rig.services.db
    ticket_id, rt, _ = held_ticket(rig, fake)
    claims = ReviewClaims(db, rig.services.service.claims.stale_after_s)
    token = claims.claim(ticket_id)
    assert token is not None
    fake.set_field(rt.id, "Status", "rejected", "root")
    apply_event(rig, "rt-txn-320", "status", rt.id, Status="rejected")
    _quiet(db, ticket_id, claims.stale_after_s + 1)  # closed for longer than the lease ...
    assert claims.renew(ticket_id, token) is True  # ... while its reviewer is still deciding
    fake.set_field(rt.id, "Status", "open", "root")
    apply_event(rig, "rt-txn-321", "reopened", rt.id)
    assert rig.services.store.status(ticket_id) == "deciding"
    assert claims.claim(ticket_id) is None  # still the first reviewer's
    assert claims.renew(ticket_id, token) is True
