"""The embedded queue on PostgreSQL: a put past the bound is refused, concurrent ones too."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agent.errors import CapacityError
from api.db import Database
from api.intake.queue import QueueItem
from api.intake.sqlqueue import SqlQueue

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_queue(pg_url: str) -> Iterator[SqlQueue]:
    """A queue bounded at 5 in a fresh schema."""
    db = Database(pg_url)
    db.migrate()
    queue = SqlQueue(db, capacity=5, normal_capacity=5)
    yield queue
    queue.close()
    db.close()


def test_a_put_past_the_bound_is_refused_not_dropped(pg_queue: SqlQueue) -> None:
    for n in range(5):
        pg_queue.put(QueueItem(f"t{n}", "api", 23, False))
    with pytest.raises(CapacityError):  # the sender is told (429), the ticket is not kept
        pg_queue.put(QueueItem("t5", "api", 23, False))
    assert pg_queue.depth() == 5


def test_concurrent_puts_do_not_pass_the_bound(pg_queue: SqlQueue) -> None:
    start = threading.Barrier(16)
    refused: list[str] = []

    def put(n: int) -> None:
        start.wait()
        try:
            pg_queue.put(QueueItem(f"t{n}", "api", 23, False))
        except CapacityError:
            refused.append(f"t{n}")

    threads = [threading.Thread(target=put, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pg_queue.depth() == 5 and len(refused) == 11
