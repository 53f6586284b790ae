"""The RabbitMQ backend while the broker blocks publishers (a memory or disk alarm): a put gives
up and says so, it does not hang the request that made it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from broker_proxy import BrokerProxy
from intake_support import BROKER_URL, broker_up

from agent.errors import UpstreamError
from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

URL = BROKER_URL

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


@pytest.fixture
def proxy() -> Iterator[BrokerProxy]:
    made = BrokerProxy()
    yield made
    made.close()


def test_a_put_while_the_broker_blocks_publishers_fails_instead_of_hanging(
    proxy: BrokerProxy, queue_name: str
) -> None:
    queue = RabbitQueue(proxy.url, queue_name, 10, 10)
    queue.put(QueueItem("before", "api", 23, False))
    proxy.block()
    outcome: list[object] = []

    def put() -> None:
        try:
            queue.put(QueueItem("during", "api", 23, False))
            outcome.append("accepted")
        except Exception as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=put, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the put still hangs after 60 s"
    assert len(outcome) == 1 and isinstance(outcome[0], UpstreamError), outcome
    assert "blocked" in str(outcome[0])
    print(f"\nput refused after {time.monotonic() - started:.1f} s")
