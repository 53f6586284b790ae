"""The embedded queue: priority order, bounds with urgent headroom (429), leases, backoff."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from api_support import wait_for
from intake_fakes import CuedEngine
from intake_support import IntakeFactory

from agent.errors import CapacityError
from agent.policy import Policy
from api.db import Database
from api.intake.queue import Delivery, QueueItem, backoff_s
from api.intake.sqlqueue import SqlQueue
from api.intake.workers import IntakeWorkers


def _queue(tmp_path: Path, capacity: int = 10, normal: int = 8, lease_s: float = 30.0) -> SqlQueue:
    db = Database(f"sqlite:///{tmp_path / 'q.sqlite'}")
    db.migrate()
    return SqlQueue(db, capacity, normal, lease_s)


def test_most_urgent_first_then_oldest(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    for name, order in [("p3-a", 23), ("p1", 3), ("p3-b", 23), ("p2-vip", 10), ("p2", 13)]:
        queue.put(QueueItem(name, "api", order, order < 20))
    got = []
    while (delivery := queue.get(0.01)) is not None:
        got.append(delivery.item.ticket_id)
        queue.ack(delivery)
    assert got == ["p1", "p2-vip", "p2", "p3-a", "p3-b"]


def test_the_urgent_lane_claims_only_urgent_items(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    queue.put(QueueItem("routine", "api", 23, False))
    assert queue.get(0.01, urgent_only=True) is None
    queue.put(QueueItem("p1", "api", 3, True))
    lane = queue.get(0.01, urgent_only=True)
    assert lane is not None and lane.item.ticket_id == "p1"
    worker = queue.get(0.01)
    assert worker is not None and worker.item.ticket_id == "routine"


def test_an_urgent_ticket_does_not_wait_for_a_busy_worker(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    busy, release = threading.Event(), threading.Event()
    handled: list[str] = []

    def handle(delivery: Delivery) -> None:
        if not delivery.item.urgent:
            busy.set()
            release.wait(10)
        handled.append(delivery.item.ticket_id)
        queue.ack(delivery)

    workers = IntakeWorkers(
        queue,
        handle,
        threads=1,
        poll_s=0.1,
        urgent_lane=lambda timeout_s: queue.get(timeout_s, urgent_only=True),
    )
    queue.put(QueueItem("routine", "api", 23, False))
    workers.start()
    try:
        assert busy.wait(10)
        queue.put(QueueItem("p1", "api", 3, True))
        assert wait_for(lambda: handled == ["p1"], 10)  # the only worker is still busy
        release.set()
        assert wait_for(lambda: handled == ["p1", "routine"], 10)
    finally:
        release.set()
        workers.stop()


def test_full_queue_keeps_headroom_for_urgent_work(tmp_path: Path) -> None:
    queue = _queue(tmp_path, capacity=4, normal=2)
    queue.put(QueueItem("n1", "api", 20, False))
    queue.put(QueueItem("n2", "api", 20, False))
    with pytest.raises(CapacityError, match="non-urgent") as full:
        queue.put(QueueItem("n3", "api", 20, False))
    assert full.value.retry_after_s > 0
    queue.put(QueueItem("u1", "api", 0, True))
    queue.put(QueueItem("u2", "api", 0, True))
    with pytest.raises(CapacityError):
        queue.put(QueueItem("u3", "api", 0, True))
    assert queue.depth() == 4


def test_a_lost_lease_is_delivered_again_and_a_stale_ack_is_ignored(tmp_path: Path) -> None:
    queue = _queue(tmp_path, lease_s=0.2)
    queue.put(QueueItem("t", "api", 20, False))
    first = queue.get(0.01)
    assert first is not None and queue.get(0.01) is None
    time.sleep(0.25)  # the first worker "died" holding the lease
    second = queue.get(0.01)
    assert second is not None and second.item.ticket_id == "t"
    queue.ack(first)  # the old lease's ack must not remove the new delivery
    assert queue.depth() == 1
    queue.ack(second)
    assert queue.depth() == 0


def test_an_extended_lease_is_kept_and_a_stale_extension_is_ignored(tmp_path: Path) -> None:
    queue = _queue(tmp_path, lease_s=0.2)
    queue.put(QueueItem("t", "api", 20, False))
    first = queue.get(0.01)
    assert first is not None
    for _ in range(3):  # the run goes on past its lease, extending it
        time.sleep(0.1)
        queue.extend(first, 0.2)
    assert queue.get(0.01) is None
    time.sleep(0.25)  # then its worker "died"
    second = queue.get(0.01)
    assert second is not None
    queue.extend(first, 10.0)  # the lost lease's extension must not hold the new one
    time.sleep(0.25)  # the second worker "died" too
    assert queue.get(0.01) is not None


def test_retry_waits_for_its_delay(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    queue.put(QueueItem("t", "api", 20, False))
    delivery = queue.get(0.01)
    assert delivery is not None
    queue.retry(delivery, 0.3)
    assert queue.get(0.05) is None
    assert queue.get(1.0) is not None


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    delays = [backoff_s(n, 1.0, 30.0, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        step = min(30.0, 2 ** (n - 1))
        assert step / 2 <= delay <= step
    assert len({round(backoff_s(3, 1.0, 30.0, rng), 6) for _ in range(20)}) > 10


def test_api_answers_429_with_retry_after_and_urgent_still_enters(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy),
        start=False,
        intake_queue_size=3,
        intake_urgent_reserve=0.3,
    )
    for n in range(2):
        ok = api.client.post(
            "/v1/intake/api",
            json={"subject": f"printer {n}", "external_id": f"n{n}"},
            headers=api.auth("helpdesk"),
        )
        assert ok.status_code == 202
    full = api.client.post(
        "/v1/intake/api",
        json={"subject": "printer 3", "external_id": "n3"},
        headers=api.auth("helpdesk"),
    )
    assert full.status_code == 429
    assert int(full.headers["retry-after"]) >= 1
    urgent = api.client.post(
        "/v1/intake/api",
        json={"subject": "Production down", "external_id": "u"},
        headers=api.auth("helpdesk"),
    )
    assert urgent.status_code == 202 and urgent.json()["priority"] == "P1"
    # The rejected submission left nothing behind: its retry is a fresh submission.
    retry = api.client.post(
        "/v1/intake/api",
        json={"subject": "printer 3", "external_id": "n3"},
        headers=api.auth("helpdesk"),
    )
    assert retry.status_code == 429


def test_workers_take_urgent_tickets_before_the_backlog(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    engine = CuedEngine(example_policy)
    api = make_intake_api(engine=engine, start=False)
    subjects = ["printer a", "printer b", "Production down", "login slow"]
    for n, subject in enumerate(subjects):
        body = {"subject": subject, "external_id": f"o{n}"}
        if subject == "login slow":
            body["account"] = {"tier": "vip"}
        api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    api.app.state.intake.workers.start()
    assert wait_for(lambda: len(engine.order) == 4, 20)
    # The worker and the urgent lane take the two urgent ones side by side, then the backlog.
    assert set(engine.order[:2]) == {"Production down", "login slow"}
    assert engine.order[2:] == ["printer a", "printer b"]


def test_a_put_in_another_process_wakes_an_idle_worker_at_once(tmp_path: Path) -> None:
    # Two queues on one file stand for two processes; the datagram, not the poll, wakes it.
    worker_side, api_side = _queue(tmp_path), _queue(tmp_path)
    got: list[tuple[float, Delivery | None]] = []

    def wait() -> None:
        got.append((time.monotonic(), worker_side.get(10.0, urgent_only=True)))

    try:
        assert worker_side.get(0.01) is None  # now listening, and idle polls grow to 250 ms
        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.6)  # the waiter's poll interval has grown to its maximum
        put_at = time.monotonic()
        api_side.put(QueueItem("p1", "api", 3, True))
        waiter.join(10)
        ((claimed_at, delivery),) = got
        assert delivery is not None and delivery.item.ticket_id == "p1"
        assert claimed_at - put_at < 0.15  # a poll would have taken up to 250 ms
    finally:
        worker_side.close()
        api_side.close()
    assert not list((tmp_path / "q.sqlite.wake").glob("*.sock"))  # closed: socket removed


def test_a_dead_processes_wake_socket_is_removed(tmp_path: Path) -> None:
    import socket

    directory = tmp_path / "q.sqlite.wake"
    directory.mkdir()
    stale = directory / "999999-dead.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(stale))
    listener.close()  # the file stays, nobody reads it: as after a crash
    queue = _queue(tmp_path)
    queue.put(QueueItem("t", "api", 23, False))
    assert not stale.exists()
    delivery = queue.get(0.01)
    assert delivery is not None and delivery.item.ticket_id == "t"
    queue.close()


def test_routine_workers_step_aside_while_an_urgent_ticket_runs(tmp_path: Path) -> None:
    from api.intake.urgency import UrgentWork

    queue, urgency = _queue(tmp_path), UrgentWork(max_wait_s=5.0)
    started: list[str] = []
    urgent_running, finish_urgent = threading.Event(), threading.Event()

    def handle(delivery: Delivery) -> None:
        started.append(delivery.item.ticket_id)
        if delivery.item.urgent:
            with urgency.running():
                urgent_running.set()
                finish_urgent.wait(10)
        queue.ack(delivery)

    queue.put(QueueItem("p1", "api", 3, True))
    lane_thread = threading.Thread(
        target=lambda: handle(d) if (d := queue.get(1.0, urgent_only=True)) else None
    )
    lane_thread.start()
    assert urgent_running.wait(10)
    queue.put(QueueItem("routine", "api", 23, False))
    workers = IntakeWorkers(queue, handle, threads=1, poll_s=0.05, urgency=urgency)
    workers.start()
    try:
        time.sleep(0.5)
        assert started == ["p1"]  # the routine ticket waits while the urgent one runs
        finish_urgent.set()
        assert wait_for(lambda: started == ["p1", "routine"], 10)
    finally:
        finish_urgent.set()
        workers.stop()
        lane_thread.join(5)
