"""The RabbitMQ backend when the broker closed a connection meanwhile (idle past its heartbeat
timeout, as every connection when the broker restarts): nothing fails, nothing doubles. A
connection holding a ticket under triage, however long it runs, is kept open."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from broker_proxy import BrokerProxy
from intake_support import BROKER_URL, QUEUE_TAG, broker_up

from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

# pika's blocking connection answers no heartbeats between calls: with a 1 s heartbeat the
# broker closes a connection left alone for a few seconds.
URL = BROKER_URL
SHORT_HEARTBEAT = f"{URL}?heartbeat=1"
IDLE_S = 5.0


pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


@pytest.fixture
def proxy() -> Iterator[BrokerProxy]:
    made = BrokerProxy()
    yield made
    made.close()


@pytest.fixture
def queue(proxy: BrokerProxy) -> Iterator[RabbitQueue]:
    """A fresh queue on connections with a short heartbeat through a proxy that can cut them
    (as a broker restarting), deleted afterwards."""
    name = f"test.reconnect.{QUEUE_TAG}{uuid.uuid4().hex[:8]}"
    made = RabbitQueue(f"{proxy.url}?heartbeat=1", name, 10, 10)
    yield made
    made.close()
    cleanup = RabbitQueue(URL, name, 10, 10)
    channel = cleanup._channel()
    for queue in cleanup.queues:
        channel.queue_delete(queue)
    cleanup.close()


def _drain(queue: RabbitQueue) -> list[str]:
    got = []
    while (delivery := queue.get(1.0)) is not None:
        got.append(delivery.item.ticket_id)
        queue.ack(delivery)
    return got


def test_a_put_after_a_quiet_spell_is_accepted(queue: RabbitQueue) -> None:
    queue.put(QueueItem("first", "api", 23, False))
    time.sleep(IDLE_S)  # no ticket for a while: the broker closed this thread's connection
    queue.put(QueueItem("second", "api", 23, False))
    assert queue.depth() == 2


def test_an_ack_after_the_connection_died_is_not_an_error_and_the_ticket_comes_once(
    queue: RabbitQueue, proxy: BrokerProxy
) -> None:
    queue.put(QueueItem("t", "api", 23, False))
    delivery = queue.get(1.0)
    assert delivery is not None
    proxy.cut()  # the broker restarted during the triage run
    queue.ack(delivery)
    assert _drain(queue) == ["t"]  # back in the queue once, for the next worker


def test_a_retry_after_the_connection_died_leaves_one_copy(
    queue: RabbitQueue, proxy: BrokerProxy
) -> None:
    queue.put(QueueItem("t", "api", 23, False))
    delivery = queue.get(1.0)
    assert delivery is not None
    proxy.cut()
    queue.retry(delivery, 0.05)
    assert _drain(queue) == ["t"]


def test_a_ticket_triaged_longer_than_the_heartbeat_timeout_stays_with_its_worker(
    queue: RabbitQueue,
) -> None:
    queue.put(QueueItem("t", "api", 23, False))
    delivery = queue.get(1.0)
    assert delivery is not None
    time.sleep(IDLE_S)  # a long triage run: the worker's thread does not touch its connection
    other = RabbitQueue(URL, queue.name, 10, 10)  # another worker
    assert other.get(1.0) is None  # not given to it while the run goes on
    assert queue.depth() == 1
    queue.ack(delivery)
    assert other.get(1.0) is None and queue.depth() == 0  # done once
    other.close()
