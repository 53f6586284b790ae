"""Asynchronous tickets: 202 at once, the decision follows; idempotent resends; briefs as JSON or
Markdown. The intake side of POST /v1/tickets (queue, dead letters, health) is tested in
tests/api/intake/test_intake_tickets.py."""

from __future__ import annotations

from api_support import TICKET_DB, Api, AppFactory, wait_for


def _status(api: Api, ticket_id: str) -> str:
    return str(api.services.store.status(ticket_id))


def test_submitted_ticket_is_triaged_by_the_worker(api: Api) -> None:
    accepted = api.client.post("/v1/tickets", json=TICKET_DB, headers=api.auth("helpdesk"))
    assert accepted.status_code == 202
    ticket_id = accepted.json()["id"]
    assert accepted.json() == {
        "id": ticket_id,
        "status": "queued",
        "url": f"/v1/tickets/{ticket_id}",
    }
    assert accepted.headers["location"] == f"/v1/tickets/{ticket_id}"
    assert "idempotent-replayed" not in accepted.headers
    assert wait_for(lambda: _status(api, ticket_id) == "decided", 30)
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


def test_an_idempotency_key_resend_answers_with_the_same_ticket(api: Api) -> None:
    headers = {**api.auth("helpdesk"), "Idempotency-Key": "order-9"}
    first = api.client.post("/v1/tickets", json=TICKET_DB, headers=headers)
    again = api.client.post("/v1/tickets", json=TICKET_DB, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == f"/v1/tickets/{first.json()['id']}"
    # The key is the caller's own: another key's "order-9" is another ticket.
    other = {**api.auth("helpdesk2"), "Idempotency-Key": "order-9"}
    theirs = api.client.post("/v1/tickets", json=TICKET_DB, headers=other)
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
    # Another body under the same key is a conflict, not a second ticket.
    changed = api.client.post("/v1/tickets", json={**TICKET_DB, "body": "other"}, headers=headers)
    assert changed.status_code == 409
    documented = api.client.get("/openapi.json").json()["paths"]["/v1/tickets"]["post"]
    assert {"202", "409", "422", "429"} <= set(documented["responses"])
    blank = api.client.post(
        "/v1/tickets", json=TICKET_DB, headers={**api.auth("helpdesk"), "Idempotency-Key": " "}
    )
    assert blank.status_code == 422 and "Idempotency-Key" in blank.json()["detail"]


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
