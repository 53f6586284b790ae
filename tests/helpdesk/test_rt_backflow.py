"""Back-flow against the fake helpdesk: a resolution becomes a learned case and a KPI record."""

from __future__ import annotations

import runpy
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rt_support import (
    DB_TEXT,
    REPO,
    PausedReview,
    Rig,
    RigFactory,
    apply_event,
    held_ticket,
    rt_ticket,
)
from sqlalchemy import event, func, select

from agent.errors import ConflictError
from agent.kpis import compute_kpis
from api.auth import create_key
from api.helpdesk.base import HelpdeskTicket
from api.helpdesk.event_log import MAX_ATTEMPTS
from api.helpdesk.fake import FakeHelpdesk
from api.helpdesk.tables import EventRow, OutcomeRow
from api.hooks import HelpdeskEvent
from api.intake.events import WEBHOOK_CALLER
from api.main import create_app
from api.options import ServiceOptions
from api.tables import FeedbackRow, TicketRow, utcnow

# The scrip's body as the intake tests know it (INTEGRATION.md contract).
rt_payload = runpy.run_path(str(REPO / "tests" / "api" / "intake" / "intake_samples.py"))[
    "rt_payload"
]


def _resolved(event_id: str, external: str) -> HelpdeskEvent:
    # The intake hands over the canonical "rt:<id>"; RT's bare id is accepted too.
    return HelpdeskEvent(
        source="rt", event_id=event_id, type="resolved", external_id=f"rt:{external}"
    )


def _routed(rig: Rig, fake: FakeHelpdesk) -> tuple[str, str]:
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket_id, _ = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    rig.connector.delivery.drain()
    return ticket_id, rt.id


def test_resolution_where_we_sent_it_is_a_correct_route(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.record(rt_id, "Correspond", "mehmet.yilmaz@example.com", content="Patched the DB.")
    fake.set_field(rt_id, "Status", "resolved", "mehmet.yilmaz@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-50", rt_id))
    assert rig.connector.backflow.drain() == 1
    report = compute_kpis(rig.services.ledger.outcomes("service_desk"))
    assert report.escalation_accuracy_rate == 1.0 and report.first_contact_resolution_rate == 1.0
    case = rig.triager.kb.store.get(ticket_id)
    assert case is not None and case.label_source == "helpdesk"
    assert case.team == "database" and case.resolution == "Patched the DB."


def test_a_reassignment_after_our_decision_is_a_misroute(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Queue", "erp_applications", "mehmet.yilmaz@example.com")
    fake.set_field(rt_id, "Status", "resolved", "katrin.vogel@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-60", rt_id))
    rig.connector.backflow.drain()
    (record,) = rig.services.ledger.outcomes("service_desk")
    assert record.first_route == "database" and record.team == "erp_applications"
    assert compute_kpis([record]).escalation_accuracy_rate == 0.0
    assert rig.triager.kb.store.get(ticket_id).team == "erp_applications"  # type: ignore[union-attr]


def test_a_resolution_after_a_specialists_correction_keeps_the_corrected_team(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    # The specialist corrects the route in the service; nobody moves the helpdesk ticket, which
    # is then resolved in the queue the agent chose. The correction must not be undone.
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    _, secret = create_key(rig.services.db, "specialist", "erp team")
    correction = {"correct_team": "erp_applications", "handling_hours": 9.0, "note": "ERP job"}
    answer = TestClient(rig.app).post(
        f"/v1/tickets/{ticket_id}/feedback",
        json=correction,
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 200, answer.text
    fake.record(rt_id, "Correspond", "mehmet.yilmaz@example.com", content="Fixed the ERP job.")
    fake.set_field(rt_id, "Status", "resolved", "mehmet.yilmaz@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-55", rt_id))
    assert rig.connector.backflow.drain() == 1
    case = rig.triager.kb.store.get(ticket_id)
    assert case is not None
    assert (case.team, case.escalated, case.label_source) == (
        "erp_applications",
        True,
        "specialist",
    )
    # the outcome's facts are the helpdesk's
    assert case.resolution == "Fixed the ERP job." and case.handling_hours != 9.0
    assert case.first_contact_resolved is True
    (record,) = rig.services.ledger.outcomes("service_desk")
    assert (record.first_route, record.team) == ("database", "erp_applications")
    assert compute_kpis([record]).escalation_accuracy_rate == 0.0
    with rig.services.db.session() as session:
        latest = session.scalars(select(FeedbackRow).order_by(FeedbackRow.id.desc())).first()
        assert latest is not None and latest.author_key == "helpdesk:rt"
        assert latest.feedback["helpdesk_team"] == "database"
        assert latest.feedback["team_kept"] == "specialist"


def _reviewed(rig: Rig, fake: FakeHelpdesk, team: str) -> tuple[str, str, str]:
    """A ticket held for review, then decided by a reviewer through the API, both decisions
    told as the service tells them; its ids and the agent's guess."""
    ticket_id, rt, held = held_ticket(rig, fake)
    rig.services.service.notify(ticket_id)
    assert held.decision.needs_review and held.decision.team != team
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    answer = TestClient(rig.app).post(
        f"/v1/review/{ticket_id}",
        json={"team": team},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 200 and answer.json()["learned"] is True, answer.text
    rig.connector.delivery.drain()
    assert fake.tickets[rt.id].queue == team
    return ticket_id, rt.id, held.decision.team


def test_a_queue_move_after_a_review_replaces_the_reviewers_team(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    # The reviewer routed it before the work; the people who worked on it moved it after.
    rig = make_rig(fake)
    ticket_id, rt_id, _ = _reviewed(rig, fake, "service_desk")
    fake.set_field(rt_id, "Queue", "hardware", "katrin.vogel@example.com")
    fake.set_field(rt_id, "Status", "resolved", "katrin.vogel@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-56", rt_id))
    assert rig.connector.backflow.drain() == 1
    case = rig.triager.kb.store.get(ticket_id)
    assert case is not None and (case.team, case.label_source) == ("hardware", "helpdesk")
    (record,) = rig.services.ledger.outcomes("service_desk")
    assert (record.first_route, record.team) == ("service_desk", "hardware")  # a misroute


def test_a_queue_that_is_no_team_leaves_the_reviewers_team(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    # 'General' names no team: the back-flow would label the case with the agent's first
    # guess, the very team the reviewer overruled.
    rig = make_rig(fake)
    ticket_id, rt_id, guess = _reviewed(rig, fake, "service_desk")
    fake.set_field(rt_id, "Queue", "General", "katrin.vogel@example.com")
    fake.set_field(rt_id, "Status", "resolved", "katrin.vogel@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-57", rt_id))
    assert rig.connector.backflow.drain() == 1
    case = rig.triager.kb.store.get(ticket_id)
    assert case is not None and (case.team, case.label_source) == ("service_desk", "review")
    assert guess == "hardware"
    (record,) = rig.services.ledger.outcomes("service_desk")
    assert (record.first_route, record.team) == ("service_desk", "service_desk")


def test_events_are_deduplicated_and_non_resolutions_only_recorded(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    _, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    for _ in range(3):
        rig.connector.handler.handle(_resolved("rt-txn-70", rt_id))
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-71", type="commented", external_id=rt_id)
    )
    assert rig.connector.backflow.drain() == 1
    assert rig.connector.backflow.drain() == 0
    assert len(rig.services.ledger.outcomes("service_desk")) == 1


def test_resolution_waits_while_the_helpdesk_is_down(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    _, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-80", rt_id))
    fake.down = True
    assert rig.connector.backflow.drain() == 0
    fake.down = False
    assert rig.connector.backflow.drain() == 1


def test_a_long_helpdesk_outage_loses_no_resolution(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-90", rt_id))
    fake.down = True
    for _ in range(MAX_ATTEMPTS + 5):  # a pass every poll_s while RT is down
        assert rig.connector.backflow.drain() == 0
    fake.down = False
    assert rig.connector.backflow.drain() == 1
    assert rig.triager.kb.store.get(ticket_id) is not None


def test_a_ticket_reopened_in_the_helpdesk_is_open_again(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-100", rt_id))
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "resolved"
    fake.set_field(rt_id, "Status", "open", "root")
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-101", type="reopened", external_id=rt_id)
    )
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "decided"  # in the SLA watch again


def test_a_reopen_right_after_the_resolution_is_applied_after_it(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-110", rt_id))
    fake.set_field(rt_id, "Status", "open", "root")
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-111", type="reopened", external_id=rt_id)
    )
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "decided"


def test_a_resolution_before_the_decision_waits_for_it(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket = rt_ticket(rt.id, *DB_TEXT)
    # Queued behind a backlog (or caught up after a restart) while a person routes and resolves it.
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "queued")
    fake.set_field(rt.id, "Queue", "erp_applications", "katrin.vogel@example.com")
    fake.set_field(rt.id, "Status", "resolved", "katrin.vogel@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-120", rt.id))
    assert rig.connector.backflow.drain() == 0
    result = rig.triager.triage(ticket, thread_id=claim.id)
    rig.services.store.record(claim.id, result, actor="agent")
    rig.connector.listener.on_decision(claim.id, ticket, result)
    rig.connector.delivery.drain()
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(claim.id) == "resolved"
    assert rig.triager.kb.store.get(claim.id).team == "erp_applications"  # type: ignore[union-attr]


def test_a_refused_resolution_does_not_hold_up_the_others(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    rig.connector.handler.handle(_resolved("rt-txn-140", "404"))  # a ticket RT no longer has
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-141", rt_id))
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(ticket_id) == "resolved"


def test_a_ticket_rejected_in_the_helpdesk_is_closed_here_and_not_learned(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "rejected", "root")  # spam: closed without a resolution
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt",
            event_id="rt-txn-150",
            type="status",
            external_id=f"rt:{rt_id}",
            changes={"Status": "rejected"},
        )
    )
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "resolved"  # out of the SLA watch
    assert rig.triager.kb.store.get(ticket_id) is None
    assert rig.services.ledger.outcomes("service_desk")[0].first_route is None  # not judged


@pytest.mark.parametrize("status", ["rejected", "resolved"])
def test_a_ticket_closed_in_the_helpdesk_while_a_reviewer_decides_it_stays_closed(
    make_rig: RigFactory, fake: FakeHelpdesk, status: str
) -> None:
    rig = make_rig(fake)
    ticket_id, rt, _ = held_ticket(rig, fake)
    assert rig.services.store.status(ticket_id) == "review"
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    paused = PausedReview(rig.triager)
    # the reviewer's request is answered by a second API process on the same database
    other = create_app(rig.services.settings, paused, ServiceOptions())  # type: ignore[arg-type]
    answers: dict[str, Any] = {}
    with TestClient(other) as reviewer:

        def decide() -> None:
            answers["review"] = reviewer.post(
                f"/v1/review/{ticket_id}",
                json={"team": "hardware"},
                headers={"Authorization": f"Bearer {secret}"},
            )

        thread = threading.Thread(target=decide)
        thread.start()
        assert paused.entered.wait(10)  # claimed: 'deciding'
        # meanwhile the customer's ticket is closed in the helpdesk (spam, or solved there)
        fake.set_field(rt.id, "Status", status, "root")
        kind = "resolved" if status == "resolved" else "status"
        apply_event(rig, "rt-txn-170", kind, rt.id, Status=status)
        assert rig.services.store.status(ticket_id) == "resolved"
        paused.gate.set()
        thread.join(30)
        other.state.services.db.close()
    assert answers["review"].status_code == 200, answers["review"].text
    # the review does not reopen it; its decision is kept as the ticket's history
    assert rig.services.store.status(ticket_id) == "resolved"
    assert rig.services.store.output(ticket_id)["decided_by"] == "human"  # type: ignore[index]
    with rig.services.db.session() as session:
        assert (
            session.scalars(select(TicketRow.front_of_queue).where(TicketRow.id == ticket_id)).one()
            is False
        )


def test_a_reopen_read_before_a_review_is_stored_does_not_hold_the_ticket_for_review_again(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    """The helpdesk closes and reopens a ticket while a reviewer decides it; the reopen reads
    the held decision, the review stores the human one, then the reopen writes its status: the
    ticket must not wait for review again with a human decision no review can resume."""
    rig = make_rig(fake)
    ticket_id, rt, _ = held_ticket(rig, fake)
    _, secret = create_key(rig.services.db, "reviewer", "lead")
    paused = PausedReview(rig.triager)
    other = create_app(rig.services.settings, paused, ServiceOptions())  # type: ignore[arg-type]
    read, go_on = threading.Event(), threading.Event()
    reopening: list[threading.Thread] = []

    def pause_after_reading_the_decision(*args: Any) -> None:
        statement = args[2]
        if threading.current_thread() in reopening and "needs_review" in statement:
            read.set()
            assert go_on.wait(10)

    engine = rig.services.db.engine
    event.listen(engine, "after_cursor_execute", pause_after_reading_the_decision)
    answers: dict[str, Any] = {}
    try:
        with TestClient(other) as reviewer:

            def decide() -> None:
                answers["review"] = reviewer.post(
                    f"/v1/review/{ticket_id}",
                    json={"team": "hardware"},
                    headers={"Authorization": f"Bearer {secret}"},
                )

            review = threading.Thread(target=decide)
            review.start()
            assert paused.entered.wait(10)  # claimed: 'deciding'
            fake.set_field(rt.id, "Status", "rejected", "root")
            apply_event(rig, "rt-txn-190", "status", rt.id, Status="rejected")
            assert rig.services.store.status(ticket_id) == "resolved"
            fake.set_field(rt.id, "Status", "open", "root")  # reopened by the requester
            rig.connector.handler.handle(
                HelpdeskEvent(
                    source="rt", event_id="rt-txn-191", type="reopened", external_id=rt.id
                )
            )
            reopening.append(threading.Thread(target=rig.connector.backflow.drain))
            reopening[0].start()
            assert read.wait(10)  # the reopen has read the held decision
            paused.gate.set()
            review.join(3)  # the review stores its decision now, unless the reopen holds it
            go_on.set()
            reopening[0].join(30)
            review.join(30)
            other.state.services.db.close()
    finally:
        event.remove(engine, "after_cursor_execute", pause_after_reading_the_decision)
    assert answers["review"].status_code == 200, answers["review"].text
    assert rig.services.store.output(ticket_id)["decided_by"] == "human"  # type: ignore[index]
    # open again in the helpdesk, decided by the reviewer: open here, not held for review
    assert rig.services.store.status(ticket_id) == "decided"


def test_the_resolution_is_the_agents_last_reply_not_the_requesters_thanks(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.record(rt_id, "Correspond", "mehmet.yilmaz@example.com", content="Patched the DB.")
    fake.record(rt_id, "Correspond", "alice@example.com", content="Thanks, it works now!")
    fake.set_field(rt_id, "Status", "resolved", "mehmet.yilmaz@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-160", rt_id))
    assert rig.connector.backflow.drain() == 1
    case = rig.triager.kb.store.get(ticket_id)
    assert case is not None and case.resolution == "Patched the DB."


class MeetingHelpdesk(FakeHelpdesk):
    """A fake helpdesk whose ticket(), once armed, holds each caller until the other runner
    reads the ticket too, or has finished its pass: two processes in the same second."""

    def __init__(self, queues: list[str], users: list[str]) -> None:
        super().__init__(queues, users)
        self.meeting = threading.Condition()
        self.armed = False
        self.inside = self.finished = 0

    def ticket(self, ticket_id: str) -> HelpdeskTicket:
        with self.meeting:
            if not self.armed:
                return super().ticket(ticket_id)
            self.inside += 1
            self.meeting.notify_all()
            self.meeting.wait_for(lambda: self.inside + self.finished >= 2, timeout=10)
        return super().ticket(ticket_id)

    def done(self) -> None:
        """A runner's pass has ended."""
        with self.meeting:
            self.finished += 1
            self.meeting.notify_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One database for two API processes: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def test_two_processes_learn_a_resolution_once(
    make_rig: RigFactory, fake: FakeHelpdesk, shared_url: str
) -> None:
    """Two API processes on one database (each its own engine), both draining the back-flow
    while the same resolution is pending: one of them processes it, the other leaves it."""
    helpdesk = MeetingHelpdesk(sorted(fake.queues), sorted(fake.users))
    first = make_rig(helpdesk, database_url=shared_url)
    second = make_rig(helpdesk, database_url=shared_url)
    assert first.services.db.engine is not second.services.db.engine
    ticket_id, rt_id = _routed(first, helpdesk)
    helpdesk.set_field(rt_id, "Status", "resolved", "root")
    first.connector.handler.handle(_resolved("rt-txn-170", rt_id))
    done: list[int] = []
    helpdesk.armed = True

    def run(rig: Rig) -> None:
        try:
            done.append(rig.connector.backflow.drain())
        finally:
            helpdesk.done()

    runners = [threading.Thread(target=run, args=(rig,)) for rig in (first, second)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(30)
    with first.services.db.session() as session:
        outcomes = session.scalar(select(func.count()).select_from(OutcomeRow))
    assert outcomes == 1
    assert sorted(done) == [0, 1]
    assert len(first.services.ledger.outcomes("service_desk")) == 1
    assert first.services.store.status(ticket_id) == "resolved"


def test_a_resolution_another_process_holds_holds_back_the_reopen_after_it(
    make_rig: RigFactory, fake: FakeHelpdesk, tmp_path: Path
) -> None:
    """Its claim is the other process's until the lease ends: the ticket's reopen waits behind
    it; a process that died holding it frees it when the lease ends."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first, second = make_rig(fake, database_url=url), make_rig(fake, database_url=url)
    ticket_id, rt_id = _routed(first, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    first.connector.handler.handle(_resolved("rt-txn-180", rt_id))
    fake.set_field(rt_id, "Status", "open", "root")
    first.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-181", type="reopened", external_id=rt_id)
    )
    events = first.connector.backflow.events
    assert events.claim("rt-txn-180", utcnow())  # the first process is reading RT
    assert second.connector.backflow.drain() == 0
    assert second.services.store.status(ticket_id) == "decided"
    # The first process died holding it. Its lease ends (the clock moved on past it), and the
    # other process takes over, in order.
    with first.services.db.session() as session:
        row = session.get(EventRow, "rt-txn-180")
        assert row is not None and row.claimed_until is not None
        row.claimed_until = utcnow() - timedelta(seconds=1)
    assert second.connector.backflow.drain() == 2
    assert second.services.store.status(ticket_id) == "decided"  # resolved, then reopened
    assert len(second.services.ledger.outcomes("service_desk")) == 1


def _failed(rig: Rig, fake: FakeHelpdesk) -> tuple[str, str]:
    """A helpdesk ticket whose triage failed (as the service records a failed run)."""
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket = rt_ticket(rt.id, *DB_TEXT)
    claim = rig.services.store.claim(ticket, None, WEBHOOK_CALLER.key_id, "triaging")
    rig.services.store.set_status(claim.id, "failed", "TriageError: the model timed out")
    return claim.id, rt.id


def test_a_failed_ticket_rejected_in_the_helpdesk_is_closed_and_not_triaged_again(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _failed(rig, fake)
    fake.set_field(rt_id, "Status", "rejected", "root")
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt",
            event_id="rt-txn-180",
            type="status",
            external_id=f"rt:{rt_id}",
            changes={"Status": "rejected"},
        )
    )
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(ticket_id) == "resolved"
    # the intake's next attempt at it finds it closed: no decision, nothing sent to the helpdesk
    rig.services.service.process(ticket_id)
    assert rig.services.store.status(ticket_id) == "resolved"
    assert rig.services.store.output(ticket_id) is None
    rig.connector.delivery.drain()
    assert fake.tickets[rt_id].queue == "General" and not fake.comments(rt_id)


@pytest.mark.parametrize("status", ["rejected", "resolved"])
def test_the_dead_letter_of_a_ticket_closed_in_the_helpdesk_waits_for_nobody(
    make_rig: RigFactory, fake: FakeHelpdesk, status: str
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _failed(rig, fake)
    dead_letters = rig.app.state.intake.dead_letters
    letter_id = dead_letters.add(
        ticket_id, "rt", "helpdesk", "standard", 50, "TriageError: timed out", 5, {}, {}
    )
    fake.set_field(rt_id, "Status", status, "root")
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt",
            event_id="rt-txn-190",
            type="resolved" if status == "resolved" else "status",
            external_id=f"rt:{rt_id}",
            changes={"Status": status},
        )
    )
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(ticket_id) == "resolved"
    assert dead_letters.open_count() == 0
    letter = dead_letters.get(letter_id)
    assert (letter.state, letter.resolved_by) == ("discarded", "helpdesk:rt")
    assert (
        letter.reason == f"{'resolved' if status == 'resolved' else 'closed'} in rt ticket {rt_id}"
    )
    # so nobody replays it into a decision for a ticket the helpdesk has closed
    with pytest.raises(ConflictError):
        rig.app.state.intake.actions.replay(letter_id, "lead")


def test_a_resolution_that_arrives_after_the_reopen_that_followed_it_leaves_the_ticket_open(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    # The scrip's post of the resolution failed, the reopen's got through; the catch-up hands
    # the resolution over later. RT has the ticket open: so must we (the SLA watch follows it).
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.record(rt_id, "Correspond", "mehmet.yilmaz@example.com", content="Patched the DB.")
    fake.set_field(rt_id, "Status", "resolved", "mehmet.yilmaz@example.com")
    fake.set_field(rt_id, "Status", "open", "alice@example.com")
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-201", type="reopened", external_id=rt_id)
    )
    rig.connector.backflow.drain()
    rig.connector.handler.handle(_resolved("rt-txn-200", rt_id))
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(ticket_id) == "decided"
    assert rig.triager.kb.store.get(ticket_id) is not None  # the resolution is learned all the same


def test_a_reopen_that_arrives_after_the_resolution_that_followed_it_leaves_the_ticket_closed(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-210", rt_id))
    rig.connector.backflow.drain()
    fake.set_field(rt_id, "Status", "open", "alice@example.com")
    fake.set_field(rt_id, "Status", "resolved", "root")
    rig.connector.handler.handle(_resolved("rt-txn-212", rt_id))
    rig.connector.backflow.drain()
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-211", type="reopened", external_id=rt_id)
    )
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "resolved"  # as in RT


def test_a_rejection_that_arrives_after_the_reopen_that_followed_it_leaves_the_ticket_open(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Status", "rejected", "root")
    fake.set_field(rt_id, "Status", "open", "root")  # not spam after all
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-221", type="reopened", external_id=rt_id)
    )
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt",
            event_id="rt-txn-220",
            type="status",
            external_id=f"rt:{rt_id}",
            changes={"Status": "rejected"},
        )
    )
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "decided"


def _merged(rt_id: str, into: str, txn: int) -> HelpdeskEvent:
    # As the scrip posts RT's merge: an AddLink of the merged ticket, read as the one it went into
    return HelpdeskEvent(
        source="rt",
        event_id=f"rt-txn-{txn}",
        type="updated",
        external_id=f"rt:{into}",
        changes={"MergedInto": f"fsck.com-rt://example.com/ticket/{into}"},
    )


def test_a_ticket_merged_into_another_in_the_helpdesk_is_closed_here(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    kept_id, kept_rt = _routed(rig, fake)
    duplicate_id, duplicate_rt = _routed(rig, fake)  # the customer wrote twice
    fake.merge(duplicate_rt, into=kept_rt)
    rig.connector.handler.handle(_merged(duplicate_rt, kept_rt, 230))
    assert rig.connector.backflow.drain() == 1
    # the duplicate's work goes on as the other ticket there: nothing left open here for it
    assert rig.services.store.status(duplicate_id) == "resolved"
    assert rig.services.store.status(kept_id) == "decided"
    assert rig.triager.kb.store.get(duplicate_id) is None  # nothing learned from a merge
    fake.set_field(kept_rt, "Status", "resolved", "mehmet.yilmaz@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-231", kept_rt))
    assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(kept_id) == "resolved"


def test_a_queue_rt_spells_in_other_letters_is_its_team(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    # RT finds queues whatever the case; one made by hand before the service came may be
    # "ERP_Applications" for the policy's team erp_applications
    rig = make_rig(fake)
    ticket_id, rt_id = _routed(rig, fake)
    fake.set_field(rt_id, "Queue", "ERP_Applications", "mehmet.yilmaz@example.com")
    fake.set_field(rt_id, "Status", "resolved", "katrin.vogel@example.com")
    rig.connector.handler.handle(_resolved("rt-txn-240", rt_id))
    assert rig.connector.backflow.drain() == 1
    case = rig.triager.kb.store.get(ticket_id)
    assert case is not None and (case.team, case.label_source) == ("erp_applications", "helpdesk")
    (record,) = rig.services.ledger.outcomes("service_desk")
    assert (record.first_route, record.team) == ("database", "erp_applications")


@pytest.mark.parametrize("status", ["resolved", "rejected"])
def test_a_ticket_closed_before_its_creation_was_caught_up_is_closed_here(
    make_rig: RigFactory, fake: FakeHelpdesk, status: str
) -> None:
    # The scrip's post of the creation failed, the closing's got through: the catch-up hands
    # the creation over after the close was processed (for a ticket the service did not have).
    rig = make_rig(fake)
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    fake.record(rt.id, "Correspond", "mehmet.yilmaz@example.com", content="Patched the DB.")
    fake.set_field(rt.id, "Status", status, "mehmet.yilmaz@example.com")
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt",
            event_id="rt-txn-250",
            type="resolved" if status == "resolved" else "status",
            external_id=f"rt:{rt.id}",
            changes={"Status": status},
        )
    )
    rig.connector.backflow.drain()
    ticket_id, _ = rig.decide(rt_ticket(rt.id, *DB_TEXT))  # its creation, caught up
    rig.connector.delivery.drain()
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "resolved"  # out of the SLA watch
    learned = rig.triager.kb.store.get(ticket_id)
    assert (learned is not None) == (status == "resolved")


@pytest.mark.parametrize("dead_lettered", [True, False])
def test_a_failed_ticket_closed_then_reopened_in_the_helpdesk_is_triaged_again(
    make_rig: RigFactory, fake: FakeHelpdesk, dead_lettered: bool
) -> None:
    """Open in the helpdesk again, it is tried again as its sender's resend would be: the dead
    letter the close discarded is replayed (or, failed outside the intake, it is queued)."""
    rig = make_rig(fake)
    ticket_id, rt_id = _failed(rig, fake)
    dead_letters = rig.app.state.intake.dead_letters
    letter_id = None
    if dead_lettered:
        letter_id = dead_letters.add(
            ticket_id, "helpdesk", "helpdesk", "standard", 50, "TriageError: timed out", 5, {}, {}
        )
    for txn, status, kind in (("200", "rejected", "status"), ("201", "open", "reopened")):
        fake.set_field(rt_id, "Status", status, "root")
        rig.connector.handler.handle(
            HelpdeskEvent(
                source="rt",
                event_id=f"rt-txn-{txn}",
                type=kind,  # type: ignore[arg-type]
                external_id=f"rt:{rt_id}",
                changes={"Status": status},
            )
        )
        assert rig.connector.backflow.drain() == 1
    assert rig.services.store.status(ticket_id) == "queued"
    if letter_id is not None:
        letter = dead_letters.get(letter_id)
        assert (letter.state, letter.resolved_by) == ("replayed", "helpdesk:rt")
        assert letter.reason == f"reopened in rt ticket {rt_id}"
    rig.services.service.process(ticket_id)  # the intake's worker takes it
    assert rig.services.store.status(ticket_id) == "decided"
    rig.connector.delivery.drain()
    assert fake.tickets[rt_id].queue == "database"


def test_a_failed_ticket_whose_dead_letter_a_person_discarded_is_not_replayed_on_a_reopen(
    make_rig: RigFactory, fake: FakeHelpdesk
) -> None:
    rig = make_rig(fake)
    ticket_id, rt_id = _failed(rig, fake)
    dead_letters = rig.app.state.intake.dead_letters
    letter_id = dead_letters.add(
        ticket_id, "helpdesk", "helpdesk", "standard", 50, "TriageError: timed out", 5, {}, {}
    )
    rig.app.state.intake.actions.discard(letter_id, "lead", "spam")
    fake.set_field(rt_id, "Status", "rejected", "root")
    rig.connector.handler.handle(
        HelpdeskEvent(
            source="rt",
            event_id="rt-txn-210",
            type="status",
            external_id=f"rt:{rt_id}",
            changes={"Status": "rejected"},
        )
    )
    fake.set_field(rt_id, "Status", "open", "root")
    rig.connector.handler.handle(
        HelpdeskEvent(source="rt", event_id="rt-txn-211", type="reopened", external_id=rt_id)
    )
    assert rig.connector.backflow.drain() == 2
    assert rig.services.store.status(ticket_id) == "failed"  # as the person left it
    assert (dead_letters.get(letter_id).state, dead_letters.open_count()) == ("discarded", 0)


def _status_change(rt_id: str, txn: str, old: str, new: str) -> dict[str, Any]:
    """The scrip's body of a status change of that RT ticket."""
    payload = rt_payload(f"rt-txn-{txn}", "Status", field="Status", old_value=old, new_value=new)
    payload["ticket"]["id"] = rt_id
    return dict(payload)


@pytest.mark.parametrize("configured", [True, False])
def test_a_custom_closing_status_closes_the_ticket_and_leaving_it_reopens_it(
    make_rig: RigFactory, fake: FakeHelpdesk, configured: bool
) -> None:
    """An RT lifecycle of its own may close tickets as "cancelled": once it is among the closing
    statuses, the ticket is closed here (nothing learned) and open again when RT leaves it. Not
    among them (the default is RT's resolved, rejected, deleted), it is a status like any."""
    closing = ["resolved", "rejected", "deleted", "cancelled"] if configured else None
    rig = make_rig(fake, closed_statuses=closing)
    webhook = rig.app.state.intake.webhook
    rt = fake.create(*DB_TEXT, requester="alice@example.com")
    ticket_id, _ = rig.decide(rt_ticket(rt.id, *DB_TEXT))
    fake.set_field(rt.id, "Status", "cancelled", "root")
    webhook.accept(_status_change(rt.id, "300", "open", "cancelled"))
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == ("resolved" if configured else "decided")
    with rig.services.db.session() as session:
        assert session.scalars(select(OutcomeRow)).all() == []  # nothing learned
    fake.set_field(rt.id, "Status", "open", "root")
    assert webhook.accept(_status_change(rt.id, "301", "cancelled", "open")).type == (
        "reopened" if configured else "status"
    )
    rig.connector.backflow.drain()
    assert rig.services.store.status(ticket_id) == "decided"
