"""RabbitMQ: a ticket stored but never published (a crash between the two) is published again
at the next start, once; a ticket whose message is in the broker is not."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from api_support import wait_for
from intake_fakes import CuedEngine
from intake_support import BROKER_URL, IntakeFactory, another_app, broker_up, decisions
from sqlalchemy import select, update

from agent.policy import Policy
from api.auth import Principal
from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue
from api.intake.tables import IntakeTicketRow
from api.tables import utcnow

URL = BROKER_URL
CALLER = Principal(key_id="stranded", name="stranded test", role="helpdesk")

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


class Crash(BaseException):
    """The process dies here: no handler of the intake runs."""


def _crash_on_put(*_: object, **__: object) -> None:
    raise Crash


def test_a_ticket_stored_but_never_published_is_published_at_the_next_start(
    make_intake_api: IntakeFactory,
    example_policy: Policy,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("api.intake.recovery.PUBLISH_GRACE_S", 1.0, raising=False)
    rabbit = {"intake_queue": "rabbitmq", "broker_url": URL, "broker_queue": queue_name}
    api = make_intake_api(engine=CuedEngine(example_policy), start=False, **rabbit)
    intake = api.app.state.intake
    monkeypatch.setattr(intake.queue, "put", _crash_on_put)
    with pytest.raises(Crash):  # stored, then the process died before the broker had it
        intake.flow.submit("api", b'{"subject": "printer jammed", "external_id": "s1"}', CALLER)
    with api.services.db.session() as session:
        (ticket_id,) = session.scalars(select(IntakeTicketRow.ticket_id)).all()
    assert api.services.store.status(ticket_id) == "queued"
    intake.queue.close()
    # The restart, at once: within the grace a live process's put may still be under way.
    engine = CuedEngine(example_policy)
    again = another_app(api, engine, intake_workers=1, **rabbit)
    with again.client:
        store = again.services.store
        assert wait_for(lambda: store.status(ticket_id) == "decided", 20)
        assert wait_for(lambda: again.app.state.intake.queue.depth() == 0, 10)
    assert decisions(again, ticket_id) == 1 and engine.order == ["printer jammed"]
    again.services.db.close()


def test_a_ticket_whose_message_is_in_the_broker_is_not_published_again(
    make_intake_api: IntakeFactory,
    example_policy: Policy,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("api.intake.recovery.PUBLISH_GRACE_S", 0.1, raising=False)
    rabbit = {"intake_queue": "rabbitmq", "broker_url": URL, "broker_queue": queue_name}
    api = make_intake_api(
        engine=CuedEngine(example_policy), start=False, intake_workers=0, **rabbit
    )
    for n, subject in enumerate(["held printer", "parked printer", "ready printer"]):
        answer = api.client.post(
            "/v1/intake/api",
            json={"subject": subject, "external_id": f"in{n}"},
            headers=api.auth("helpdesk"),
        )
        assert answer.status_code == 202, answer.text
    # Another process's worker holds the first (before its run began), and the second waits
    # in a delay queue (its attempt could not even be counted); the third is ready.
    worker, parker = RabbitQueue(URL, queue_name, 10, 10), RabbitQueue(URL, queue_name, 10, 10)
    held = worker.get(2.0)
    parked = parker.get(2.0)
    assert held is not None and parked is not None
    parker.retry(parked, 60.0)
    with api.services.db.session() as session:  # all of them accepted long ago
        session.execute(update(IntakeTicketRow).values(received_at=utcnow() - timedelta(hours=1)))
    intake = api.app.state.intake
    intake.start()
    queue = intake.queue
    assert queue._count(queue_name) == 1 and queue._held_count() == 1
    assert sum(queue._count(queue._delay_queue(b)) for b in range(28)) == 1
    worker.close()
    parker.close()


def test_a_replay_cut_off_before_its_put_is_published_at_the_next_start(
    make_intake_api: IntakeFactory,
    example_policy: Policy,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("api.intake.recovery.PUBLISH_GRACE_S", 1.0, raising=False)
    rabbit = {"intake_queue": "rabbitmq", "broker_url": URL, "broker_queue": queue_name}
    api = make_intake_api(
        engine=CuedEngine(example_policy), start=False, intake_workers=0, **rabbit
    )
    answer = api.client.post(
        "/v1/intake/api",
        json={"subject": "printer jammed", "external_id": "r1"},
        headers=api.auth("helpdesk"),
    )
    ticket_id = answer.json()["ticket_id"]
    intake = api.app.state.intake
    delivery = intake.queue.get(2.0)
    assert delivery is not None and delivery.item == QueueItem(ticket_id, "api", 23, False)
    ticket = api.services.store.ticket(ticket_id)
    letter = intake.dead_letters.add(  # dead-lettered, as the runner does it
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
    monkeypatch.setattr(intake.queue, "put", _crash_on_put)
    with pytest.raises(Crash):  # replayed, then the process died before the broker had it
        intake.actions.replay(letter, "ana")
    intake.queue.close()
    engine = CuedEngine(example_policy)
    again = another_app(api, engine, intake_workers=1, **rabbit)
    with again.client:
        store = again.services.store
        assert wait_for(lambda: store.status(ticket_id) == "decided", 20)
    assert decisions(again, ticket_id) == 1
    again.services.db.close()


def test_two_processes_starting_together_publish_a_stranded_ticket_once(
    make_intake_api: IntakeFactory,
    example_policy: Policy,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rabbit = {"intake_queue": "rabbitmq", "broker_url": URL, "broker_queue": queue_name}
    api = make_intake_api(
        engine=CuedEngine(example_policy), start=False, intake_workers=0, **rabbit
    )
    intake = api.app.state.intake
    with monkeypatch.context() as crashing:
        crashing.setattr(intake.queue, "put", _crash_on_put)
        with pytest.raises(Crash):  # an hour ago
            intake.flow.submit("api", b'{"subject": "printer jams", "external_id": "t1"}', CALLER)
    with api.services.db.session() as session:
        session.execute(update(IntakeTicketRow).values(running_until=-(time.time() - 3600)))
    other = another_app(api, CuedEngine(example_policy), intake_workers=0, **rabbit)
    first, second = intake.republisher, other.app.state.intake.republisher
    seen = second.flow.records.unconfirmed()  # both list it before either publishes it
    assert len(seen) == 1
    assert first.run() == (1, None)
    monkeypatch.setattr(second.flow.records, "unconfirmed", lambda: seen)
    assert second.run() == (0, None)  # the first took it over: not published a second time
    assert intake.queue.depth() == 1
    other.app.state.intake.queue.close()
    other.services.db.close()
