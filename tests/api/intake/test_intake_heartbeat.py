"""A triage run in progress writes its ticket's row (api.heartbeat): start-up adoption in another
process leaves a live run alone however long it takes, and takes the ticket once it goes quiet."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import pytest
from api_support import wait_for
from intake_fakes import CuedEngine, RecordingListener
from intake_support import IntakeFactory, another_app, decisions, triage_meanwhile

from agent.models import Ticket
from agent.policy import Policy
from api import heartbeat

# Long enough that a loaded machine's scheduling does not pass for a run gone quiet.
ADOPT_AFTER_S = 2.0


def _beating() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(heartbeat.THREAD_PREFIX)]


def test_a_triage_running_longer_than_the_adoption_bound_is_not_adopted_by_a_starting_process(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    base = make_intake_api(start=False)
    # A slow LLM call: the run takes three times the bound after which adoption takes a ticket.
    running = another_app(
        base, CuedEngine(example_policy, delay_s=3 * ADOPT_AFTER_S), ADOPT_AFTER_S
    )
    heard = RecordingListener()
    body = {"subject": "printer jammed", "external_id": "slow-1"}
    with running.client:
        running.app.state.decision_listeners.append(heard)
        thread, answers = triage_meanwhile(running, body)
        assert wait_for(lambda: len(running.services.store.unfinished()) == 1, 10)
        (ticket_id,) = running.services.store.unfinished()
        time.sleep(ADOPT_AFTER_S * 1.5)  # claimed longer ago than the bound, still running
        starting = another_app(running, CuedEngine(example_policy), ADOPT_AFTER_S)
        with starting.client:
            starting.app.state.decision_listeners.append(heard)
            thread.join()
            assert answers[0].status_code == 200
            assert wait_for(starting.app.state.adoption.rechecked.is_set, 20)
            assert wait_for(lambda: starting.app.state.intake.queue.depth() == 0, 10)
        starting.services.db.close()
    assert decisions(running, ticket_id) == 1
    assert heard.calls == [(ticket_id, answers[0].json()["team"])]
    assert running.app.state.intake.records.get(ticket_id) is None
    assert _beating() == []


def test_a_ticket_whose_run_goes_quiet_after_the_start_is_adopted_a_bound_later(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    engine = CuedEngine(example_policy)
    before = make_intake_api(engine=engine, start=False)
    ticket = Ticket(subject="printer cut off later")
    store = before.services.store
    store.claim(ticket, None, None, "triaging")
    # Another process's run, alive from before the start and for three bounds more, then gone.
    # Its heartbeat begins before the new process is built: on a busy machine building and
    # starting it can take longer than the bound, and a run quiet that long is rightly adopted.
    alive_s = heartbeat.every_s(ADOPT_AFTER_S)
    with ExitStack() as other_process:
        other_process.enter_context(
            heartbeat.pulse(lambda: store.touch(ticket.id), alive_s, "the other process")
        )
        after = another_app(before, engine, ADOPT_AFTER_S)
        with after.client:
            time.sleep(ADOPT_AFTER_S * 3)
            assert after.app.state.intake.records.get(ticket.id) is None
            assert list(after.app.state.adoption.pending) == [ticket.id]
            other_process.close()  # it dies
            assert wait_for(lambda: store.status(ticket.id) == "decided", 20)
            assert after.app.state.adoption.rechecked.is_set()
    after.services.db.close()
    assert decisions(before, ticket.id) == 1
    assert before.app.state.intake.records.get(ticket.id).source == "api"


def test_the_heartbeat_ends_with_the_run_decided_failed_or_crashed(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    base = make_intake_api(start=False)
    api = another_app(base, CuedEngine(example_policy, delay_s=0.3), adopt_after_s=0.4)

    def triage(subject: str) -> int:
        body = {"subject": subject, "external_id": subject}
        return api.client.post("/v1/triage", json=body, headers=api.auth("helpdesk")).status_code

    with api.client:
        assert triage("printer jammed") == 200
        assert _beating() == []
        assert triage("FLAKY mail") == 502
        assert _beating() == []
        with pytest.raises(RuntimeError, match="engine crashed"):
            triage("POISON form")  # the test client raises what the app did not handle
        assert _beating() == []


def test_an_intake_run_longer_than_its_lease_is_not_taken_by_another_worker(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    engine = CuedEngine(example_policy, delay_s=3.0)  # three times the lease
    api = make_intake_api(engine=engine, intake_workers=2, intake_lease_s=1.0)
    heard = RecordingListener()
    api.app.state.decision_listeners.append(heard)
    body = {"subject": "printer jammed", "external_id": "slow-2"}
    ticket_id = api.client.post("/v1/tickets", json=body, headers=api.auth("helpdesk")).json()["id"]
    assert wait_for(lambda: api.services.store.status(ticket_id) == "decided", 20)
    intake = api.app.state.intake
    intake.workers.stop(timeout=20)  # lets a second run, if one started, finish
    assert engine.calls == 1 and decisions(api, ticket_id) == 1
    assert len(heard.calls) == 1
    assert intake.queue.depth() == 0
    assert intake.records.get(ticket_id).attempts == 1
    assert _beating() == []


def test_an_extended_run_lease_keeps_the_run_its_workers_and_an_ended_run_stays_ended(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api(start=False)
    body = {"subject": "printer jammed", "external_id": "lease-1"}
    ticket_id = api.client.post("/v1/tickets", json=body, headers=api.auth("helpdesk")).json()["id"]
    records = api.app.state.intake.records
    assert records.start_attempt(ticket_id, 0.2).owned
    time.sleep(0.1)
    records.extend_attempt(ticket_id, 0.2)
    time.sleep(0.15)  # past the first lease, within the extended one
    assert not records.start_attempt(ticket_id, 0.2).owned
    records.end_attempt(ticket_id)
    records.extend_attempt(ticket_id, 10.0)  # a beat landing after the run ended
    assert records.start_attempt(ticket_id, 0.2).owned
