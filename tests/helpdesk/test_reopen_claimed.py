"""A ticket the helpdesk closes and reopens while a reviewer decides it stays that reviewer's."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from rt_support import PausedReview, RigFactory, apply_event, held_ticket
from sqlalchemy import select

from api.auth import create_key
from api.helpdesk.fake import FakeHelpdesk
from api.main import create_app
from api.options import ServiceOptions
from api.tables import DecisionRow


def test_a_close_and_reopen_while_a_reviewer_decides_leaves_one_human_decision(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt, _ = held_ticket(rig, fake)
    rt_id = rt.id
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    auth = {"Authorization": f"Bearer {secret}"}
    paused = PausedReview(rig.triager)
    # the first reviewer's request is answered by a second API process on the same database
    other = create_app(rig.services.settings, paused, ServiceOptions())  # type: ignore[arg-type]
    second = TestClient(rig.app)
    answers: dict[str, Any] = {}
    with TestClient(other) as first:

        def decide() -> None:
            answers["first"] = first.post(
                f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=auth
            )

        thread = threading.Thread(target=decide)
        thread.start()
        assert paused.entered.wait(10)  # claimed: 'deciding'
        fake.set_field(rt_id, "Status", "rejected", "root")
        apply_event(rig, "rt-txn-300", "status", rt_id, Status="rejected")
        assert rig.services.store.status(ticket_id) == "resolved"
        fake.set_field(rt_id, "Status", "open", "root")  # reopened by the requester
        apply_event(rig, "rt-txn-301", "reopened", rt_id)
        # open again, and still the first reviewer's: not back in the queue
        assert rig.services.store.status(ticket_id) == "deciding"
        queue = second.get("/v1/review", headers=auth).json()
        answers["second"] = second.post(
            f"/v1/review/{ticket_id}", json={"team": "network"}, headers=auth
        )
        paused.gate.set()
        thread.join(30)
        other.state.services.db.close()
    assert answers["second"].status_code == 409, answers["second"].text
    assert "another reviewer is deciding it" in answers["second"].json()["detail"]
    assert answers["first"].status_code == 200, answers["first"].text
    assert [item["id"] for item in queue] == [ticket_id]  # in sight, as being decided
    with rig.services.db.session() as session:
        humans = session.scalars(
            select(DecisionRow.team).where(
                DecisionRow.ticket_id == ticket_id, DecisionRow.decided_by == "human"
            )
        ).all()
    assert list(humans) == ["hardware"]
    assert rig.services.store.status(ticket_id) == "decided"
