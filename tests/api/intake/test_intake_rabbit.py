"""The RabbitMQ backend on the real broker: priorities, bound, retry delay, redelivery."""

from __future__ import annotations

import json
import threading
import time

import pika
import pytest
from api_support import wait_for
from intake_fakes import CuedEngine
from intake_support import BROKER_URL, IntakeFactory, broker_up

from agent.errors import CapacityError, UpstreamError
from agent.policy import Policy
from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

URL = BROKER_URL


pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


def test_priority_order_and_bound(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 4, 3)
    for ticket_id, order in [("p3", 23), ("p1", 3), ("p2", 13)]:
        queue.put(QueueItem(ticket_id, "api", order, order < 20))
    with pytest.raises(CapacityError, match="non-urgent"):
        queue.put(QueueItem("p4", "api", 33, False))
    queue.put(QueueItem("p1b", "api", 3, True))
    assert queue.depth() == 4
    got = []
    while (delivery := queue.get(0.2)) is not None:
        got.append(delivery.item.ticket_id)
        queue.ack(delivery)
    assert got == ["p1", "p1b", "p2", "p3"]
    queue.close()


def test_retry_comes_back_after_its_delay_and_unacked_is_redelivered(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 10, 10)
    queue.put(QueueItem("t", "api", 23, False))
    delivery = queue.get(1.0)
    assert delivery is not None
    started = time.monotonic()
    queue.retry(delivery, 0.4)
    assert queue.get(0.1) is None
    again = queue.get(3.0)
    assert again is not None and again.item.ticket_id == "t"
    assert time.monotonic() - started >= 0.35
    queue.close()  # dies without acking: the broker gives the message back
    other = RabbitQueue(URL, queue_name, 10, 10)
    redelivered = other.get(2.0)
    assert redelivered is not None and redelivered.redelivered
    other.ack(redelivered)
    assert other.depth() == 0
    other.close()


def test_tickets_waiting_for_a_retry_count_toward_depth_and_bound(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 4, 4)
    for n in range(3):
        queue.put(QueueItem(f"t{n}", "api", 23, False))
    for _ in range(3):  # an outage: every ticket fails and waits for its retry
        delivery = queue.get(1.0)
        assert delivery is not None
        queue.retry(delivery, 60.0)
    assert queue.get(0.1) is None
    time.sleep(1.1)  # the parked count is read at most once a second
    assert queue.depth() == 3
    queue.put(QueueItem("t3", "api", 23, False))
    with pytest.raises(CapacityError):
        queue.put(QueueItem("t4", "api", 23, False))
    queue.close()


def test_a_message_of_another_version_is_read_and_an_unreadable_one_set_aside(
    queue_name: str,
) -> None:
    queue = RabbitQueue(URL, queue_name, 10, 10)
    newer = {"ticket_id": "newer", "source": "api", "priority": 3, "urgent": True, "seen": 1}
    channel = queue._channel()
    for body in (b"not json", json.dumps(newer).encode()):
        channel.basic_publish("", queue_name, body, pika.BasicProperties(priority=9))
    got = queue.get(1.0)  # past the unreadable one: set aside, not held by this worker
    assert got is not None and got.item == QueueItem("newer", "api", 3, True)
    queue.ack(got)
    assert queue.get(0.2) is None and queue.depth() == 0
    aside = channel.queue_declare(f"{queue_name}.unreadable", passive=True).method
    assert aside.message_count == 1
    queue.close()


def test_app_on_rabbitmq_decides_every_ticket(
    make_intake_api: IntakeFactory, example_policy: Policy, queue_name: str
) -> None:
    engine = CuedEngine(example_policy)
    api = make_intake_api(
        engine=engine,
        intake_queue="rabbitmq",
        broker_url=URL,
        broker_queue=queue_name,
        intake_workers=2,
    )
    ids = []
    for n, subject in enumerate(["printer", "FLAKY vpn", "Production down"]):
        answer = api.client.post(
            "/v1/intake/api",
            json={"subject": subject, "external_id": f"r{n}"},
            headers=api.auth("helpdesk"),
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["ticket_id"])
    store = api.services.store
    assert wait_for(lambda: all(store.status(i) == "decided" for i in ids), 30)
    assert sorted(engine.order) == sorted(["printer", "FLAKY vpn", "Production down"])


def test_a_ticket_the_broker_did_not_take_is_not_kept_half_accepted(
    make_intake_api: IntakeFactory, example_policy: Policy, queue_name: str
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy),
        start=False,
        intake_queue="rabbitmq",
        broker_url=URL,
        broker_queue=queue_name,
    )
    queue = api.app.state.intake.queue
    reachable = queue.params
    queue.params = pika.URLParameters("amqp://guest:guest@127.0.0.1:1/%2F")  # the broker is down
    queue._local = threading.local()
    ticket = {"subject": "printer jammed", "external_id": "down-1"}
    refused = api.client.post("/v1/intake/api", json=ticket, headers=api.auth("helpdesk"))
    assert refused.status_code == 502, refused.text
    queue.params, queue._local = reachable, threading.local()
    # The sender's retry once the broker is back: queued now, not a 'duplicate' of a ticket
    # that is in no queue and would never be triaged.
    again = api.client.post("/v1/intake/api", json=ticket, headers=api.auth("helpdesk"))
    assert again.status_code == 202 and again.json()["status"] == "queued", again.text
    assert queue.depth() == 1


def test_a_replay_the_broker_did_not_take_leaves_the_dead_letter_open(
    make_intake_api: IntakeFactory, example_policy: Policy, queue_name: str
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy),
        intake_queue="rabbitmq",
        broker_url=URL,
        broker_queue=queue_name,
        intake_max_attempts=1,
    )
    ticket = {"subject": "POISON printer", "external_id": "dead-1"}
    ticket_id = api.client.post("/v1/intake/api", json=ticket, headers=api.auth("helpdesk")).json()[
        "ticket_id"
    ]
    intake = api.app.state.intake
    assert wait_for(lambda: len(intake.dead_letters.list()) == 1, 20)
    letter = intake.dead_letters.list()[0]
    reachable = intake.queue.params
    intake.queue.params = pika.URLParameters("amqp://guest:guest@127.0.0.1:1/%2F")
    intake.queue._local.channel = None  # this thread's: the workers keep theirs
    with pytest.raises(UpstreamError):
        intake.actions.replay(letter.id, "ana")
    intake.queue.params = reachable
    # Closed as 'replayed', it would wait for a replay that queued nothing.
    assert intake.dead_letters.get(letter.id).state == "open"
    assert api.services.store.status(ticket_id) == "failed"


def test_a_retry_is_not_parked_behind_one_much_longer(queue_name: str) -> None:
    # A delay queue expires its messages from the head only: a message parked behind a longer
    # one waits for that one. Retries whose delays differ more than twofold (a ten-minute
    # backoff, an hour-long one) must not share a delay queue.
    queue = RabbitQueue(URL, queue_name, 10, 10)
    delays = {"hour": 3600.0, "ten-minutes": 600.0}
    for ticket_id in delays:
        queue.put(QueueItem(ticket_id, "api", 23, False))
    for _ in delays:
        delivery = queue.get(1.0)
        assert delivery is not None
        queue.retry(delivery, delays[delivery.item.ticket_id])
    channel = queue._channel()
    parked = {
        name: channel.queue_declare(name, passive=True).method.message_count
        for name in queue.queues
        if ".delay." in name
    }
    assert sorted(n for n in parked.values() if n) == [1, 1], parked
    queue.close()
