"""The SLA watch's writes of a ticket are no sign of life of the reviewer deciding it.

A reviewer's claim lives while its process writes the ticket's updated_at (api.review_claim).
An on-call page's outcome, a retried page and a decision's protocol replayed for a ticket
(a redelivered notice) write the ticket too: they must not keep a dead reviewer's claim alive,
or the ticket stays "being decided" by nobody for as long again after each of them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_support import Api, AppFactory, free_port, wait_for
from sqlalchemy import update

from agent.settings import EXAMPLES_DIR
from agent.triager import TriageResult
from api.tables import TicketRow, utcnow

EXAMPLE = (EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8")
OUTAGE = {"subject": "Outage EU", "body": "platform outage in the EU region"}
LEASE_S = 4.0


def _paged_api(make_api: AppFactory, backend: str, request: pytest.FixtureRequest) -> Api:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    api = make_api(url, adopt_after_s=LEASE_S, start_background=False)
    refusing = f"http://127.0.0.1:{free_port()}/page"  # every page fails at once
    policy = EXAMPLE.replace("\npriorities:\n", f"\npriorities:\n  oncall_webhook: {refusing}\n", 1)
    put = api.client.put("/v1/policy", json={"yaml": policy}, headers=api.auth("admin"))
    assert put.status_code == 200
    return api


def _events(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    with api.services.db.session() as session:
        return list(session.get(TicketRow, ticket_id).sla_events)


def _settled(api: Api, ticket_id: str, count: int) -> bool:
    events = _events(api, ticket_id)
    return len(events) == count and all(e.get("oncall") != "pending" for e in events)


def _claimed_by_a_dead_reviewer(api: Api, ticket_id: str) -> None:
    """The ticket is being decided by a reviewer whose process died a lease ago."""
    quiet_since = utcnow() - timedelta(seconds=api.services.service.claims.stale_after_s + 1)
    with api.services.db.session() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id == ticket_id)
            .values(status="deciding", claim_token="gone", updated_at=quiet_since)
        )


def _paged_ticket(api: Api) -> str:
    made = api.client.post("/v1/triage", json=OUTAGE, headers=api.auth("helpdesk")).json()
    assert made["priority"] == "P1" and "notify_oncall" in made["sla"]["actions"]
    ticket_id = str(made["ticket_id"])
    assert wait_for(lambda: _settled(api, ticket_id, 1), timeout=30)
    assert _events(api, ticket_id)[0]["oncall"] == "failed"
    return ticket_id


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_page_retried_and_its_outcome_leave_a_dead_reviewers_claim_free(
    make_api: AppFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    api = _paged_api(make_api, backend, request)
    ticket_id = _paged_ticket(api)
    _claimed_by_a_dead_reviewer(api, ticket_id)

    api.services.sla.check()  # retries the failed page and records its outcome

    [event] = _events(api, ticket_id)
    assert (event["oncall"], event["oncall_attempts"]) == ("failed", 2)
    # the claim is still as stale as its dead holder left it: the next reviewer takes it
    assert api.services.service.claims.claim(ticket_id) is not None


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_decisions_protocol_told_again_leaves_a_dead_reviewers_claim_free(
    make_api: AppFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    api = _paged_api(make_api, backend, request)
    ticket_id = _paged_ticket(api)
    _claimed_by_a_dead_reviewer(api, ticket_id)
    stored = api.services.store.output(ticket_id)
    result = TriageResult.model_validate(
        {"decision": {k: v for k, v in stored.items() if k != "brief"}, "brief": stored["brief"]}
    )

    # the decision's listeners told again (a redelivered notice): to the front, paged again
    api.services.sla.on_decision(ticket_id, api.services.store.ticket(ticket_id), result)

    assert wait_for(lambda: _settled(api, ticket_id, 2), timeout=30)
    assert _events(api, ticket_id)[1]["oncall"] == "failed"
    assert api.services.service.claims.claim(ticket_id) is not None
