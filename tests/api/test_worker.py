"""The in-process workers: the bound refuses new tickets, never a restart's backlog."""

from __future__ import annotations

import threading

import pytest

from agent.errors import CapacityError
from api.worker import Workers


def test_a_backlog_past_the_bound_is_taken_and_new_tickets_wait_for_room() -> None:
    release = threading.Event()
    done: list[str] = []

    def job(ticket_id: str) -> None:
        release.wait(5)
        done.append(ticket_id)

    workers = Workers(job, size=2, threads=1)
    workers.start()
    try:
        for i in range(5):
            workers.requeue(f"old-{i}")
        with pytest.raises(CapacityError):
            workers.submit("new")
        release.set()
        assert workers.join(5)
        workers.submit("new")
        assert workers.join(5)
    finally:
        workers.stop()
    assert done == [f"old-{i}" for i in range(5)] + ["new"]


def test_submit_past_the_bound_is_refused() -> None:
    workers = Workers(lambda _: None, size=2)
    workers.submit("a")
    workers.submit("b")
    with pytest.raises(CapacityError):
        workers.submit("c")
    assert workers.depth == 2
