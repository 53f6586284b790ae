"""The review queue: an abstained ticket waits; a reviewer's answer resumes the run, is learned."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from api_support import TICKET_DB, TICKET_REVIEW, Api, TriagerEngine, waiting_ticket
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from agent.errors import UpstreamError
from agent.settings import EXAMPLES_DIR
from agent.state import HumanReview
from agent.triager import Triager, TriageResult
from api.loads import DbLoads
from api.main import create_app
from api.options import ServiceOptions
from api.tables import DecisionRow, ReviewRow, TicketRow

EXAMPLE = (EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8")


def test_review_resumes_the_run_and_the_knowledge_base_learns(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    queue = api.client.get("/v1/review", headers=api.auth("reviewer")).json()
    assert [item["id"] for item in queue] == [ticket_id]
    assert queue[0]["review_reasons"]

    answer = {"team": "hardware", "priority": "P2", "note": "printer, not a database issue"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200
    body = done.json()
    assert body["learned"] is True
    decision = body["decision"]
    assert decision["team"] == "hardware"
    assert decision["decided_by"] == "human"
    assert decision["priority"] == "P2"
    assert any(
        e["kind"] == "review" and e["source"] == "test-reviewer" for e in decision["evidence"]
    )

    assert api.client.get("/v1/review", headers=api.auth("reviewer")).json() == []
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert view["status"] == "decided"
    assert view["decision"]["decided_by"] == "human"
    case = api.triager.kb.store.get(ticket_id)
    assert case is not None
    assert case.team == "hardware"
    assert case.label_source == "review"


def test_review_of_a_decided_ticket_is_a_conflict(api: Api) -> None:
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    late = api.client.post(
        f"/v1/review/{made['ticket_id']}", json={"team": "database"}, headers=api.auth("reviewer")
    )
    assert late.status_code == 409
    assert "it has been decided already" in late.json()["detail"]


def test_review_with_an_unknown_team_is_422_and_keeps_the_ticket_waiting(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    bad = api.client.post(
        f"/v1/review/{ticket_id}", json={"team": "astrology"}, headers=api.auth("reviewer")
    )
    assert bad.status_code == 422
    assert "astrology" in bad.json()["detail"]
    extra = api.client.post(
        f"/v1/review/{ticket_id}", json={"team": "hardware", "x": 1}, headers=api.auth("reviewer")
    )
    assert extra.status_code == 422
    assert [i["id"] for i in api.client.get("/v1/review", headers=api.auth("reviewer")).json()] == [
        ticket_id
    ]


def test_review_that_contradicts_itself_or_names_a_stranger_is_422(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    for answer, expected in [
        ({"team": "hardware", "escalate": False}, "escalate=false contradicts team 'hardware'"),
        ({"team": "service_desk", "escalate": True}, "escalate=true contradicts team"),
        ({"team": "hardware", "assignee": "Nobody Atall"}, "'Nobody Atall' is not a member"),
        ({"team": "hardware", "assignee": "Lena Fischer"}, "not a member of 'hardware'"),
    ]:
        bad = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
        assert bad.status_code == 422, answer
        assert expected in bad.json()["detail"]
    assert [i["id"] for i in api.client.get("/v1/review", headers=api.auth("reviewer")).json()] == [
        ticket_id
    ]
    member = api.triager.policy.team("hardware").members[0].name
    done = api.client.post(
        f"/v1/review/{ticket_id}",
        json={"team": "hardware", "escalate": True, "assignee": member},
        headers=api.auth("reviewer"),
    )
    assert done.status_code == 200
    assert done.json()["decision"]["assignee"] == member


def test_a_reviewers_priority_brings_its_sla_and_protocol_and_a_new_team_a_person(
    api: Api,
) -> None:
    ticket_id = waiting_ticket(api)
    agent = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert agent["decision"]["priority"] != "P1"
    answer = {"team": "platform_sre", "priority": "P1"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    decision = done.json()["decision"]
    level = api.triager.policy.priorities.levels["P1"]
    sla = decision["sla"]
    assert sla["business_hours"] is level.business_hours
    assert sla["actions"] == list(level.actions)
    first = datetime.fromisoformat(sla["first_response_due"])
    received = datetime.fromisoformat(agent["ticket"]["received_at"])
    assert first - received == timedelta(hours=level.first_response_hours)
    assert any(e["kind"] == "sla" and e["detail"].startswith("P1:") for e in decision["evidence"])
    # platform_sre is staffed around the clock: someone there takes it
    members = {m.name for m in api.triager.policy.team("platform_sre").members}
    assert decision["assignee"] in members
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert view["decision"]["assignee"] == decision["assignee"]


def test_a_review_that_keeps_the_team_keeps_the_person_and_the_sla(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    agent = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    before = agent["decision"]
    answer = {"team": before["team"], "note": "confirmed"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    decision = done.json()["decision"]
    assert (decision["assignee"], decision["tier"], decision["sla"]) == (
        before["assignee"],
        before["tier"],
        before["sla"],
    )


def test_two_reviewers_deciding_one_ticket_at_once_get_one_decision_and_one_409(
    api: Api,
) -> None:
    ticket_id = waiting_ticket(api)
    engine_busy, release = threading.Event(), threading.Event()

    def hold_the_engine() -> None:
        engine_busy.set()
        release.wait(10)

    # Another ticket being routed holds the engine: both reviews arrive while it runs.
    holder = threading.Thread(target=api.services.engine.exclusive, args=(hold_the_engine,))
    holder.start()
    assert engine_busy.wait(10)
    answers: dict[str, Any] = {}

    def decide(team: str) -> None:
        answers[team] = api.client.post(
            f"/v1/review/{ticket_id}", json={"team": team}, headers=api.auth("reviewer")
        )

    reviewers = [threading.Thread(target=decide, args=(team,)) for team in ("hardware", "network")]
    for reviewer in reviewers:
        reviewer.start()
    time.sleep(0.5)  # both requests are in, waiting
    release.set()
    for thread in (*reviewers, holder):
        thread.join(30)

    codes = sorted(r.status_code for r in answers.values())
    assert codes == [200, 409], {t: (r.status_code, r.text[:200]) for t, r in answers.items()}
    won = next(t for t, r in answers.items() if r.status_code == 200)
    lost = next(r for r in answers.values() if r.status_code == 409)
    assert "not waiting for review" in lost.json()["detail"]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert view["decision"]["team"] == won
    with api.services.db.session() as session:
        recorded = session.scalars(select(ReviewRow).where(ReviewRow.ticket_id == ticket_id)).all()
    assert len(recorded) == 1


def _staff(team: dict[str, Any], *names: str) -> None:
    """Give a team these members, on shift around the clock."""
    team["working_hours"] = {
        "timezone": "UTC",
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "00:00",
        "end": "23:59:59",
    }
    team["members"] = [{"name": name} for name in names]


def test_confirming_the_team_does_not_keep_a_person_the_policy_no_longer_has(api: Api) -> None:
    policy = yaml.safe_load(EXAMPLE)
    policy["decision_tree"] = []  # its branches ask for skills these members do not list
    for team in policy["teams"]:
        _staff(team, f"{team['name']} veteran")
    put = {"yaml": yaml.safe_dump(policy)}
    assert api.client.put("/v1/policy", json=put, headers=api.auth("admin")).status_code == 200
    made = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    assert made["needs_review"] and made["assignee"] == f"{made['team']} veteran"

    # the veteran leaves the team while the ticket waits for review
    for team in policy["teams"]:
        _staff(team, f"{team['name']} newcomer")
    put = {"yaml": yaml.safe_dump(policy)}
    assert api.client.put("/v1/policy", json=put, headers=api.auth("admin")).status_code == 200
    done = api.client.post(
        f"/v1/review/{made['ticket_id']}", json={"team": made["team"]}, headers=api.auth("reviewer")
    )
    assert done.status_code == 200
    decision = done.json()["decision"]
    assert decision["assignee"] == f"{made['team']} newcomer"
    assert any(
        e["kind"] == "assignee" and f"{made['team']} veteran is no longer" in e["detail"]
        for e in decision["evidence"]
    )


class _GatedEngine(TriagerEngine):
    """The real triager behind a gate: a review in this app stops before resuming the run."""

    def __init__(self, triager: Triager) -> None:
        super().__init__(triager)
        self.entered, self.gate = threading.Event(), threading.Event()

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        self.entered.set()
        assert self.gate.wait(10)
        return self.triager.resume(thread_id, review)


def test_two_processes_on_one_database_deciding_one_ticket_get_one_decision(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    gated = _GatedEngine(api.triager)
    # a second API process on the same database: its own service, locks and engine
    other = create_app(api.services.settings, gated, ServiceOptions())  # type: ignore[arg-type]
    with TestClient(other) as second:
        answers: dict[str, Any] = {}

        def decide_in_the_other_process() -> None:
            answers["other"] = second.post(
                f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
            )

        thread = threading.Thread(target=decide_in_the_other_process)
        thread.start()
        assert gated.entered.wait(10)  # the other process is deciding it now
        answers["here"] = api.client.post(
            f"/v1/review/{ticket_id}", json={"team": "network"}, headers=api.auth("reviewer")
        )
        gated.gate.set()
        thread.join(30)
        other.state.services.db.close()
    here, there = answers["here"], answers["other"]
    assert (here.status_code, there.status_code) == (409, 200), (here.text, there.text)
    assert "another reviewer is deciding it" in here.json()["detail"]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert (view["status"], view["decision"]["team"]) == ("decided", "hardware")
    with api.services.db.session() as session:
        humans = session.scalars(
            select(DecisionRow).where(
                DecisionRow.ticket_id == ticket_id, DecisionRow.decided_by == "human"
            )
        ).all()
        assert [d.team for d in humans] == ["hardware"]
        assert len(session.scalars(select(ReviewRow)).all()) == 1


class _UnreachableCheckpoints(_GatedEngine):
    """The real triager whose checkpoint store does not answer when a run is resumed."""

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        raise UpstreamError("the checkpoint store did not answer")


def test_a_decision_that_fails_gives_the_ticket_back_to_the_queue(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    broken = _UnreachableCheckpoints(api.triager)
    other = create_app(api.services.settings, broken, ServiceOptions())  # type: ignore[arg-type]
    with TestClient(other) as second:
        failed = second.post(
            f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
        )
    assert failed.status_code == 502
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert view["status"] == "review"
    queue = api.client.get("/v1/review", headers=api.auth("reviewer")).json()
    assert [item["id"] for item in queue] == [ticket_id]


def test_a_review_cannot_assign_a_member_on_leave(api: Api) -> None:
    policy = yaml.safe_load(EXAMPLE)
    policy["decision_tree"] = []  # its branches ask for skills these members do not list
    hardware = next(t for t in policy["teams"] if t["name"] == "hardware")
    _staff(hardware, "Ada Away", "Bo Here")
    hardware["members"][0]["available"] = False
    put = {"yaml": yaml.safe_dump(policy)}
    assert api.client.put("/v1/policy", json=put, headers=api.auth("admin")).status_code == 200
    ticket_id = waiting_ticket(api)
    answer = {"team": "hardware", "assignee": "Ada Away"}
    bad = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert bad.status_code == 422
    assert bad.json()["detail"] == (
        "assignee: 'Ada Away' is on leave (available: false in the policy) and is never "
        "assigned; available in 'hardware': Bo Here"
    )
    assert (
        api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()["status"]
        == "review"
    )
    answer = {"team": "hardware", "assignee": "Bo Here"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200
    assert done.json()["decision"]["assignee"] == "Bo Here"


def test_a_claim_left_by_a_process_that_died_can_be_decided_again(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    with api.services.db.session() as session:  # a reviewer's process claimed it just now
        session.execute(
            update(TicketRow).where(TicketRow.id == ticket_id).values(status="deciding")
        )
    taken = api.client.post(
        f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
    )
    assert taken.status_code == 409
    assert "another reviewer is deciding it" in taken.json()["detail"]
    queue = api.client.get("/v1/review", headers=api.auth("reviewer")).json()
    assert [item["id"] for item in queue] == [ticket_id]  # still in sight of the reviewers
    # ... and its process died: no sign of life for longer than TRIAGE_ADOPT_AFTER_S
    quiet = datetime.now(UTC) - timedelta(seconds=api.services.options.adopt_after_s + 1)
    with api.services.db.session() as session:
        session.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(updated_at=quiet))
    done = api.client.post(
        f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
    )
    assert done.status_code == 200
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert (view["status"], view["decision"]["team"]) == ("decided", "hardware")


def test_a_ticket_being_decided_stays_open_everywhere_and_a_dead_claim_goes_back(api: Api) -> None:
    made = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    ticket_id, team = made["ticket_id"], made["team"]
    assert made["needs_review"] and made["escalate"]
    with api.services.db.session() as session:  # a reviewer's process claimed it just now
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket_id)
            .values(status="deciding", assignee="Ada Claimed")
        )
    late = datetime.fromisoformat(made["sla"]["first_response_due"]) + timedelta(minutes=1)
    risky = api.services.sla.at_risk(now=late)
    assert [(r.id, r.deadline) for r in risky] == [(ticket_id, "first_response")]
    assert DbLoads(api.services.db).open_count("Ada Claimed") == 1
    assert api.services.store.open_outside(["nobody"]) == {team: [ticket_id]}
    assert ticket_id in api.services.store.recent(10)
    outcomes = api.services.ledger.outcomes(api.services.engine.policy.first_line_team)
    assert [o.ticket_id for o in outcomes] == [ticket_id]
    # the reviewer is deciding it: the watch leaves it to the review, which would write over
    assert api.services.sla.check(now=late) == []

    # ... and its process died: no sign of life for longer than TRIAGE_ADOPT_AFTER_S
    quiet = datetime.now(UTC) - timedelta(seconds=api.services.options.adopt_after_s + 1)
    with api.services.db.session() as session:
        session.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(updated_at=quiet))
    assert api.services.sla.check(now=late) == [ticket_id]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert view["status"] == "review"  # back in the queue, takeable at once
    assert view["sla"]["events"][-1]["actions"][-1] == "release_review_claim"
    assert view["sla"]["events"][-1]["actions"][0].startswith("raise_priority")
    done = api.client.post(
        f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
    )
    assert done.status_code == 200


@pytest.mark.parametrize("forgotten", [True, False], ids=["run-forgotten", "run-finished"])
def test_a_review_whose_run_a_dead_process_resumed_is_decided_from_the_held_decision(
    api: Api, forgotten: bool
) -> None:
    ticket_id = waiting_ticket(api)
    held = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    # A process claimed it and resumed its run with a reviewer's answer, then died before the
    # decision was stored: the run is finished (and its checkpoints dropped, or not yet).
    api.triager.resume(ticket_id, HumanReview(team="network", reviewer="gone"))
    if forgotten:
        api.triager.forget(ticket_id)
    quiet = datetime.now(UTC) - timedelta(seconds=api.services.options.adopt_after_s + 1)
    with api.services.db.session() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket_id)
            .values(status="deciding", updated_at=quiet)
        )
    answer = {"team": "hardware", "note": "printer"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200, done.text
    decision = done.json()["decision"]
    assert (decision["team"], decision["needs_review"]) == ("hardware", False)
    assert decision["priority"] == held["decision"]["priority"]
    reviewed = [e for e in decision["evidence"] if e["kind"] == "review"]
    assert "routed to hardware" in reviewed[-1]["detail"]  # the answer given here, not 'network'
    assert "after review" in done.json()["decision"]["brief"]["decision_summary"]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert view["status"] == "decided"
    with api.services.db.session() as session:
        actors = session.scalars(
            select(DecisionRow.actor).where(DecisionRow.ticket_id == ticket_id)
        ).all()
    assert len(actors) == 2  # the agent's held decision and this one
