"""A ticket the helpdesk closes and reopens while a reviewer decides it stays that reviewer's."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from rt_support import REVIEW_TEXT, Rig, RigFactory, rt_ticket
from sqlalchemy import select

from agent.state import HumanReview
from agent.triager import Triager, TriageResult
from api.auth import create_key
from api.helpdesk.fake import FakeHelpdesk
from api.hooks import HelpdeskEvent
from api.intake.events import WEBHOOK_CALLER
from api.main import create_app
from api.options import ServiceOptions
from api.tables import DecisionRow


class _Paused:
    """The rig's triager, whose review waits at a gate before resuming the run."""

    def __init__(self, triager: Triager) -> None:
        self.triager = triager
        self.entered, self.gate = threading.Event(), threading.Event()

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        self.entered.set()
        assert self.gate.wait(10)
        return self.triager.resume(thread_id, review)

    def __getattr__(self, name: str) -> Any:  # the rest of the engine is the triager's
        return getattr(self.triager, name)


def _held(rig: Rig, fake: FakeHelpdesk) -> tuple[str, str]:
    """An RT ticket the agent holds for review: our ticket id and the RT ticket's id."""
    rt = fake.create(*REVIEW_TEXT, requester="hank@example.com")
    ticket = rt_ticket(rt.id, *REVIEW_TEXT, "hank@example.com")
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "triaging")
    rig.services.store.record(claim.id, rig.triager.triage(ticket, thread_id=claim.id), "agent")
    return claim.id, rt.id


def _event(rig: Rig, event_id: str, kind: str, rt_id: str, **changes: str) -> None:
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt", event_id=event_id, type=kind, external_id=f"rt:{rt_id}", changes=changes
        )
    )
    assert rig.connector.backflow.drain() == 1


def test_a_close_and_reopen_while_a_reviewer_decides_leaves_one_human_decision(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _held(rig, fake)
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    auth = {"Authorization": f"Bearer {secret}"}
    paused = _Paused(rig.triager)
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
        _event(rig, "rt-txn-300", "status", rt_id, Status="rejected")
        assert rig.services.store.status(ticket_id) == "resolved"
        fake.set_field(rt_id, "Status", "open", "root")  # reopened by the requester
        _event(rig, "rt-txn-301", "reopened", rt_id)
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
