"""A run given up past TRIAGE_INTAKE_MAX_RUN_S on RabbitMQ: its ticket is retried or
dead-lettered on the broker too, while the hung thread still holds the delivery's connection."""

from __future__ import annotations

import pytest
from api_support import wait_for
from intake_fakes import CuedEngine
from intake_support import BROKER_URL, IntakeFactory, broker_up, decisions
from test_intake_max_run import HangingEnricher

from agent.policy import Policy

URL = BROKER_URL

pytestmark = pytest.mark.skipif(not broker_up(), reason="RabbitMQ not listening on 127.0.0.1:5672")


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_given_up_run_is_settled_on_the_broker_while_its_thread_still_hangs(
    make_intake_api: IntakeFactory, example_policy: Policy, queue_name: str, attempts: int
) -> None:
    hang = HangingEnricher(times=1)
    api = make_intake_api(
        engine=CuedEngine(example_policy),
        intake_queue="rabbitmq",
        broker_url=URL,
        broker_queue=queue_name,
        intake_workers=1,
        intake_max_attempts=attempts,
        intake_max_run_s=1.0,
        intake_lease_s=0.5,
    )
    api.services.service.enrichers.append(hang)
    intake = api.app.state.intake
    try:
        body = {"subject": "HANG printer", "body": "details", "external_id": f"g{attempts}"}
        answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
        assert answer.status_code == 202, answer.text
        ticket_id = answer.json()["ticket_id"]
        assert wait_for(lambda: hang.calls == 1, 10)
        if attempts == 1:  # the last attempt: dead-lettered, and gone from the broker
            assert wait_for(lambda: len(intake.dead_letters.list()) == 1, 10)
        else:  # retried: the stand-in worker triages it while the first run still hangs
            assert wait_for(lambda: api.services.store.status(ticket_id) == "decided", 20)
            assert hang.calls == 2
        assert wait_for(lambda: intake.queue.depth() == 0, 10), intake.queue.depth()
    finally:
        hang.released.set()
    assert wait_for(
        lambda: api.client.get("/readyz").json()["checks"]["intake"]["stuck_runs"] == [], 20
    )
    assert decisions(api, ticket_id) == (0 if attempts == 1 else 1)
    assert intake.queue.depth() == 0
