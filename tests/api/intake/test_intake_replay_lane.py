"""Replayed and recovered tickets keep their own urgency: the urgent lane stays for urgent ones."""

from __future__ import annotations

from api_support import Api
from intake_fakes import CuedEngine
from intake_support import IntakeFactory
from sqlalchemy import delete

from agent.policy import Policy
from api.intake.recovery import recover
from api.intake.tables import QueueRow


def _submit(api: Api, subject: str, external_id: str) -> str:
    body = {"subject": subject, "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _dead_letter(api: Api, external_id: str) -> int:
    """A routine ticket dead-lettered as the runner does it (no workers run in these apps)."""
    intake = api.app.state.intake
    ticket_id = _submit(api, "POISON printer", external_id)
    delivery = intake.queue.get(5.0)
    assert delivery is not None and not delivery.item.urgent
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
    intake.queue.ack(delivery)
    return int(letter)


def _lane_and_workers(api: Api) -> tuple[list[str], list[str]]:
    """What the urgent lane would take, then what the routine workers would."""
    queue = api.app.state.intake.queue
    taken: tuple[list[str], list[str]] = ([], [])
    for urgent_only, got in ((True, taken[0]), (False, taken[1])):
        while (delivery := queue.get(0.01, urgent_only=urgent_only)) is not None:
            got.append(delivery.item.ticket_id)
            queue.ack(delivery)
    return taken


def test_replayed_routine_letters_use_the_headroom_but_not_the_urgent_lane(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy),
        intake_workers=0,
        intake_queue_size=8,
        intake_urgent_reserve=0.5,
    )
    letters = [_dead_letter(api, f"r{n}") for n in range(3)]
    backlog = [_submit(api, "printer jams", f"b{n}") for n in range(4)]  # routine bound reached
    for letter in letters:  # a reviewer replays a batch of routine letters at once
        answer = api.client.post(f"/v1/dead-letters/{letter}/replay", headers=api.auth("reviewer"))
        assert answer.status_code == 200, answer.text
    p1 = _submit(api, "Production down at the main site", "p1")
    lane, workers = _lane_and_workers(api)
    assert lane == [p1]
    assert len(workers) == 7 and set(backlog) < set(workers)


def test_recovered_routine_tickets_do_not_take_the_urgent_lane(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0)
    stranded = _submit(api, "printer jams", "s1")
    with api.services.db.session() as session:  # a crash between storing and queueing
        session.execute(delete(QueueRow).where(QueueRow.ticket_id == stranded))
    assert recover(api.app.state.intake.flow) == 1
    assert _lane_and_workers(api) == ([], [stranded])
