"""A triage run past TRIAGE_INTAKE_MAX_RUN_S is given up: its ticket is retried, then
dead-lettered with the limit named; another worker takes the hung one's place, /readyz names the
stuck run, and the hung run's late outcome is never stored."""

from __future__ import annotations

import threading
from typing import Any

from api_support import Api, wait_for
from intake_fakes import CuedEngine, RecordingListener
from intake_support import IntakeFactory, decisions

from agent.models import Ticket
from agent.policy import Policy

MAX_RUN_S = 1.0


class HangingEnricher:
    """An enricher (the helpdesk's history, say) whose call never returns for HANG tickets,
    the first ``times`` calls, until released."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0
        self.released = threading.Event()

    def __call__(self, ticket: Ticket) -> Ticket:
        if "HANG" in ticket.subject:
            self.calls += 1
            if self.calls <= self.times:
                self.released.wait(60)
        return ticket


def _api(make: IntakeFactory, policy: Policy, hang: HangingEnricher, **fields: Any) -> Api:
    api = make(engine=CuedEngine(policy), intake_max_run_s=MAX_RUN_S, intake_lease_s=0.5, **fields)
    api.services.service.enrichers.append(hang)
    return api


def _submit(api: Api, subject: str, external_id: str) -> str:
    body = {"subject": subject, "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _intake_check(api: Api) -> tuple[int, dict[str, Any]]:
    answer = api.client.get("/readyz")
    return answer.status_code, answer.json()["checks"]["intake"]


def test_a_hung_run_is_given_up_and_another_worker_serves_the_queue(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    hang = HangingEnricher(times=2)
    api = _api(make_intake_api, example_policy, hang, intake_workers=1, intake_max_attempts=1)
    try:
        stuck = _submit(api, "HANG printer", "h1")
        assert wait_for(lambda: hang.calls == 1, 10)
        routine = [_submit(api, "printer jams", f"r{n}") for n in range(3)]
        # The only worker is hung: past the limit another one takes its place.
        assert wait_for(lambda: all(api.services.store.status(t) == "decided" for t in routine), 20)
        dead = api.app.state.intake.dead_letters
        assert wait_for(lambda: len(dead.list()) == 1, 10)
        (letter,) = dead.list()
        assert letter.ticket_id == stuck and letter.attempts == 1
        assert "TRIAGE_INTAKE_MAX_RUN_S" in letter.error
        status, check = _intake_check(api)
        assert status == 200, check  # a worker stands in for the hung one
        assert [r["ticket_id"] for r in check["stuck_runs"]] == [stuck]
        assert "TRIAGE_INTAKE_MAX_RUN_S" in check["detail"]
        # The stand-in hangs as well: no worker is left to take a ticket, and /readyz says so.
        again = _submit(api, "HANG scanner", "h2")
        assert wait_for(lambda: len(dead.list()) == 2, 10)
        status, check = _intake_check(api)
        assert status == 503, check
        assert [r["ticket_id"] for r in check["stuck_runs"]] == [stuck, again]
        assert [r["stood_in"] for r in check["stuck_runs"]] == [True, False]
    finally:
        hang.released.set()
    assert wait_for(lambda: _intake_check(api)[1]["stuck_runs"] == [], 20)
    assert _intake_check(api)[0] == 200
    # The late runs' outcomes were dropped: given up means failed, not decided.
    for ticket_id in (stuck, again):
        assert decisions(api, ticket_id) == 0
        assert api.services.store.status(ticket_id) == "failed"
    assert len(api.app.state.intake.dead_letters.list()) == 2
    last = _submit(api, "printer jams again", "r9")  # the worker that was hung serves again
    assert wait_for(lambda: api.services.store.status(last) == "decided", 20)


def test_a_late_result_of_a_given_up_run_does_not_overwrite_the_later_decision(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    hang = HangingEnricher(times=2)
    api = _api(make_intake_api, example_policy, hang, intake_workers=2, intake_max_attempts=2)
    heard = RecordingListener()
    api.app.state.decision_listeners.append(heard)
    intake = api.app.state.intake
    try:
        ticket_id = _submit(api, "HANG printer", "late-1")
        # Two attempts, both hung, both given up: dead-lettered after the usual attempts.
        assert wait_for(lambda: len(intake.dead_letters.list()) == 1, 20)
        (letter,) = intake.dead_letters.list()
        assert letter.attempts == 2 and "TRIAGE_INTAKE_MAX_RUN_S" in letter.error
        assert hang.calls == 2
        replayed = api.client.post(
            f"/v1/dead-letters/{letter.id}/replay", headers=api.auth("reviewer")
        )
        assert replayed.status_code == 200, replayed.text
        assert wait_for(lambda: api.services.store.status(ticket_id) == "decided", 20)
        decided = api.services.store.output(ticket_id)
    finally:
        hang.released.set()  # the two hung runs go on to their (late) results now
    assert wait_for(lambda: _intake_check(api)[1]["stuck_runs"] == [], 20)
    intake.workers.stop(timeout=20)
    assert decisions(api, ticket_id) == 1
    assert api.services.store.status(ticket_id) == "decided"
    assert api.services.store.output(ticket_id) == decided
    assert [t for t, _ in heard.calls] == [ticket_id]
    assert intake.queue.depth() == 0


def test_routine_workers_stop_stepping_aside_for_a_given_up_urgent_run(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    hang = HangingEnricher(times=1)
    api = _api(make_intake_api, example_policy, hang, intake_workers=1, intake_max_attempts=1)
    intake = api.app.state.intake
    try:
        urgent = _submit(api, "HANG Production down", "p1")
        assert wait_for(lambda: hang.calls == 1, 10)
        assert intake.runner.urgency.active == 1  # routine workers wait before each ticket
        assert wait_for(lambda: len(intake.dead_letters.list()) == 1, 10)
        # Given up: its thread still hangs, but it is no urgent work in flight any more.
        assert [r["ticket_id"] for r in _intake_check(api)[1]["stuck_runs"]] == [urgent]
        assert intake.runner.urgency.active == 0
        routine = _submit(api, "printer jams", "r1")
        assert wait_for(lambda: api.services.store.status(routine) == "decided", 20)
    finally:
        hang.released.set()
    assert wait_for(lambda: _intake_check(api)[1]["stuck_runs"] == [], 20)
    assert decisions(api, urgent) == 0 and intake.runner.urgency.active == 0
