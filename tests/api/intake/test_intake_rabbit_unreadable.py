"""RabbitMQ: a message no item can be read from is set aside even when its queue is gone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pika
import pytest
from intake_support import QUEUE_TAG, broker_up

from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A fresh queue per test, deleted afterwards with its delay queues."""
    name = f"test.intake.{QUEUE_TAG}{uuid.uuid4().hex[:8]}"
    yield name
    cleanup = RabbitQueue(URL, name, 10, 10)
    channel = cleanup._channel()
    for queue in cleanup.queues:
        channel.queue_delete(queue)
    cleanup.close()


def _ready(name: str) -> int:
    """Messages ready in a queue, seen from a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    try:
        return int(connection.channel().queue_declare(name, passive=True).method.message_count)
    finally:
        connection.close()


def test_an_unreadable_message_is_set_aside_after_its_queue_was_deleted(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 10, 10)
    channel = queue._channel()
    channel.queue_delete(queue.unreadable)  # an operator removed it
    channel.basic_publish("", queue_name, b"not json", pika.BasicProperties(priority=9))
    queue.put(QueueItem("good", "api", 23, False))
    # Past the unreadable one to the ticket behind it, the unreadable one kept for a person
    # instead of held unacknowledged by this worker's connection, out of everyone's view.
    got = queue.get(2.0)
    assert got is not None and got.item.ticket_id == "good"
    queue.ack(got)
    assert _ready(queue.unreadable) == 1
    assert queue.get(0.2) is None and queue.depth() == 0
    queue.close()
