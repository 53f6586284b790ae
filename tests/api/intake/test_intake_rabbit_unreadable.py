"""RabbitMQ: a queue an operator deleted (unreadable, held, delay, main) is declared again."""

from __future__ import annotations

import pika
import pytest
from intake_support import BROKER_URL, broker_up

from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

URL = BROKER_URL

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


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


def test_a_held_queue_an_operator_deleted_is_declared_again(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 10, 10)
    queue._channel().queue_delete(queue.held)
    queue.put(QueueItem("t", "api", 23, False))
    got = queue.get(2.0)
    assert got is not None and got.item.ticket_id == "t"
    assert queue.depth() == 1  # held, and counted so
    queue.ack(got)
    assert queue.depth() == 0
    queue.close()


def test_a_delay_queue_an_operator_deleted_is_declared_again(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 10, 10)
    channel = queue._channel()
    for bucket in range(28):
        channel.queue_delete(queue._delay_queue(bucket))
    queue.put(QueueItem("t", "api", 23, False))
    delivery = queue.get(2.0)
    assert delivery is not None
    queue.retry(delivery, 0.4)  # parked for its delay, not given back at once
    assert queue.get(0.1) is None
    again = queue.get(5.0)
    assert again is not None and again.item.ticket_id == "t"
    queue.ack(again)
    queue.close()


def test_a_main_queue_an_operator_deleted_is_declared_again(queue_name: str) -> None:
    queue = RabbitQueue(URL, queue_name, 10, 10)
    queue._channel().queue_delete(queue_name)
    queue.put(QueueItem("t", "api", 23, False))
    got = queue.get(2.0)
    assert got is not None and got.item.ticket_id == "t"
    queue.ack(got)
    queue.close()
