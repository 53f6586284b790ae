"""Operations of the intake: what health counts as waiting, concurrent replays of a dead letter."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_support import Api, wait_for
from intake_fakes import CuedEngine
from intake_samples import web_form
from intake_support import IntakeFactory

from agent.errors import CapacityError, ConflictError
from agent.policy import Policy
from api.intake.queue import Delivery, IntakeQueue, QueueItem
from api.intake.replay import DeadLetterActions


def _submit(api: Api, subject: str, external_id: str) -> str:
    body = {"subject": subject, "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _api_source(api: Api) -> dict[str, object]:
    ready = api.client.get("/readyz").json()
    return next(s for s in ready["sources"] if s["source"] == "api")


def test_dead_lettered_and_discarded_tickets_are_not_waiting(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=1)
    kept, dropped = _submit(api, "POISON one", "h1"), _submit(api, "POISON two", "h2")
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 2, 20)
    letters = {d.ticket_id: d.id for d in dead.list()}
    api.app.state.intake.actions.discard(letters[dropped], "ana", "test discard")
    source = _api_source(api)
    assert source["queue_depth"] == 0 and source["oldest_age_s"] is None
    detail = api.client.get("/readyz").json()["checks"]["intake"]["detail"]
    assert "queue 0/" in detail and "1 dead letters" in detail
    assert 'triage_intake_queue_depth{source="api"} 0.0' in api.client.get("/metrics").text
    assert [d.ticket_id for d in dead.list()] == [kept]


def test_a_failed_ticket_waiting_for_its_retry_is_still_waiting(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy), intake_max_attempts=3, intake_backoff_base_s=60
    )
    ticket_id = _submit(api, "POISON later", "w1")
    assert wait_for(lambda: api.services.store.status(ticket_id) == "failed", 20)
    source = _api_source(api)
    assert source["queue_depth"] == 1 and source["oldest_age_s"] is not None


class GatedQueue:
    """The real queue; each put first waits (up to a second) until `gate` puts are under way,
    so replays that all got past their checks reach the queue together."""

    def __init__(self, queue: IntakeQueue, gate: int) -> None:
        self.queue = queue
        self.barrier = threading.Barrier(gate, timeout=1.0)

    def put(self, item: QueueItem, headroom: bool = False) -> None:
        # Broken after a second: fewer puts came (only one replay got this far).
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()
        self.queue.put(item, headroom)

    def get(self, timeout_s: float) -> Delivery | None:
        return self.queue.get(timeout_s)

    def ack(self, delivery: Delivery) -> None:
        self.queue.ack(delivery)

    def retry(self, delivery: Delivery, delay_s: float) -> None:
        self.queue.retry(delivery, delay_s)

    def extend(self, delivery: Delivery, lease_s: float) -> None:
        self.queue.extend(delivery, lease_s)

    def depth(self) -> int:
        return self.queue.depth()

    def close(self) -> None:
        self.queue.close()


class FullQueue(GatedQueue):
    """The real queue, full."""

    def put(self, item: QueueItem, headroom: bool = False) -> None:
        raise CapacityError("the intake queue is full; retry later", retry_after_s=5.0)


def _dead_letter(api: Api, external_id: str, acked: bool = True) -> int:
    """A ticket dead-lettered as the runner does it (no workers run in these apps)."""
    intake = api.app.state.intake
    ticket_id = _submit(api, "POISON printer", external_id)
    delivery = intake.queue.get(5.0)
    assert delivery is not None and delivery.item.ticket_id == ticket_id
    ticket = api.services.store.ticket(ticket_id)
    letter = intake.dead_letters.add(
        ticket_id=ticket_id,
        source="api",
        channel=ticket.channel,
        tier=ticket.account.tier,
        priority=delivery.item.priority,
        error="RuntimeError: engine crashed on this ticket",
        attempts=1,
        payload=intake.records.get(ticket_id).raw,
        ticket=ticket.model_dump(mode="json"),
    )
    api.services.store.set_status(ticket_id, "failed", "dead-lettered: engine crashed")
    if acked:
        intake.queue.ack(delivery)
    return int(letter)


def _actions(api: Api, queue: IntakeQueue) -> DeadLetterActions:
    intake = api.app.state.intake
    return DeadLetterActions(intake.dead_letters, api.services.store, intake.records, queue)


def test_concurrent_replays_queue_the_ticket_once_and_the_others_conflict(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0)
    letter = _dead_letter(api, "c1")
    actions = _actions(api, GatedQueue(api.app.state.intake.queue, gate=4))

    def replay(n: int) -> str:
        try:
            return actions.replay(letter, f"reviewer-{n}").state
        except ConflictError as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(replay, range(4)))
    assert sorted(outcomes) == [f"dead letter {letter} is already replayed"] * 3 + ["replayed"]
    assert api.app.state.intake.queue.depth() == 1


def test_replay_conflicts_over_http_while_the_ticket_is_still_queued(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0)
    letter = _dead_letter(api, "q1", acked=False)  # the runner has not acked it yet
    answer = api.client.post(f"/v1/dead-letters/{letter}/replay", headers=api.auth("reviewer"))
    assert answer.status_code == 409, answer.text
    assert "still in the intake queue" in answer.text
    dead = api.app.state.intake.dead_letters.get(letter)
    assert dead.state == "open" and dead.resolved_by is None
    assert api.services.store.status(dead.ticket_id) == "failed"


def test_a_replay_that_finds_the_queue_full_leaves_the_letter_open(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0)
    letter = _dead_letter(api, "f1")
    with pytest.raises(CapacityError):
        _actions(api, FullQueue(api.app.state.intake.queue, gate=1)).replay(letter, "ana")
    dead = api.app.state.intake.dead_letters.get(letter)
    assert dead.state == "open"
    assert api.services.store.status(dead.ticket_id) == "failed"


def _door_and_decision(api: Api, tier: str) -> tuple[str, str, list[str]]:
    form = web_form(f"tier-{tier}", severity=None, account={"tier": tier})
    answer = api.client.post("/v1/intake/web", json=form, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    url = f"/v1/tickets/{answer.json()['ticket_id']}"

    def view() -> dict[str, Any]:
        return dict(api.client.get(url, headers=api.auth("admin")).json())

    assert wait_for(lambda: view()["status"] in ("decided", "review"), 30)
    decision = view()["decision"]
    evidence = [e["detail"] for e in decision["evidence"]]
    return answer.json()["priority"], decision["priority"], evidence


def test_an_upper_case_account_tier_raises_the_priority_like_a_lower_case_one(
    make_intake_api: IntakeFactory,
) -> None:
    api = make_intake_api()
    door, final, evidence = _door_and_decision(api, "VIP")
    assert (door, final) == ("P2", "P2")
    assert any(e.startswith("account tier VIP raises") for e in evidence)
    assert _door_and_decision(api, "vip")[:2] == (door, final)


def test_dead_letters_of_an_upper_case_tier_are_listed_by_its_size(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=1)
    # The bigger account first, even before a more urgent ticket of a smaller one.
    tickets = (("d1", "standard", "critical"), ("d2", "PREMIUM", None))
    for external_id, tier, severity in tickets:
        body = {"subject": "POISON", "external_id": external_id, "severity": severity}
        body["account"] = {"tier": tier}
        answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
        assert answer.status_code == 202, answer.text
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 2, 20)
    assert [d.tier for d in dead.list()] == ["PREMIUM", "standard"]
