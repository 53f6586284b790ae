"""People moving a ticket in the helpdesk: our ticket's team and assignee follow at once."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from rt_support import DB_TEXT, REVIEW_TEXT, Rig, RigFactory, rt_ticket

from agent.kpis import compute_kpis
from api.auth import create_key
from api.helpdesk.fake import FakeHelpdesk
from api.helpdesk.tables import EventRow
from api.hooks import HelpdeskEvent
from api.intake.events import WEBHOOK_CALLER
from api.tables import utcnow

KATRIN, SOFIA = "katrin.vogel@example.com", "sofia.rossi@example.com"


def _moved(event_id: str, external: str, field: str, value: str | None) -> HelpdeskEvent:
    # As the intake adapts RT's Set/Give/Take transaction: "updated", the field's new value.
    return HelpdeskEvent(
        source="rt",
        event_id=event_id,
        type="updated",
        external_id=f"rt:{external}",
        changes={field: value},
    )


def _routed(rig: Rig, fake: FakeHelpdesk) -> tuple[str, str, str]:
    """A ticket decided and applied in the helpdesk; its ids and the agent's assignee."""
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket_id, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    rig.connector.delivery.drain()
    assert result.decision.team == "database" and result.decision.assignee
    return ticket_id, rt.id, result.decision.assignee


def _load(rig: Rig, member: str) -> int:
    """The member's open tickets as the router reads them (from the database, not its cache)."""
    rig.services.loads.invalidate()
    return int(rig.services.loads.open_count(member))


def test_an_owner_change_in_the_helpdesk_moves_the_assignee_and_the_loads(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id, ours = _routed(rig, fake)
    assert ours != "Sofia Rossi" and _load(rig, ours) == 1
    fake.set_field(rt_id, "Owner", SOFIA, KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-900", rt_id, "Owner", SOFIA))
    rig.connector.backflow.drain()
    view = rig.services.store.view(ticket_id)
    assert (view.team, view.assignee) == ("database", "Sofia Rossi")
    assert view.status == "decided"
    assert view.decision is not None and view.decision["assignee"] == ours  # the agent's, kept
    assert (_load(rig, "Sofia Rossi"), _load(rig, ours)) == (1, 0)


def test_a_queue_move_in_the_helpdesk_moves_the_team_and_the_misroute_is_still_judged(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id, ours = _routed(rig, fake)
    fake.set_field(rt_id, "Queue", "erp_applications", KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-910", rt_id, "Queue", "erp_applications"))
    rig.connector.backflow.drain()
    view = rig.services.store.view(ticket_id)
    # RT keeps the owner on a queue move: the person still has it, and it counts for them
    assert (view.team, view.assignee) == ("erp_applications", ours)
    # the SLA watch's list names the team it is in now
    late = [a for a in rig.services.sla.at_risk(utcnow() + timedelta(days=60)) if a.id == ticket_id]
    assert [a.team for a in late] == ["erp_applications"]
    fake.set_field(rt_id, "Status", "resolved", KATRIN)
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-911", type="resolved", external_id=rt_id)
    )
    rig.connector.backflow.drain()
    (record,) = rig.services.ledger.outcomes("service_desk")
    assert (record.first_route, record.team) == ("database", "erp_applications")
    assert compute_kpis([record]).escalation_accuracy_rate == 0.0


def test_a_queue_that_is_no_team_keeps_the_team_and_nobody_drops_the_assignee(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id, ours = _routed(rig, fake)
    fake.set_field(rt_id, "Queue", "General", KATRIN)
    fake.set_field(rt_id, "Owner", None, KATRIN)  # Nobody
    rig.connector.handler.handle(_moved("rt-txn-920", rt_id, "Queue", "General"))
    rig.connector.handler.handle(_moved("rt-txn-921", rt_id, "Owner", "Nobody"))
    rig.connector.backflow.drain()
    view = rig.services.store.view(ticket_id)
    assert (view.team, view.assignee) == ("database", None)
    assert _load(rig, ours) == 0


def test_an_owner_who_is_no_member_of_the_policy_is_no_assignee(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id, ours = _routed(rig, fake)
    fake.users.add("root")
    fake.set_field(rt_id, "Owner", "root", "root")
    rig.connector.handler.handle(_moved("rt-txn-930", rt_id, "Owner", "root"))
    rig.connector.backflow.drain()
    assert rig.services.store.view(ticket_id).assignee is None
    assert _load(rig, ours) == 0


def test_moves_that_arrive_out_of_order_or_twice_leave_where_the_helpdesk_has_it_now(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id, _ = _routed(rig, fake)
    fake.set_field(rt_id, "Owner", SOFIA, KATRIN)
    fake.set_field(rt_id, "Owner", KATRIN, KATRIN)
    # the catch-up hands over the earlier transaction after the later one was applied
    rig.connector.handler.handle(_moved("rt-txn-941", rt_id, "Owner", KATRIN))
    rig.connector.backflow.drain()
    for _ in range(2):
        rig.connector.handler.handle(_moved("rt-txn-940", rt_id, "Owner", SOFIA))
    rig.connector.backflow.drain()
    assert rig.services.store.view(ticket_id).assignee == "Katrin Vogel"
    with rig.services.db.session() as session:
        assert session.get(EventRow, "rt-txn-940").processed_at is not None  # type: ignore[union-attr]
    assert _load(rig, "Katrin Vogel") == 1 and _load(rig, "Sofia Rossi") == 0


def test_our_own_changes_and_an_undelivered_decision_are_not_moves(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket_id, result = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    # not applied yet: the helpdesk still has it in General, owned by nobody, moved by nobody
    rig.connector.handler.handle(_moved("rt-txn-950", rt.id, "Priority", "50"))
    rig.connector.handler.handle(_moved("rt-txn-951", rt.id, "Queue", "General"))
    rig.connector.backflow.drain()
    view = rig.services.store.view(ticket_id)
    assert (view.team, view.assignee) == ("database", result.decision.assignee)
    rig.connector.delivery.drain()
    rig.connector.handler.handle(_moved("rt-txn-952", rt.id, "Queue", "database"))
    rig.connector.backflow.drain()
    view = rig.services.store.view(ticket_id)
    assert (view.team, view.assignee) == ("database", result.decision.assignee)


def test_a_move_while_the_ticket_waits_for_review_keeps_it_waiting(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*REVIEW_TEXT, requester="hank@example.com")
    ticket_id, held = rig.decide(rt_ticket(rt.id, *REVIEW_TEXT, "hank@example.com"))
    rig.connector.delivery.drain()
    assert held.decision.needs_review and held.decision.team != "network"
    fake.set_field(rt.id, "Queue", "network", KATRIN)
    fake.set_field(rt.id, "Owner", "thomas.berg@example.com", KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-960", rt.id, "Queue", "network"))
    rig.connector.handler.handle(_moved("rt-txn-961", rt.id, "Owner", "thomas.berg@example.com"))
    rig.connector.backflow.drain()
    view = rig.services.store.view(ticket_id)
    assert view.status == "review"  # a reviewer still decides it (and the case is learned)
    assert (view.team, view.assignee) == ("network", "Thomas Berg")
    assert _load(rig, "Thomas Berg") == 1
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    client = TestClient(rig.app)
    auth = {"Authorization": f"Bearer {secret}"}
    (item,) = client.get("/v1/review", headers=auth).json()
    assert (item["team"], item["suggested_team"]) == ("network", held.decision.team)
    got = client.get(f"/v1/tickets/{ticket_id}", headers=auth).json()
    assert (got["team"], got["assignee"]) == ("network", "Thomas Berg")


def test_a_move_before_the_decision_is_applied_once_the_ticket_is_decided(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket = rt_ticket(rt.id, *DB_TEXT)
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "queued")
    fake.set_field(rt.id, "Queue", "erp_applications", KATRIN)
    fake.set_field(rt.id, "Owner", KATRIN, KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-970", rt.id, "Queue", "erp_applications"))
    rig.connector.handler.handle(_moved("rt-txn-971", rt.id, "Owner", KATRIN))
    assert rig.connector.backflow.drain() == 0  # waits for the decision
    result = rig.triager.triage(ticket, thread_id=claim.id)
    rig.services.store.record(claim.id, result, actor="agent")
    rig.connector.listener.on_decision(claim.id, ticket, result)
    rig.connector.delivery.drain()  # the person's queue and owner stand
    assert rig.connector.backflow.drain() == 2
    view = rig.services.store.view(claim.id)
    assert (view.team, view.assignee) == ("erp_applications", "Katrin Vogel")
    assert view.decision is not None and view.decision["team"] == "database"


def test_a_move_of_a_ticket_the_helpdesk_no_longer_has_is_done_with(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id, ours = _routed(rig, fake)
    fake.set_field(rt_id, "Owner", SOFIA, KATRIN)
    del fake.tickets[rt_id]  # deleted for good before the event was processed
    rig.connector.handler.handle(_moved("rt-txn-980", rt_id, "Owner", SOFIA))
    assert rig.connector.backflow.drain() == 1  # not an error retried pass after pass
    assert rig.services.store.view(ticket_id).assignee == ours


def test_a_move_while_triage_had_failed_is_applied_once_a_replay_decides_it(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket = rt_ticket(rt.id, *DB_TEXT)
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "triaging")
    rig.services.store.set_status(claim.id, "failed", "UpstreamError: model down")
    fake.set_field(rt.id, "Queue", "erp_applications", KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-990", rt.id, "Queue", "erp_applications"))
    assert rig.connector.backflow.drain() == 1  # nothing placed here to move yet
    # the dead letter replayed: decided now, and the first decision leaves the person's queue
    result = rig.triager.triage(ticket, thread_id=claim.id)
    rig.services.store.record(claim.id, result, actor="agent")
    rig.connector.listener.on_decision(claim.id, ticket, result)
    rig.connector.delivery.drain()
    assert fake.tickets[rt.id].queue == "erp_applications"
    rig.connector.backflow.drain()
    view = rig.services.store.view(claim.id)
    assert (view.team, view.assignee) == ("erp_applications", None)
    assert view.decision is not None and view.decision["team"] == "database"


def test_a_move_into_the_first_lines_queue_ends_the_escalation_and_one_out_starts_it(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    """Escalated is "in a team other than the first line": the SLA watch follows the queue."""
    rig = make_rig(fake)
    ticket_id, rt_id, _ = _routed(rig, fake)

    def watched() -> bool:
        at_risk = rig.services.sla.at_risk(utcnow() + timedelta(days=60))
        return ticket_id in [a.id for a in at_risk]

    assert watched()  # the database team's: escalated by our decision
    fake.set_field(rt_id, "Queue", "service_desk", KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-940", rt_id, "Queue", "service_desk"))
    rig.connector.backflow.drain()
    assert rig.services.store.view(ticket_id).team == "service_desk"
    assert not watched()
    fake.set_field(rt_id, "Queue", "network", KATRIN)
    rig.connector.handler.handle(_moved("rt-txn-941", rt_id, "Queue", "network"))
    rig.connector.backflow.drain()
    assert rig.services.store.view(ticket_id).team == "network"
    assert watched()
