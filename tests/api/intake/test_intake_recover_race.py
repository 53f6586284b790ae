"""Start-up recovery on the embedded queue beside a live process admitting the same ticket."""

from __future__ import annotations

from api_support import Api
from intake_fakes import CuedEngine
from intake_support import IntakeFactory
from sqlalchemy import delete

from agent.policy import Policy
from api.intake.queue import QueueItem
from api.intake.recovery import recover
from api.intake.tables import QueueRow


def _submit(api: Api, subject: str, external_id: str) -> str:
    body = {"subject": subject, "body": "details", "external_id": external_id}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["ticket_id"])


def _unqueue(api: Api, ticket_id: str) -> None:
    """As a ticket is between its storing and its put (or was left there by a crash)."""
    with api.services.db.session() as session:
        session.execute(delete(QueueRow).where(QueueRow.ticket_id == ticket_id))


def test_recovery_passes_over_a_ticket_its_live_process_queued_meanwhile(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0)
    flow = api.app.state.intake.flow
    live, crashed = _submit(api, "printer jams", "s1"), _submit(api, "vpn drops", "s2")
    _unqueue(api, live)
    _unqueue(api, crashed)
    stranded = flow.records.stranded

    def put_lands_meanwhile() -> list[tuple[str, str, int]]:
        found = stranded()
        order = next(o for t, _, o in found if t == live)
        flow.queue.put(QueueItem(live, "api", order, False))  # the live process's own put
        return sorted(found, key=lambda row: row[0] != live)  # met first

    flow.records.stranded = put_lands_meanwhile
    # Queued once by its own process: passed over, not a start that fails; the next is queued.
    assert recover(flow) == 1
    assert flow.queue.depth() == 2


def test_a_ticket_a_starting_process_recovered_meanwhile_is_answered_queued(
    make_intake_api: IntakeFactory, example_policy: Policy
) -> None:
    api = make_intake_api(engine=CuedEngine(example_policy), intake_workers=0)
    queue = api.app.state.intake.queue
    put = queue.put

    def recovered_first(item: QueueItem, headroom: bool = False) -> None:
        put(item, headroom=True)  # another process starting now found it stored, unqueued
        put(item, headroom)

    queue.put = recovered_first
    body = {"subject": "printer jams", "body": "details", "external_id": "s3"}
    answer = api.client.post("/v1/intake/api", json=body, headers=api.auth("helpdesk"))
    queue.put = put
    # In the queue, once: the sender is told so, and the ticket is kept for its worker.
    assert answer.status_code == 202, answer.text
    ticket_id = answer.json()["ticket_id"]
    assert api.services.store.status(ticket_id) == "queued"
    assert queue.depth() == 1
