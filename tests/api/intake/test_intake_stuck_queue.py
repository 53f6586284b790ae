"""Readiness sees a queue nobody works: due tickets, no lease held, no outcome for a lease."""

from __future__ import annotations

import time

from api_support import Api, wait_for
from intake_fakes import CuedEngine
from intake_support import IntakeFactory

from agent.policy import Policy


def _submit(api: Api, external_id: str) -> str:
    body = {"subject": "printer jams", "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def test_readyz_is_503_when_no_worker_takes_a_due_ticket_for_a_lease(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    # The API process runs no workers: theirs is another process, which died.
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0, intake_lease_s=0.5)
    _submit(api, "s1")
    assert api.client.get("/readyz").status_code == 200  # just queued: not stuck yet
    time.sleep(0.8)
    answer = api.client.get("/readyz")
    assert answer.status_code == 503, answer.text
    intake = answer.json()["checks"]["intake"]
    assert intake["ok"] is False and "no worker took a due ticket" in intake["detail"]
    # A worker (process) comes back and takes it: ready again.
    delivery = api.app.state.intake.queue.get(1.0)
    assert delivery is not None
    assert api.client.get("/readyz").status_code == 200


def test_a_backlog_being_worked_is_not_reported_stuck(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy, delay_s=0.15), intake_workers=1, intake_lease_s=0.6
    )
    ids = [_submit(api, f"b{n}") for n in range(10)]  # 1.5 s of work: longer than a lease
    answers = []
    done = lambda: all(api.services.store.status(t) == "decided" for t in ids)  # noqa: E731
    while not done():
        answers.append(api.client.get("/readyz").status_code)
        time.sleep(0.05)
    assert wait_for(done, 30)
    assert len(answers) > 5 and set(answers) == {200}
