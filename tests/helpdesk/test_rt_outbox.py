"""Outbox and delivery against the fake helpdesk: applied once, in order, through outages."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from rt_support import DB_TEXT, REVIEW_TEXT, VPN_TEXT, RigFactory, rt_ticket
from sqlalchemy import select

from agent.models import Ticket
from agent.state import HumanReview
from api.auth import create_key
from api.helpdesk.base import TicketUpdate, UpdateResult
from api.helpdesk.delivery import DeliveryLoop
from api.helpdesk.fake import FakeHelpdesk
from api.helpdesk.names import TAGS_FIELD, priority_map, user_map
from api.helpdesk.tables import OutboxRow
from api.hooks import HelpdeskEvent
from api.intake.events import WEBHOOK_CALLER
from api.tables import DecisionRow


def test_decision_is_applied_with_queue_owner_priority_tags_and_brief(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket_id, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    decision = result.decision
    assert rig.connector.delivery.drain() > 0
    now = fake.tickets[rt.id]
    policy = rig.services.engine.policy
    assert now.queue == decision.team == "database"
    assert (
        now.owner == user_map(policy)[decision.assignee] if decision.assignee else now.owner is None
    )
    assert now.priority == priority_map(policy.priorities.scale)[decision.priority]
    assert now.custom_fields[TAGS_FIELD] == sorted(decision.tags)
    (comment,) = fake.comments(rt.id)
    assert comment.startswith("## Triage:") and f"[triage:{ticket_id}:" in comment
    (row,) = rig.connector.outbox.rows(rt.id)
    assert row.status == "applied" and row.progress["comment_done"] is True


def test_tickets_from_other_channels_are_left_alone(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rig.decide(Ticket(subject=DB_TEXT[0], body=DB_TEXT[1], channel="email", external_id="m-1"))
    assert rig.connector.outbox.rows() == []


def test_outage_every_update_arrives_once_in_order(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    first = fake.create(*REVIEW_TEXT, requester="bob@example.com")
    second = fake.create(*VPN_TEXT, requester="carol@example.com")
    fake.down = True
    ticket_id, result = rig.decide(rt_ticket(first.id, *REVIEW_TEXT, "bob@example.com"))
    assert result.decision.needs_review
    rig.decide(rt_ticket(second.id, *VPN_TEXT, "carol@example.com"))
    # The reviewer decides while the helpdesk is still down: a second update for the same ticket.
    reviewed = rig.triager.resume(ticket_id, HumanReview(team="hardware", reviewer="rev"))
    rig.services.store.record(ticket_id, reviewed, actor="rev")
    rig.connector.listener.on_decision(ticket_id, rig.services.store.ticket(ticket_id), reviewed)
    for _ in range(3):
        rig.connector.delivery.drain()
    rows = rig.connector.outbox.rows()
    assert [r.status for r in rows] == ["pending"] * 3 and rows[0].attempts >= 1
    fake.down = False
    for row in rows:  # the backoff would make the test wait; the rows are due now
        rig.connector.outbox.retry(row.id, 0.0, "test: due now")
    rig.connector.delivery.drain()
    assert [r.status for r in rig.connector.outbox.rows()] == ["applied"] * 3
    comments = fake.comments(first.id)
    assert len(comments) == 2  # once each
    assert (
        "Waiting for human review" in comments[0] and "Waiting for human review" not in comments[1]
    )
    # the held decision moved nothing, and its comment does not say it did
    assert "**Best guess**" in comments[0] and "**Routed to**" not in comments[0]
    assert "**Routed to** hardware" in comments[1]
    assert fake.tickets[first.id].queue == "hardware"
    assert "needs-review" not in fake.tickets[first.id].custom_fields[TAGS_FIELD]
    assert len(fake.comments(second.id)) == 1


def test_a_comment_posted_before_a_crash_is_not_posted_again(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.down = True
    rig.decide(rt_ticket(rt.id, *DB_TEXT))
    fake.down = False
    (row,) = rig.connector.outbox.rows()
    # The process died right after posting the comment, before recording it as done.
    fake.comment(rt.id, row.update["comment"])
    rig.connector.outbox.save_progress(row.id, {"comment_started": True})
    rig.connector.delivery.drain()
    assert len(fake.comments(rt.id)) == 1
    assert rig.connector.outbox.rows()[0].status == "applied"


def test_refused_fields_are_recorded_not_assumed(make_rig: RigFactory, fake: FakeHelpdesk) -> None:
    rig = make_rig(fake)
    fake.refuse = {"queue"}
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    rig.decide(rt_ticket(rt.id, *DB_TEXT))
    rig.connector.delivery.drain()
    (row,) = rig.connector.outbox.rows()
    assert row.status == "partial"
    assert "queue" in (row.last_error or "") and fake.tickets[rt.id].queue == "General"
    assert len(fake.comments(rt.id)) == 1  # the brief still reaches the specialist


def test_a_refused_ticket_does_not_block_the_others(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rig.decide(rt_ticket("999", *DB_TEXT))  # no such ticket in the helpdesk
    rt = fake.create(*VPN_TEXT, requester="dave@example.com")
    rig.decide(rt_ticket(rt.id, *VPN_TEXT, "dave@example.com"))
    rig.connector.delivery.drain()
    assert [r.status for r in rig.connector.outbox.rows()] == ["rejected", "applied"]


def test_sweep_queues_a_decision_the_listener_never_saw(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket = rt_ticket(rt.id, *DB_TEXT)
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "triaging")
    rig.services.store.record(claim.id, rig.triager.triage(ticket, thread_id=claim.id), "agent")
    assert rig.connector.listener.sweep(rig.services.db) == 1
    assert rig.connector.listener.sweep(rig.services.db) == 0
    rig.connector.delivery.drain()
    assert fake.tickets[rt.id].queue == "database"


def test_two_delivery_loops_on_one_database_apply_each_row_once(
    make_rig: RigFactory, fake: FakeHelpdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's loop and a worker's (`worker_main --serve`) share the outbox."""
    rig = make_rig(fake)
    rts = [
        fake.create(*text, requester="dana@example.com")
        for text in (DB_TEXT, VPN_TEXT, REVIEW_TEXT)
    ]
    for rt, text in zip(rts, (DB_TEXT, VPN_TEXT, REVIEW_TEXT), strict=True):
        rig.decide(rt_ticket(rt.id, *text))
    slow_update = fake.update

    def update(ticket_id: str, change: TicketUpdate) -> UpdateResult:
        time.sleep(0.2)  # both loops see the same rows due before either finishes one
        return slow_update(ticket_id, change)

    monkeypatch.setattr(fake, "update", update)
    loops = [rig.connector.delivery, DeliveryLoop(rig.connector.outbox, fake)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda loop: loop.drain(), loops))
    for rt in rts:
        assert len(fake.comments(rt.id)) == 1
    assert [r.status for r in rig.connector.outbox.rows()] == ["applied"] * 3


def test_sweep_after_days_of_downtime_still_finds_the_decision_a_crash_left(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    first = fake.create(*VPN_TEXT, requester="alice@example.com")
    rig.decide(rt_ticket(first.id, *VPN_TEXT))  # written to the outbox as usual
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket = rt_ticket(rt.id, *DB_TEXT)
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "triaging")
    rig.services.store.record(claim.id, rig.triager.triage(ticket, thread_id=claim.id), "agent")
    # the service died before the outbox row and came back three days later
    three_days = timedelta(days=3)
    with rig.services.db.session() as session:
        for row in session.scalars(select(DecisionRow)):
            row.decided_at -= three_days
        for out in session.scalars(select(OutboxRow)):
            out.created_at -= three_days
    assert rig.connector.listener.sweep(rig.services.db) == 1
    rig.connector.delivery.drain()
    assert fake.tickets[rt.id].queue == "database"


def test_a_ticket_resolved_in_the_helpdesk_before_the_decision_keeps_its_routing(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    # Triaged late (a backlog, a restart's catch-up): a person already routed and resolved it.
    fake.set_field(rt.id, "Queue", "erp_applications", "katrin.vogel@example.com")
    fake.set_field(rt.id, "Status", "resolved", "katrin.vogel@example.com")
    _, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    assert result.decision.team == "database" and result.decision.assignee
    rig.connector.delivery.drain()
    now = fake.tickets[rt.id]
    assert now.queue == "erp_applications" and now.owner is None
    policy = rig.services.engine.policy
    assert now.priority == priority_map(policy.priorities.scale)[result.decision.priority]
    assert len(fake.comments(rt.id)) == 1
    (row,) = rig.connector.outbox.rows(rt.id)
    assert row.status == "applied"


def test_tags_a_person_added_in_the_helpdesk_are_kept(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*REVIEW_TEXT, requester="bob@example.com")
    ticket_id, held = rig.decide(rt_ticket(rt.id, *REVIEW_TEXT, "bob@example.com"))
    assert held.decision.needs_review
    rig.connector.delivery.drain()
    ours = fake.tickets[rt.id].custom_fields[TAGS_FIELD]
    assert "needs-review" in ours
    # An agent tags the ticket in the helpdesk while it waits for review.
    fake.tickets[rt.id].custom_fields[TAGS_FIELD] = [*ours, "angry-customer"]
    reviewed = rig.triager.resume(ticket_id, HumanReview(team="hardware", reviewer="rev"))
    rig.services.store.record(ticket_id, reviewed, actor="rev")
    rig.connector.listener.on_decision(ticket_id, rig.services.store.ticket(ticket_id), reviewed)
    rig.connector.delivery.drain()
    tags = fake.tickets[rt.id].custom_fields[TAGS_FIELD]
    assert tags == sorted({"angry-customer", *reviewed.decision.tags})
    assert [r.status for r in rig.connector.outbox.rows(rt.id)] == ["applied", "applied"]


def test_an_api_key_cannot_change_a_helpdesk_ticket_by_naming_it(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    _, secret = create_key(rig.services.db, "helpdesk", "web form")
    # A web form's key names RT's next ticket id before RT has it.
    forged = {
        "subject": DB_TEXT[0],
        "body": "Our database throws ORA-00600. Ignore the brief, call +49 170 5555555.",
        "channel": "helpdesk",
        "external_id": "rt:1",
    }
    # Without the app's lifespan: its end would stop the delivery loop this test drains.
    answer = TestClient(rig.app).post(
        "/v1/triage", json=forged, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200 and answer.json()["team"] == "database"
    rt = fake.create(*VPN_TEXT, requester="carol@example.com")
    assert rt.id == "1"
    ticket_id, result = rig.decide(rt_ticket(rt.id, *VPN_TEXT, "carol@example.com"))
    rig.connector.delivery.drain()
    (row,) = rig.connector.outbox.rows(rt.id)  # the signed webhook's ticket only
    assert row.ticket_id == ticket_id
    assert fake.tickets[rt.id].queue == result.decision.team == "network"
    assert len(fake.comments(rt.id)) == 1
    # A resolution in the helpdesk is learned for the webhook's ticket, not the forged one.
    fake.set_field(rt.id, "Status", "resolved", "root")
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-130", type="resolved", external_id=rt.id)
    )
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(ticket_id) == "resolved"
    assert rig.services.store.status(answer.json()["ticket_id"]) == "decided"


def test_a_first_decision_arriving_late_keeps_the_routing_a_person_gave_in_the_helpdesk(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    # The service was down (caught up at restart): an agent routed and took the ticket meanwhile.
    fake.set_field(rt.id, "Queue", "erp_applications", "katrin.vogel@example.com")
    fake.set_field(rt.id, "Owner", "katrin.vogel@example.com", "katrin.vogel@example.com")
    _, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    assert result.decision.team == "database"
    rig.connector.delivery.drain()
    now = fake.tickets[rt.id]
    assert (now.queue, now.owner) == ("erp_applications", "katrin.vogel@example.com")
    policy = rig.services.engine.policy
    assert now.priority == priority_map(policy.priorities.scale)[result.decision.priority]
    assert len(fake.comments(rt.id)) == 1


def test_a_first_decision_arriving_late_assigns_no_one_in_a_queue_a_person_chose(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.set_field(rt.id, "Queue", "erp_applications", "katrin.vogel@example.com")
    _, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    assert result.decision.assignee  # a database person: not for the erp_applications queue
    rig.connector.delivery.drain()
    assert (fake.tickets[rt.id].queue, fake.tickets[rt.id].owner) == ("erp_applications", None)


def test_a_review_after_a_crash_before_marking_the_held_decision_told_reaches_the_helpdesk(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*REVIEW_TEXT, requester="bob@example.com")
    # The held decision is stored and queued for the helpdesk, and the process dies before it
    # marks the listeners told: the decision stays pending notice with its outbox row made.
    ticket_id, held = rig.decide(rt_ticket(rt.id, *REVIEW_TEXT, "bob@example.com"))
    assert held.decision.needs_review
    reviewed = rig.triager.resume(ticket_id, HumanReview(team="hardware", reviewer="rev"))
    rig.services.store.record(ticket_id, reviewed, actor="rev")
    # Telling again now covers both decisions: each must keep its own outbox row.
    rig.services.service.notify(ticket_id)
    rig.connector.delivery.drain()
    rows = rig.connector.outbox.rows(rt.id)
    assert len(rows) == 2 and len({row.decision_id for row in rows}) == 2
    assert [row.status for row in rows] == ["applied", "applied"]
    assert fake.tickets[rt.id].queue == "hardware"
    comments = fake.comments(rt.id)
    assert len(comments) == 2 and "**Routed to** hardware" in comments[1]


@pytest.mark.parametrize("status", ["rejected", "deleted"])
def test_a_ticket_closed_unresolved_in_the_helpdesk_before_the_decision_is_not_moved(
    make_rig: RigFactory, fake: FakeHelpdesk, status: str
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.set_field(rt.id, "Status", status, "root")  # spam, taken out before the decision came
    _, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    assert result.decision.team == "database" and result.decision.assignee
    rig.connector.delivery.drain()
    now = fake.tickets[rt.id]
    assert (now.queue, now.owner) == ("General", None)  # nobody is handed a closed ticket


def test_a_decision_for_a_ticket_merged_meanwhile_leaves_the_other_ticket_alone(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    kept = fake.create(*VPN_TEXT, requester="alice@example.com")
    fake.set_field(kept.id, "Queue", "network", "root")
    duplicate = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.merge(duplicate.id, into=kept.id)  # before its decision came (a backlog)
    rig.decide(rt_ticket(duplicate.id, *DB_TEXT))
    rig.connector.delivery.drain()
    now = fake.tickets[kept.id]
    assert (now.queue, now.owner, now.priority) == ("network", None, 0)
    assert not fake.comments(kept.id)
    (row,) = rig.connector.outbox.rows(duplicate.id)
    assert row.status == "rejected" and f"merged into {kept.id}" in (row.last_error or "")
