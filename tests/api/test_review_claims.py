"""A reviewer's claim of a held ticket is that reviewer's alone, and a lost race says why."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, TriagerEngine, waiting_ticket
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from agent.policy import Policy
from agent.state import HumanReview
from agent.triager import Triager, TriageResult
from api.db import Database
from api.main import create_app
from api.options import ServiceOptions
from api.review_claim import ReviewClaims
from api.tables import DecisionRow, ReviewRow, TicketRow, utcnow


class _SlowEngine(TriagerEngine):
    """The real triager; a review here stops at a gate (before or after resuming the run), and
    reading the policy can be made to stop at another (a review reads it before claiming)."""

    def __init__(self, triager: Triager, after_resume: bool = False) -> None:
        super().__init__(triager)
        self.after_resume = after_resume
        self.entered, self.gate = threading.Event(), threading.Event()
        self.policy_read, self.policy_gate = threading.Event(), threading.Event()
        self.policy_gate.set()

    @property
    def policy(self) -> Policy:
        if not self.policy_gate.is_set():
            self.policy_read.set()
            assert self.policy_gate.wait(10)
        return self.triager.policy

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        result = self.triager.resume(thread_id, review) if self.after_resume else None
        self.entered.set()
        assert self.gate.wait(10)
        return result or self.triager.resume(thread_id, review)


def _human_teams(api: Api, ticket_id: str) -> list[str]:
    with api.services.db.session() as session:
        return list(
            session.scalars(
                select(DecisionRow.team).where(
                    DecisionRow.ticket_id == ticket_id, DecisionRow.decided_by == "human"
                )
            ).all()
        )


def _quiet(db: Database, ticket_id: str, for_s: float) -> None:
    """No sign of life from the ticket's claim for ``for_s`` seconds."""
    with db.session() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket_id)
            .values(updated_at=utcnow() - timedelta(seconds=for_s))
        )


def _ticket_row(db: Database, ticket_id: str) -> TicketRow:
    with db.session() as session:
        row = session.get(TicketRow, ticket_id)
        assert row is not None
        session.expunge(row)
        return row


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_only_the_holder_of_a_claim_renews_it_or_gives_it_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    db = Database(url or f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        db.migrate()
        with db.session() as session:
            session.add(
                TicketRow(
                    id="t1",
                    payload_hash="h",
                    payload={"body": "x"},
                    channel="api",
                    status="review",
                    sla_state="ok",
                    sla_events=[],
                    front_of_queue=False,
                )
            )
        claims = ReviewClaims(db, stale_after_s=60)
        first = claims.claim("t1")
        assert first is not None
        assert claims.claim("t1") is None
        _quiet(db, "t1", 61)  # the first reviewer's process went quiet...
        second = claims.claim("t1")  # ... and another took the ticket
        assert second is not None and second != first
        taken_at = _ticket_row(db, "t1").updated_at

        # the first reviewer's process was alive after all
        assert claims.renew("t1", first) is False
        assert _ticket_row(db, "t1").updated_at == taken_at  # the new claim is not kept alive
        claims.release("t1", first)
        row = _ticket_row(db, "t1")
        assert (row.status, row.claim_token) == ("deciding", second)  # not back in the queue
        assert claims.claim("t1") is None

        assert claims.renew("t1", second) is True
        claims.release("t1", second)
        row = _ticket_row(db, "t1")
        assert (row.status, row.claim_token) == ("review", None)
    finally:
        db.close()


def test_a_decision_whose_claim_was_taken_over_is_refused_and_the_other_stands(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    slow = _SlowEngine(api.triager, after_resume=True)
    other = create_app(api.services.settings, slow, ServiceOptions())  # type: ignore[arg-type]
    answers: dict[str, Any] = {}
    with TestClient(other) as first:

        def decide_slowly() -> None:
            answers["first"] = first.post(
                f"/v1/review/{ticket_id}", json={"team": "network"}, headers=api.auth("reviewer")
            )

        thread = threading.Thread(target=decide_slowly)
        thread.start()
        assert slow.entered.wait(10)  # the run is resumed; the decision is not stored yet
        # ... and the first reviewer's process shows no sign of life for too long
        _quiet(api.services.db, ticket_id, api.services.options.adopt_after_s + 1)
        answers["second"] = api.client.post(
            f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
        )
        slow.gate.set()
        thread.join(30)
        other.state.services.db.close()
    first_answer, second_answer = answers["first"], answers["second"]
    assert second_answer.status_code == 200, second_answer.text
    assert first_answer.status_code == 409, first_answer.text
    assert "claim was lost" in first_answer.json()["detail"]
    assert "not stored" in first_answer.json()["detail"]
    assert _human_teams(api, ticket_id) == ["hardware"]
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("reviewer")).json()
    assert (view["status"], view["decision"]["team"]) == ("decided", "hardware")
    with api.services.db.session() as session:
        assert len(session.scalars(select(ReviewRow)).all()) == 1
    assert _ticket_row(api.services.db, ticket_id).claim_token is None


def test_a_claim_that_lost_to_a_decision_just_stored_says_it_is_decided(api: Api) -> None:
    ticket_id = waiting_ticket(api)
    slow = _SlowEngine(api.triager)
    other = create_app(api.services.settings, slow, ServiceOptions())  # type: ignore[arg-type]
    answers: dict[str, Any] = {}
    with TestClient(other) as late:
        slow.policy_gate.clear()

        def decide_late() -> None:
            answers["late"] = late.post(
                f"/v1/review/{ticket_id}", json={"team": "network"}, headers=api.auth("reviewer")
            )

        thread = threading.Thread(target=decide_late)
        thread.start()
        assert slow.policy_read.wait(10)  # it saw the ticket waiting and checks the answer
        answers["first"] = api.client.post(
            f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
        )
        slow.policy_gate.set()
        thread.join(30)
        other.state.services.db.close()
    assert answers["first"].status_code == 200, answers["first"].text
    assert answers["late"].status_code == 409
    detail = answers["late"].json()["detail"]
    assert "decided already" in detail
    assert "deciding it" not in detail
    assert _human_teams(api, ticket_id) == ["hardware"]
