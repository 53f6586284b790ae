"""The RabbitMQ backend counts the tickets workers hold, and readiness sees nobody working it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from api_support import wait_for
from intake_support import QUEUE_TAG, broker_up

from agent.errors import CapacityError
from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A fresh queue per test, deleted afterwards with the queues beside it."""
    name = f"test.held.{QUEUE_TAG}{uuid.uuid4().hex[:8]}"
    yield name
    cleanup = RabbitQueue(URL, name, 10, 10)
    channel = cleanup._channel()
    for queue in cleanup.queues:
        channel.queue_delete(queue)
    cleanup.close()


def test_tickets_held_by_workers_count_toward_depth_and_bound(queue_name: str) -> None:
    api_side = RabbitQueue(URL, queue_name, 3, 3)
    worker = RabbitQueue(URL, queue_name, 3, 3)  # another process's worker
    for n in range(3):
        api_side.put(QueueItem(f"t{n}", "api", 23, False))
    first, second = worker.get(1.0), worker.get(1.0)
    assert first is not None and second is not None
    # Two tickets being triaged and one waiting: three in the queue, which is full.
    assert api_side.depth() == 3
    with pytest.raises(CapacityError):
        api_side.put(QueueItem("t3", "api", 23, False))
    worker.ack(first)
    assert api_side.depth() == 2
    worker.retry(second, 60.0)  # parked for its retry, no longer held
    time.sleep(1.1)  # the parked count is read at most once a second
    assert api_side.depth() == 2
    held = worker.get(1.0)
    assert held is not None and held.item.ticket_id == "t2"
    worker.close()  # the worker dies: the broker puts its ticket back, counted once
    assert wait_for(lambda: api_side.depth() == 2, 5)
    assert api_side.depth() == 2
    api_side.close()
