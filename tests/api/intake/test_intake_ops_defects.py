"""Operations of the intake: what health counts as waiting, concurrent replays of a dead letter."""

from __future__ import annotations

from api_support import Api
from intake_fakes import CuedEngine
from intake_samples import wait_for
from intake_support import IntakeFactory

from agent.policy import Policy


def _submit(api: Api, subject: str, external_id: str) -> str:
    body = {"subject": subject, "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _api_source(api: Api) -> dict[str, object]:
    ready = api.client.get("/readyz").json()
    return next(s for s in ready["sources"] if s["source"] == "api")


def test_dead_lettered_and_discarded_tickets_are_not_waiting(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=1)
    kept, dropped = _submit(api, "POISON one", "h1"), _submit(api, "POISON two", "h2")
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 2, 20)
    letters = {d.ticket_id: d.id for d in dead.list()}
    api.app.state.intake.actions.discard(letters[dropped], "ana", "test discard")
    source = _api_source(api)
    assert source["queue_depth"] == 0 and source["oldest_age_s"] is None
    detail = api.client.get("/readyz").json()["checks"]["intake"]["detail"]
    assert "queue 0/" in detail and "1 dead letters" in detail
    assert 'triage_intake_queue_depth{source="api"} 0.0' in api.client.get("/metrics").text
    assert [d.ticket_id for d in dead.list()] == [kept]


def test_a_failed_ticket_waiting_for_its_retry_is_still_waiting(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(
        engine=CuedEngine(example_policy), intake_max_attempts=3, intake_backoff_base_s=60
    )
    ticket_id = _submit(api, "POISON later", "w1")
    assert wait_for(lambda: api.services.store.status(ticket_id) == "failed", 20)
    source = _api_source(api)
    assert source["queue_depth"] == 1 and source["oldest_age_s"] is not None
