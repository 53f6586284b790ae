"""The RabbitMQ backend counts the tickets workers hold, and readiness sees nobody working it."""

from __future__ import annotations

import threading
import time

import pytest
from api_support import Api, wait_for
from intake_fakes import CuedEngine
from intake_support import BROKER_URL, IntakeFactory, broker_up

from agent.errors import CapacityError
from agent.policy import Policy
from api.intake.queue import QueueItem
from api.intake.rabbit import RabbitQueue

URL = BROKER_URL

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


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


def _submit(api: Api, external_id: str) -> str:
    body = {"subject": "printer jams", "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def test_readyz_is_503_when_no_worker_takes_a_queued_ticket_on_rabbitmq(
    make_intake_api: IntakeFactory, example_policy: Policy, queue_name: str
) -> None:
    # The API process runs no workers: theirs is another process, which died.
    api = make_intake_api(
        engine=CuedEngine(example_policy),
        intake_queue="rabbitmq",
        broker_url=URL,
        broker_queue=queue_name,
        intake_workers=0,
        intake_lease_s=1.0,
    )
    _submit(api, "r1")
    assert api.client.get("/readyz").status_code == 200  # just queued: not stuck yet
    time.sleep(1.5)
    answer = api.client.get("/readyz")
    assert answer.status_code == 503, answer.text
    intake = answer.json()["checks"]["intake"]
    assert intake["ok"] is False and "no worker took a due ticket" in intake["detail"]
    # A worker process comes back and takes it: ready again.
    worker = RabbitQueue(URL, queue_name, 10, 10)
    delivery = worker.get(2.0)
    assert delivery is not None
    assert api.client.get("/readyz").status_code == 200
    worker.close()  # and dies holding it: back in the queue, for nobody
    assert api.client.get("/readyz").status_code == 200  # waiting again only since now
    time.sleep(1.5)
    assert api.client.get("/readyz").status_code == 503


def test_a_backlog_being_worked_on_rabbitmq_is_not_reported_stuck(
    make_intake_api: IntakeFactory, example_policy: Policy, queue_name: str
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy, delay_s=0.15),
        intake_queue="rabbitmq",
        broker_url=URL,
        broker_queue=queue_name,
        intake_workers=1,
        intake_lease_s=0.6,
    )
    ids = [_submit(api, f"b{n}") for n in range(10)]  # 1.5 s of work: longer than a lease
    answers = []
    done = lambda: all(api.services.store.status(t) == "decided" for t in ids)  # noqa: E731
    while not done():
        answers.append(api.client.get("/readyz").status_code)
        time.sleep(0.05)
    assert wait_for(done, 30)
    assert len(answers) > 5 and set(answers) == {200}


def test_a_get_whose_hold_keeps_failing_returns_at_its_timeout(
    queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery that cannot be counted as held goes back to the broker; a get that keeps
    meeting that returns empty when its wait is over instead of trying for ever."""
    from pika.exceptions import ChannelClosed

    queue = RabbitQueue(URL, queue_name, 10, 10)
    queue.put(QueueItem("t0", "api", 23, False))

    def broken(tag: int) -> None:
        raise ChannelClosed(404, "NOT_FOUND - held queue")

    monkeypatch.setattr(queue, "_hold", broken)
    monkeypatch.setattr(queue, "_declared_again", lambda exc: None)
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(queue.get(0.5)), daemon=True)
    worker.start()
    worker.join(15)
    assert not worker.is_alive() and got == [None]
    monkeypatch.undo()
    back = queue.get(2.0)  # the message went back to the broker each time: still there
    assert back is not None and back.item.ticket_id == "t0"
    queue.ack(back)
    queue.close()
