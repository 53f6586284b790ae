"""A ticket whose runs never finished (its workers killed mid-run) is a failure of its source."""

from __future__ import annotations

from api_support import Api
from intake_fakes import CuedEngine
from intake_support import IntakeFactory

from agent.policy import Policy


def _api_source(api: Api) -> dict[str, object]:
    ready = api.client.get("/readyz").json()
    return next(s for s in ready["sources"] if s["source"] == "api")


def test_giving_up_on_a_ticket_that_kept_killing_its_workers_counts_as_a_failure(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy), intake_workers=0, intake_max_attempts=2
    )
    body = {"subject": "printer jams", "body": "details", "external_id": "k1"}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    ticket_id = answer.json()["ticket_id"]
    intake = api.app.state.intake
    for _ in range(2):  # two runs whose worker was killed: started, never ended
        started = intake.records.start_attempt(ticket_id, 0.0)
        assert started is not None and started.owned
    delivery = intake.queue.get(1.0)
    assert delivery is not None
    assert intake.runner.handle(delivery) == "dead"
    source = _api_source(api)
    assert source["failed"] == 1 and source["consecutive_failures"] == 1
    assert "gave up after 2 attempts" in str(source["last_error"])
