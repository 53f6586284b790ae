"""A queued ticket whose stored JSON no longer loads is dead-lettered once, with the reason."""

from __future__ import annotations

import time

from api_support import Api, wait_for
from intake_fakes import CuedEngine
from intake_support import IntakeFactory

from agent.policy import Policy
from api.tables import TicketRow

LEASE_S = 0.5


def _submit(api: Api, external_id: str) -> str:
    body = {"subject": "printer jams", "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _store_as(api: Api, ticket_id: str, **fields: object) -> None:
    """Rewrite the stored ticket's JSON (as an older or newer version may have stored it)."""
    with api.services.db.session() as session:
        row = session.get(TicketRow, ticket_id)
        row.payload = {**row.payload, **fields}


def test_a_stored_ticket_that_no_longer_loads_is_dead_lettered_not_redelivered(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), start=False, intake_lease_s=LEASE_S)
    intake = api.app.state.intake
    broken = _submit(api, "u1")
    fine = _submit(api, "u2")
    _store_as(api, broken, channel="fax")  # a channel this version no longer knows
    intake.start()
    assert wait_for(lambda: api.services.store.status(fine) == "decided", 20)
    assert wait_for(lambda: len(intake.dead_letters.list()) == 1, 20)
    (letter,) = intake.dead_letters.list()
    assert letter.ticket_id == broken and letter.attempts == 1
    assert "no longer loads" in letter.error and "channel" in letter.error
    assert wait_for(lambda: intake.queue.depth() == 0, 10)
    assert api.services.store.status(broken) == "failed"
    time.sleep(4 * LEASE_S)  # several leases: nothing is delivered again
    assert intake.records.get(broken).attempts == 1
    assert len(intake.dead_letters.list()) == 1
    # A reviewer sees what is stored, and a fix of the field makes it load and decide.
    shown = api.client.get(f"/v1/dead-letters/{letter.id}", headers=api.auth("reviewer"))
    assert shown.status_code == 200 and shown.json()["ticket"]["channel"] == "fax"
    replayed = api.client.post(
        f"/v1/dead-letters/{letter.id}/replay",
        json={"ticket": {"channel": "web"}},
        headers=api.auth("reviewer"),
    )
    assert replayed.status_code == 200, replayed.text
    assert wait_for(lambda: api.services.store.status(broken) == "decided", 20)
    assert api.services.store.ticket(broken).channel == "web"
