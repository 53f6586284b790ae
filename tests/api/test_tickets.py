"""Asynchronous intake: 202 at once, the decision follows; briefs as JSON or Markdown; 429."""

from __future__ import annotations

from api_support import TICKET_DB, Api, AppFactory
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from api.options import ServiceOptions
from api.tables import DecisionRow


def test_submitted_ticket_is_triaged_by_the_worker(api: Api) -> None:
    accepted = api.client.post("/v1/tickets", json=TICKET_DB, headers=api.auth("helpdesk"))
    assert accepted.status_code == 202
    ticket_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/v1/tickets/{ticket_id}"
    assert api.services.workers.join(30)
    view = api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("helpdesk")).json()
    assert view["status"] == "decided"
    assert view["decision"]["team"] == "database"
    assert view["ticket"]["subject"] == TICKET_DB["subject"]
    assert view["sla"]["resolution_due"] is not None


def test_resubmission_gets_the_same_id(api: Api) -> None:
    ticket = {**TICKET_DB, "external_id": "RT-77"}
    first = api.client.post("/v1/tickets", json=ticket, headers=api.auth("helpdesk")).json()
    again = api.client.post("/v1/tickets", json=ticket, headers=api.auth("helpdesk"))
    assert again.status_code == 202
    assert again.json()["id"] == first["id"]
    assert again.headers["idempotent-replayed"] == "true"


def test_brief_by_accept_header(api: Api) -> None:
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    url = f"/v1/tickets/{made['ticket_id']}/brief"
    as_json = api.client.get(url, headers=api.auth("specialist"))
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == made["brief"]
    as_md = api.client.get(url, headers={**api.auth("specialist"), "Accept": "text/markdown"})
    assert as_md.headers["content-type"].startswith("text/markdown")
    assert as_md.text.startswith("## ")
    assert "database" in as_md.text


def test_brief_before_the_decision_is_a_conflict(make_api: AppFactory) -> None:
    api = make_api(start_background=False)
    ticket_id = api.client.post("/v1/tickets", json=TICKET_DB, headers=api.auth("helpdesk")).json()[
        "id"
    ]
    early = api.client.get(f"/v1/tickets/{ticket_id}/brief", headers=api.auth("specialist"))
    assert early.status_code == 409
    assert (
        api.client.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).json()["status"]
        == "queued"
    )


def test_full_queue_answers_429_with_retry_after(make_api: AppFactory) -> None:
    api = make_api(start_background=False, queue_size=1)
    headers = api.auth("helpdesk")
    assert api.client.post("/v1/tickets", json=TICKET_DB, headers=headers).status_code == 202
    full = api.client.post("/v1/tickets", json={**TICKET_DB, "body": "second"}, headers=headers)
    assert full.status_code == 429
    assert int(full.headers["retry-after"]) >= 1
    # The refused ticket is not kept, so a later retry is a fresh submission.
    assert api.services.store.unfinished() and len(api.services.store.unfinished()) == 1


def test_a_backlog_larger_than_the_queue_is_triaged_once_after_a_restart(
    make_api: AppFactory,
) -> None:
    before = make_api(start_background=False, queue_size=10)
    headers = before.auth("helpdesk")
    ids = [
        before.client.post(
            "/v1/tickets", json={**TICKET_DB, "body": f"ORA-00600 again, case {i}"}, headers=headers
        ).json()["id"]
        for i in range(6)
    ]
    assert sorted(before.services.store.unfinished()) == sorted(ids)
    # A restart with a smaller queue: the six accepted tickets must not stop the start.
    app = create_app(before.services.settings, before.triager, ServiceOptions(queue_size=2))
    services = app.state.services
    with TestClient(app):
        assert services.workers.join(60)
    services.db.close()
    assert services.store.unfinished() == []
    with services.db.session() as session:
        decided = session.scalars(select(DecisionRow.ticket_id)).all()
    assert sorted(decided) == sorted(ids)


def test_brief_by_accept_header_weighs_q_values(api: Api) -> None:
    made = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    url = f"/v1/tickets/{made['ticket_id']}/brief"

    def kind(accept: str) -> str:
        answer = api.client.get(url, headers={**api.auth("specialist"), "Accept": accept})
        return str(answer.headers["content-type"]).split(";")[0]

    assert kind("application/json;q=0.1, text/markdown") == "text/markdown"
    assert kind("text/markdown;q=0.2, application/json;q=0.9") == "application/json"
    assert kind("text/markdown, application/json") == "text/markdown"
    assert kind("application/json, text/markdown") == "application/json"
    assert kind("text/markdown;q=0") == "application/json"
    assert kind("image/png") == "application/json"
