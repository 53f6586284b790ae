"""The in-process workers: the bound refuses new tickets, never a restart's backlog; failed
triage is retried a few times."""

from __future__ import annotations

import threading
import time

import pytest

from agent.errors import CapacityError, UpstreamError
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


def test_a_failed_ticket_is_retried_a_bounded_number_of_times() -> None:
    calls: list[str] = []

    def job(ticket_id: str) -> None:
        calls.append(ticket_id)
        if ticket_id == "broken" or calls.count(ticket_id) < 2:
            raise UpstreamError("chroma server lost")

    workers = Workers(job, threads=1, attempts=3, retry_base_s=0.01)
    workers.start()
    try:
        workers.submit("flaky")
        workers.submit("broken")
        deadline = time.monotonic() + 5
        while (calls.count("flaky"), calls.count("broken")) != (2, 3):
            assert time.monotonic() < deadline, calls
            time.sleep(0.01)
        time.sleep(0.1)  # no fourth try
    finally:
        workers.stop()
    assert (calls.count("flaky"), calls.count("broken")) == (2, 3)
