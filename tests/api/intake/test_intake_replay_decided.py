"""A dead letter whose ticket was decided meanwhile is not triaged a second time by a replay."""

from __future__ import annotations

from api_support import wait_for
from intake_fakes import CuedEngine
from intake_support import IntakeFactory, decisions

from agent.policy import Policy


def test_replaying_a_letter_whose_ticket_was_decided_since_does_not_triage_it_again(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_max_attempts=2)
    body = {"subject": "FLAKY printer", "body": "details", "external_id": "d1"}
    body |= {"channel": "api", "language": "en"}  # as the intake stores it: the same ticket
    queued = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert queued.status_code == 202, queued.text
    ticket_id = queued.json()["ticket_id"]
    dead = api.app.state.intake.dead_letters
    assert wait_for(lambda: len(dead.list()) == 1, 20)
    letter = dead.list()[0].id
    # The sender sends the same ticket to the synchronous route: it runs again, and succeeds.
    again = api.client.post("/v1/triage", json=body, headers=api.auth("helpdesk"))
    assert again.status_code == 200, again.text
    assert again.json()["ticket_id"] == ticket_id
    assert api.services.store.status(ticket_id) == "decided" and decisions(api, ticket_id) == 1
    replay = api.client.post(f"/v1/dead-letters/{letter}/replay", headers=api.auth("reviewer"))
    assert replay.status_code == 409, replay.text
    assert "decided" in replay.json()["detail"]
    assert not wait_for(lambda: decisions(api, ticket_id) > 1, 2)
    assert api.services.store.status(ticket_id) == "decided"
