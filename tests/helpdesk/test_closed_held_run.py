"""A held ticket the helpdesk closes leaves no waiting run behind, and is reviewed if reopened."""

from __future__ import annotations

from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableConfig
from rt_support import RigFactory, apply_event, held_ticket

from api.auth import create_key
from api.helpdesk.fake import FakeHelpdesk


def test_a_held_ticket_closed_in_the_helpdesk_drops_its_waiting_run(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt, _ = held_ticket(rig, fake)
    rt_id = rt.id
    thread: RunnableConfig = {"configurable": {"thread_id": ticket_id}}
    assert rig.triager.checkpointer.get_tuple(thread) is not None  # waiting for review
    fake.set_field(rt_id, "Status", "rejected", "root")
    apply_event(rig, "rt-txn-300", "status", rt_id, Status="rejected")
    assert rig.services.store.status(ticket_id) == "resolved"
    # Nobody resumes it now: its checkpoints would stay for as long as the service runs.
    assert rig.triager.checkpointer.get_tuple(thread) is None
    # Reopened, it waits for review again and is decided from its stored held decision.
    fake.set_field(rt_id, "Status", "open", "root")
    apply_event(rig, "rt-txn-301", "reopened", rt_id)
    assert rig.services.store.status(ticket_id) == "review"
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    with TestClient(rig.app) as client:
        answer = client.post(
            f"/v1/review/{ticket_id}",
            json={"team": "hardware"},
            headers={"Authorization": f"Bearer {secret}"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"]["decided_by"] == "human"
    assert rig.services.store.status(ticket_id) == "decided"


def test_a_held_ticket_resolved_in_the_helpdesk_drops_its_waiting_run(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt, _ = held_ticket(rig, fake)
    rt_id = rt.id
    thread: RunnableConfig = {"configurable": {"thread_id": ticket_id}}
    fake.record(rt_id, "Correspond", "mehmet.yilmaz@example.com", content="Swapped the dock.")
    fake.set_field(rt_id, "Status", "resolved", "mehmet.yilmaz@example.com")
    apply_event(rig, "rt-txn-50", "resolved", rt_id)
    assert rig.services.store.status(ticket_id) == "resolved"
    assert rig.triager.checkpointer.get_tuple(thread) is None
